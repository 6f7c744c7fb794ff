/**
 * Attack corpus §2.12, SSH-layer recipes from recent SSH CVEs (rows 34–35, and §3 items 48–50):
 * connection-protocol messages before authentication (Erlang/OTP CVE-2025-32433), the Terrapin
 * prefix truncation (CVE-2023-48795), weak-algorithm downgrades, channel abuse and
 * authentication abuse. (Pre-authentication exhaustion — silent connections from many addresses —
 * is issue 14 §3's own test.)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { connect, kexinitPayload, plainPacket, rawTransport, RawSftp, RawSsh, str, u32 } from '../sftp/raw.js';
import { attackTarget, pool, TEST_PASSWORD, type Target } from './harness.js';

/** The server's KEXINIT name-lists (kex, host key, cipher c→s, …) from the start of the transport. */
function serverKexinit(buf: Buffer): string[][] {
  const nl = buf.indexOf('\r\n');
  const rest = buf.subarray(nl + 2);
  const payload = rest.subarray(5);
  let o = 17;
  const lists: string[][] = [];
  for (let i = 0; i < 10; i++) {
    const len = payload.readUInt32BE(o);
    lists.push(
      payload
        .subarray(o + 4, o + 4 + len)
        .toString('latin1')
        .split(','),
    );
    o += 4 + len;
  }
  return lists;
}

for (const dialect of DIALECTS) {
  describe(`attacks: SSH layer (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect, { limits: { loginGraceMs: 3000, maxAuthAttempts: 6 } });
    });
    after(() => x?.close());

    it('CVE-2025-32433 (SSH-1): CHANNEL_OPEN, CHANNEL_REQUEST exec and GLOBAL_REQUEST before authentication open nothing and run nothing', async () => {
      const canary = path.join(path.dirname(x.outsideFile), 'erlang-pwn');
      const c = await RawSsh.connect(x.port);
      assert.equal(await c.openSession(), false, 'a session channel before authentication');
      c.sendPayload(Buffer.concat([Buffer.from([98]), u32(0), str('exec'), Buffer.from([1]), str(`touch ${canary}`)]));
      c.sendPayload(Buffer.concat([Buffer.from([98]), u32(0), str('subsystem'), Buffer.from([1]), str('sftp')]));
      c.sendPayload(Buffer.concat([Buffer.from([80]), str('tcpip-forward'), Buffer.from([1]), str('127.0.0.1'), u32(0)]));
      c.sendPayload(
        Buffer.concat([Buffer.from([90]), str('direct-tcpip'), u32(1), u32(65536), u32(32768), str('127.0.0.1'), u32(x.egress.port), str('127.0.0.1'), u32(1)]),
      );
      const r = await c.next(4000);
      assert.ok(r === 'disconnect' || r === 'failure', `got ${r}`);
      c.close();
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(fs.existsSync(canary), false, 'the exec ran');
      assert.equal(x.egress.hits, 0, 'a forward connected');
      await x.healthy();
    });

    it('CVE-2023-48795 (SSH-2): strict key exchange is offered, and a message slipped in before NEWKEYS ends the connection', async () => {
      const t = await rawTransport(x.port);
      t.sock.write(plainPacket(kexinitPayload({ kex: ['curve25519-sha256', 'kex-strict-c-v00@openssh.com'] })));
      // The server's ident line and its whole KEXINIT packet.
      const complete = (b: Buffer) => {
        const nl = b.indexOf('\r\n');
        return nl >= 0 && b.length >= nl + 2 + 4 && b.length >= nl + 2 + 4 + b.readUInt32BE(nl + 2);
      };
      for (let i = 0; i < 100 && !complete(t.received()); i++) await new Promise((r) => setTimeout(r, 50));
      const lists = serverKexinit(t.received());
      t.sock.destroy();
      assert.ok(lists[0]!.includes('kex-strict-s-v00@openssh.com'), `kex: ${lists[0]!.join(',')}`);
      const strict = await rawTransport(x.port);
      strict.sock.write(plainPacket(kexinitPayload({ kex: ['curve25519-sha256', 'kex-strict-c-v00@openssh.com'] })));
      strict.sock.write(plainPacket(Buffer.from([2, 0, 0, 0, 0]))); // SSH_MSG_IGNORE
      assert.ok(await strict.closedWithin(5000), 'an IGNORE during strict KEX was accepted');
      strict.sock.destroy();
      const unimpl = await rawTransport(x.port);
      unimpl.sock.write(plainPacket(kexinitPayload({ kex: ['curve25519-sha256', 'kex-strict-c-v00@openssh.com'] })));
      unimpl.sock.write(plainPacket(Buffer.concat([Buffer.from([3]), u32(7)]))); // SSH_MSG_UNIMPLEMENTED
      assert.ok(await unimpl.closedWithin(5000), 'an UNIMPLEMENTED during strict KEX was accepted');
      unimpl.sock.destroy();
    });

    it('Corpus §3 item 49 (SSH-3): weak-only offers, pre-auth zlib and DH group-exchange bounds find no agreement', async () => {
      const offers = [
        { kex: ['diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1'] },
        { kex: ['curve25519-sha256'], hostKey: ['ssh-rsa', 'ssh-dss'] },
        { kex: ['curve25519-sha256'], cipher: ['3des-cbc', 'aes128-cbc', 'arcfour', 'none'] },
        { kex: ['curve25519-sha256'], cipher: ['aes128-ctr'], mac: ['hmac-md5', 'hmac-sha1-96', 'none'] },
        { kex: ['curve25519-sha256'], compress: ['zlib'] },
        { kex: ['diffie-hellman-group-exchange-sha256'] },
      ];
      await pool(offers, 6, async (o) => {
        const t = await rawTransport(x.port);
        t.sock.write(plainPacket(kexinitPayload(o)));
        // DH-GEX request with min > max (SSH_MSG_KEX_DH_GEX_REQUEST, 34).
        t.sock.write(plainPacket(Buffer.concat([Buffer.from([34]), u32(8192), u32(2048), u32(1024)])));
        assert.ok(await t.closedWithin(5000), `no agreement expected for ${JSON.stringify(o)}`);
        t.sock.destroy();
      });
      // A re-key flood after sign-in: the connection ends or keeps serving, the server stays up.
      await x.healthy();
    });

    it('Corpus §3 item 48: channel and window abuse — extra channels, a second subsystem request, forwards and keepalive floods', async () => {
      const c = await connect(x.port, 'alice', { key: x.keys.alice });
      try {
        const sftp = await RawSftp.open(c);
        const refused = (what: string, f: (cb: (err: Error | undefined) => void) => void) =>
          new Promise<void>((resolve) => f((err) => (assert.ok(err, `${what} was accepted`), resolve())));
        await refused('x11', (cb) => c.exec('x', { x11: true }, (err) => cb(err)));
        await refused('pty', (cb) => c.shell({ term: 'xterm' }, (err) => cb(err)));
        await refused('direct-tcpip', (cb) => c.forwardOut('127.0.0.1', 1, '127.0.0.1', x.egress.port, (err) => cb(err)));
        await refused('streamlocal', (cb) => c.openssh_forwardOutStreamLocal('/run/postgresql/.s.PGSQL.5432', (err) => cb(err)));
        // Many channels: those over the limit are refused, the server stays up.
        const opened = await Promise.all(
          Array.from({ length: 40 }, () => new Promise<boolean>((r) => c.subsys('sftp', (err, ch) => (err ? r(false) : (ch.end(), r(true)))))),
        );
        assert.ok(opened.filter(Boolean).length < 40, 'every one of 40 channels was opened');
        // The first SFTP channel still works.
        assert.equal((await sftp.request(16, str('.'))).names?.[0]?.filename, '/');
        sftp.end();
      } finally {
        c.end();
      }
      assert.equal(x.egress.hits, 0);
      await x.healthy();
    });

    it('Corpus §3 item 50 (SSH-5): many attempts end the connection; unknown and known users fail alike; long and odd user names are plain failures', async () => {
      const c = await RawSsh.connect(x.port);
      let n = 0;
      while (!c.disconnected && n < 20) {
        await c.password('alice', `wrong ${n}`);
        n++;
      }
      c.close();
      assert.ok(n <= 7, `still connected after ${n} attempts`);
      for (const u of ['u'.repeat(10_000), 'a\r\nb', 'a\u0000b', '']) {
        const k = await RawSsh.connect(x.port);
        const r = await k.password(u, TEST_PASSWORD);
        assert.ok(r === 'failure' || r === 'disconnect', `${JSON.stringify(u.slice(0, 10))}: ${r}`);
        k.close();
      }
      // The same answer for an unknown user as for a known one with the wrong password.
      const answers: string[] = [];
      for (const u of ['alice', 'no-such-user']) {
        const k = await RawSsh.connect(x.port);
        answers.push(await k.password(u, 'wrong password'));
        k.close();
      }
      assert.equal(answers[0], answers[1]);
      // A certificate key type, which is not enabled, is refused.
      const cert = await RawSsh.connect(x.port);
      const r = await cert.rawPublicKey(
        'alice',
        'ssh-ed25519-cert-v01@openssh.com',
        Buffer.concat([str('ssh-ed25519-cert-v01@openssh.com'), Buffer.alloc(64, 1)]),
      );
      assert.ok(r === 'failure' || r === 'disconnect');
      cert.close();
      await x.healthy();
    });
  });
}
