/**
 * Unauthenticated connections cannot keep a partner from signing in (issue 14 §3): hundreds of
 * silent and banner-only connections from many addresses (loopback 127.0.0.2 … 127.0.0.61) hold
 * no pre-auth slot, so a partner's key sign-in still completes within 2 s; each phase has its own
 * deadline (banner, key exchange, login grace — the whole grace from the end of the key exchange);
 * random early drop as sshd's MaxStartups; penalties per address as sshd's PerSourcePenalties.
 * Deadlines are short here so that the test reaches them quickly; bounds are generous.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { DIALECTS } from '../helpers/dialects.js';
import { eventually } from '../http/helpers.js';
import { parsePenalties, type PenaltyPolicy } from '../../src/config/preauth.js';
import { earlyDrop } from '../../src/protocols/sftp/admission.js';
import { boxUser, serveSftp, type SftpServed } from './helpers.js';
import { FX, RawSftp, str, T, userKey, type UserKey } from './raw.js';

const policy = (s: string, exempt = '') => parsePenalties(s, exempt) as PenaltyPolicy;

/** Signs in with ssh2 from `localAddress`, opens SFTP and stats a file; resolves with the time taken. */
async function signIn(port: number, user: string, key: UserKey, localAddress = '127.0.0.1', authDelayMs = 0): Promise<number> {
  const t0 = Date.now();
  let tried = false;
  const c = await new Promise<ssh2.Client>((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error('closed before sign-in')));
    c.connect({
      host: '127.0.0.1',
      port,
      localAddress,
      username: user,
      readyTimeout: 20_000,
      // One key, once (after `authDelayMs`): a refusal ends the attempt.
      authHandler: (_left: unknown, _partial: unknown, next: (m: unknown) => void) => {
        if (tried) return next(false);
        tried = true;
        setTimeout(() => next({ type: 'publickey', username: user, key: key.privateKey }), authDelayMs);
      },
    } as ssh2.ConnectConfig);
  });
  try {
    const x = await RawSftp.open(c);
    assert.equal((await x.request(T.STAT, str('/box'))).type, 105, 'STAT answered with ATTRS');
    return Date.now() - t0;
  } finally {
    c.end();
  }
}

/** The error of a sign-in that must be refused. */
async function refused(port: number, user: string, key: UserKey, localAddress: string): Promise<Error> {
  try {
    await signIn(port, user, key, localAddress);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`a sign-in from ${localAddress} was not refused`);
}

interface Peer {
  readonly sock: net.Socket;
  /** Resolves with the time from connecting to the server closing it. */
  readonly closed: Promise<number>;
  /** What the server sent. */
  readonly received: () => Buffer;
}

/** A TCP connection from `localAddress` that sends `hello` (nothing, a banner, or a banner and a KEXINIT) and then nothing. */
function peer(port: number, localAddress: string, hello: 'silent' | 'banner' | 'kexinit'): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    const t0 = Date.now();
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    sock.on('error', () => undefined);
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    sock.once('error', reject);
    sock.once('connect', () => {
      if (hello !== 'silent') sock.write('SSH-2.0-Idle_1.0\r\n');
      if (hello === 'kexinit') sock.write(plainKexinit());
      resolve({ sock, closed, received: () => got });
    });
  });
}

/** A minimal unencrypted KEXINIT packet (curve25519, AES-GCM). */
function plainKexinit(): Buffer {
  const l = (s: string) => str(s);
  const payload = Buffer.concat([
    Buffer.from([20]),
    randomBytes(16),
    l('curve25519-sha256'),
    l('ssh-ed25519'),
    l('aes128-gcm@openssh.com'),
    l('aes128-gcm@openssh.com'),
    l('hmac-sha2-256-etm@openssh.com'),
    l('hmac-sha2-256-etm@openssh.com'),
    l('none'),
    l('none'),
    l(''),
    l(''),
    Buffer.from([0, 0, 0, 0, 0]),
  ]);
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const b = Buffer.alloc(5 + payload.length + pad);
  b.writeUInt32BE(1 + payload.length + pad, 0);
  b[4] = pad;
  payload.copy(b, 5);
  return b;
}

/** Whether the server's KEXINIT arrived (the connection was admitted to the key exchange). */
const sawKexinit = (p: Peer) => {
  const b = p.received();
  const nl = b.indexOf('\n');
  return nl > 0 && b.length >= nl + 6 && b[nl + 6] === 20;
};
/** Whether the server sent a DISCONNECT saying `text`. */
const sawDisconnect = (p: Peer, text: RegExp) => text.test(p.received().toString('latin1'));

const within = async (p: Promise<number>, ms: number, what: string) =>
  Promise.race([p, new Promise<number>((_, j) => setTimeout(() => j(new Error(`${what}: still open after ${ms} ms`)), ms))]);

describe('MaxStartups random early drop (unit)', () => {
  it('drops nothing below start, with rate % at start rising to 100 % at full', () => {
    const m = { start: 10, rate: 30, full: 20 };
    assert.equal(
      earlyDrop(9, m, () => 0),
      false,
    );
    assert.equal(
      earlyDrop(10, m, () => 29),
      true,
    );
    assert.equal(
      earlyDrop(10, m, () => 30),
      false,
    );
    assert.equal(
      earlyDrop(15, m, () => 64),
      true,
    );
    assert.equal(
      earlyDrop(15, m, () => 65),
      false,
    );
    assert.equal(
      earlyDrop(20, m, () => 99),
      true,
    );
  });
});

for (const dialect of DIALECTS) {
  describe(`sftp before sign-in: exhaustion, deadlines, early drop, penalties (${dialect})`, () => {
    let s: SftpServed;
    let key: UserKey;

    before(async () => {
      s = await serveSftp(dialect, {
        limits: {
          bannerTimeoutMs: 1500,
          kexTimeoutMs: 2500,
          loginGraceMs: 3000,
          penalties: policy('authfail:5s noauth:1s grace-exceeded:10s max:1m min:15s', '127.0.0.70'),
        },
      });
      key = await boxUser(s, 'lena');
    });
    after(async () => {
      await s?.close();
    });

    it('300 silent and banner-only connections from 60 addresses: a partner still signs in within 2 s; they are cut at their deadlines and their addresses penalised', async () => {
      const peers: Peer[] = [];
      for (let a = 0; a < 60; a++) {
        const from = `127.0.0.${a + 2}`;
        for (let i = 0; i < 5; i++) peers.push(await peer(s.port, from, a < 30 ? 'silent' : 'banner'));
      }
      await eventually(() => s.sftp.connections >= 300, 10_000, 'all 300 connections counted');
      for (let i = 0; i < 3; i++) {
        const ms = await signIn(s.port, 'lena', key);
        assert.ok(ms < 2000, `the partner's sign-in took ${ms} ms`);
      }
      // Every silent one gets our banner; none of them is admitted to a key exchange.
      assert.ok(peers.every((p) => p.received().toString('latin1').startsWith('SSH-2.0-Sluice\r\n')));
      assert.ok(!peers.some(sawKexinit), 'no peer without a KEXINIT was admitted to the key exchange');
      const silent = await Promise.all(peers.slice(0, 150).map((p) => within(p.closed, 8000, 'a silent connection')));
      const banner = await Promise.all(peers.slice(150).map((p) => within(p.closed, 10_000, 'a banner-only connection')));
      // The banner deadline cuts the silent ones; the banner-only ones get the key-exchange deadline after it.
      assert.ok(Math.max(...silent) < 4000, `a silent connection lived ${Math.max(...silent)} ms (banner deadline 1.5 s)`);
      assert.ok(Math.min(...banner) >= 2400, `a banner-only connection was cut after ${Math.min(...banner)} ms (deadlines 1.5 s + 2.5 s)`);
      // Five missed deadlines each (5 × 10 s ≥ 15 s): those addresses are refused for a while.
      for (const from of ['127.0.0.2', '127.0.0.45']) assert.match((await refused(s.port, 'lena', key, from)).message, /try again later/);
      assert.ok((await signIn(s.port, 'lena', key)) < 2000, 'the partner is not affected');
    });

    it('an admitted connection gets its whole login grace, counted from the end of the key exchange', async () => {
      // Waiting 1 s before the banner and 2.2 s before authenticating: 3.2 s after connecting, more
      // than the 3 s grace; the grace starts only once the key exchange is done.
      const sock = net.connect({ port: s.port, host: '127.0.0.1', localAddress: '127.0.0.71' });
      await new Promise((r) => sock.once('connect', r));
      await new Promise((r) => setTimeout(r, 1000));
      const c = new ssh2.Client();
      const ready = new Promise<void>((resolve, reject) => {
        c.once('ready', resolve);
        c.once('error', reject);
      });
      c.connect({
        sock,
        username: 'lena',
        authHandler: (_l: unknown, _p: unknown, next: (m: unknown) => void) =>
          void setTimeout(() => next({ type: 'publickey', username: 'lena', key: key.privateKey }), 2200),
      } as ssh2.ConnectConfig);
      await ready;
      c.end();
      // Control: authenticating later than the grace is cut.
      await assert.rejects(signIn(s.port, 'lena', key, '127.0.0.72', 4500), /closed before sign-in|timed out|reset|ended/i);
    });

    it('connections in key exchange beyond MaxStartups are dropped at random, never more than full; a silent or banner-only crowd takes no slot', async () => {
      const m = await serveSftp(dialect, { limits: { maxStartups: { start: 2, rate: 50, full: 6 }, maxPreAuthPerIp: 100, kexTimeoutMs: 8000 } });
      try {
        // A crowd that sent nothing or only a banner: no slot.
        const crowd = await Promise.all(Array.from({ length: 20 }, (_, i) => peer(m.port, '127.0.0.80', i % 2 ? 'silent' : 'banner')));
        const stuck: Peer[] = [];
        for (let i = 0; i < 40; i++) stuck.push(await peer(m.port, `127.0.0.${81 + (i % 10)}`, 'kexinit'));
        await eventually(() => stuck.every((p) => sawKexinit(p) || p.sock.destroyed || p.received().length > 30), 5000, 'every KEXINIT answered');
        await new Promise((r) => setTimeout(r, 300));
        const admitted = stuck.filter(sawKexinit).length;
        const dropped = stuck.filter((p) => sawDisconnect(p, /too many connections are signing in/)).length;
        assert.ok(admitted > 2 && admitted <= 6, `${admitted} admitted (start 2, full 6)`);
        assert.equal(admitted + dropped, 40, 'every other one was dropped with a reason');
        for (const p of [...crowd, ...stuck]) p.sock.destroy();
        await eventually(() => m.sftp.connections === 0, 5000, 'all closed');
        // With the slots free again, a partner signs in.
        const k = await boxUser(m, 'nils');
        assert.ok((await signIn(m.port, 'nils', k)) < 2000);
      } finally {
        await m.close();
      }
    });

    it('penalties: failed sign-ins from one address refuse it for a while, not others; exempt addresses are never refused', async () => {
      const p = await serveSftp(dialect, { limits: { penalties: policy('authfail:1500ms noauth:1ms min:2500ms max:5s', '127.0.0.99') } });
      try {
        const k = await boxUser(p, 'ole');
        const wrong = userKey();
        for (const from of ['127.0.0.98', '127.0.0.99'])
          for (let i = 0; i < 2; i++) await assert.rejects(signIn(p.port, 'ole', wrong, from), /authentication methods failed/);
        const e = await refused(p.port, 'ole', k, '127.0.0.98');
        assert.match(e.message, /too many failed or unfinished connections from this address; try again later/);
        assert.ok((await signIn(p.port, 'ole', k, '127.0.0.99')) < 2000, 'the exempt address is not refused');
        assert.ok((await signIn(p.port, 'ole', k, '127.0.0.97')) < 2000, 'another address is not refused');
        // The penalty runs out.
        await eventually(
          async () =>
            signIn(p.port, 'ole', k, '127.0.0.98').then(
              () => true,
              () => false,
            ),
          10_000,
          'the penalised address is admitted again',
        );
      } finally {
        await p.close();
      }
    });

    it('an SFTP session still works end to end after all this', async () => {
      const c = await new Promise<ssh2.Client>((resolve, reject) => {
        const c = new ssh2.Client();
        c.once('ready', () => resolve(c));
        c.once('error', reject);
        c.connect({ host: '127.0.0.1', port: s.port, username: 'lena', privateKey: key.privateKey });
      });
      const x = await RawSftp.open(c);
      const h = (await x.open('/box/after.txt', 2 | 8 | 16)).handle!;
      assert.equal((await x.write(h, 0, Buffer.from('ok'))).code, FX.OK);
      assert.equal((await x.close(h)).code, FX.OK);
      x.end();
    });
  });
}
