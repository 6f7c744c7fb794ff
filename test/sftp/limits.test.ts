/**
 * The SFTP server's resource limits as a client meets them: connections per address beyond the
 * limit get a clear refusal (an SSH DISCONNECT with the reason, also as OpenSSH's sftp prints
 * it) while the connections already open keep working; channels per connection beyond the
 * limit are refused; handles per session beyond the limit answer an SFTP FAILURE status (for
 * files opened for reading and for writing) and leave nothing behind; oversized packets end the
 * session and what such clients send is not kept (the server's memory does not grow with it).
 * Limits are small here so that the test reaches them quickly. The database does not matter
 * (protocol behaviour), so this runs on SQLite.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import type ssh2 from 'ssh2';
import { blobCount, eventually } from '../http/helpers.js';
import { boxUser, serveSftp, sftpBatch, sshKeygen, type ClientKey, type SftpServed } from './helpers.js';
import { connect, FX, OPEN, RawSftp, str, T, u32, WRITE_NEW, type UserKey } from './raw.js';

async function* bytes(b: Buffer) {
  yield b;
}

/** Resolves with the error of a connection attempt that must fail (or rejects if it succeeds). */
async function refusal(port: number, user: string, key: UserKey): Promise<Error & { code?: unknown }> {
  try {
    const c = await connect(port, user, { key });
    c.end();
  } catch (e) {
    return e as Error & { code?: unknown };
  }
  throw new Error('the connection was not refused');
}

function subsys(c: ssh2.Client): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => c.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch))));
}

/** Forces a full garbage collection (the flag is set at run time: tests run without --expose-gc). */
function collect(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
}

const heldBytes = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
};

describe('sftp limits (sqlite)', () => {
  let s: SftpServed;
  let key: UserKey;
  let cliKey: ClientKey;
  const limits = { maxConnectionsPerIp: 3, maxSessionsPerConnection: 2, maxHandles: 4 };

  before(async () => {
    s = await serveSftp('sqlite', { limits });
    const { t } = s;
    key = await boxUser(s, 'lena');
    cliKey = await sshKeygen(s.dir, 'lena');
    await t.core.admin.keys.add(t.system, 'lena', cliKey.publicLine);
    await t.core.files.upload(t.system, '/box/hello.txt', bytes(Buffer.from('hello\n')));
  });
  after(async () => {
    await s?.close();
  });

  it('connections from one address beyond the limit are refused with a reason; open ones keep working', async () => {
    const open: RawSftp[] = [];
    for (let i = 0; i < limits.maxConnectionsPerIp; i++) open.push(await RawSftp.open(await connect(s.port, 'lena', { key })));

    // ssh2's client: an error carrying the DISCONNECT reason and code (12: too many connections).
    const e = await refusal(s.port, 'lena', key);
    assert.match(e.message, /too many connections from this address/);
    assert.equal(e.code, 12);
    // OpenSSH's sftp prints it too, and exits non-zero.
    const r = await sftpBatch(s, 'lena', cliKey, ['ls /box']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /too many connections from this address/);

    // The open connections were not disturbed: each still lists, reads and uploads.
    for (const [i, x] of open.entries()) {
      assert.equal((await x.request(T.STAT, str('/box/hello.txt'))).size, 6);
      const h = (await x.open(`/box/kept-${i}.txt`, WRITE_NEW)).handle!;
      assert.equal((await x.write(h, 0, Buffer.from(`kept ${i}`))).code, FX.OK);
      assert.equal((await x.close(h)).code, FX.OK);
    }
    for (let i = 0; i < open.length; i++) assert.equal((await s.t.core.files.stat(s.t.system, `/box/kept-${i}.txt`)).size, `kept ${i}`.length);

    // A freed slot can be used again.
    open.pop()!.end();
    await eventually(() => s.sftp.connections < limits.maxConnectionsPerIp, 5000, 'the closed connection is gone');
    const again = await RawSftp.open(await connect(s.port, 'lena', { key }));
    assert.equal((await again.request(T.STAT, str('/box/hello.txt'))).size, 6);
    again.end();
    for (const x of open) x.end();
    await eventually(() => s.sftp.connections === 0, 5000, 'all connections closed');
  });

  it('channels per connection beyond the limit are refused; the open ones keep working', async () => {
    await eventually(() => s.sftp.connections === 0, 5000, 'earlier connections closed');
    const c = await connect(s.port, 'lena', { key });
    const first = await RawSftp.open(c);
    const second = await RawSftp.open(c);
    await assert.rejects(subsys(c), /open failure|failed|refused/i);
    assert.equal((await first.request(T.STAT, str('/box/hello.txt'))).size, 6);
    assert.equal((await second.request(T.STAT, str('/box/hello.txt'))).size, 6);
    c.end();
    await eventually(() => s.sftp.connections === 0, 5000, 'connection closed');
  });

  it('handles beyond the per-session limit get an SFTP FAILURE status; the session and the upload slots recover', async () => {
    const c = await connect(s.port, 'lena', { key });
    const x = await RawSftp.open(c);
    const blobsBefore = blobCount(s.t);
    const held: Buffer[] = [];
    for (let i = 0; i < limits.maxHandles - 1; i++) held.push((await x.open(`/box/up-${i}.bin`, WRITE_NEW)).handle!);
    held.push((await x.open('/box/hello.txt', OPEN.READ)).handle!);

    // Over the limit, whichever kind: FAILURE with a message saying why, never a dropped session.
    for (const [what, reply] of [
      ['upload', await x.open('/box/over.bin', WRITE_NEW)],
      ['download', await x.open('/box/hello.txt', OPEN.READ)],
      ['folder', await x.request(T.OPENDIR, str('/box'))],
    ] as const) {
      assert.equal(reply.code, FX.FAILURE, what);
      assert.match(reply.message!, /too many open handles \(at most 4\)/, what);
    }
    await assert.rejects(s.t.core.files.stat(s.t.system, '/box/over.bin'), { code: 'NOT_FOUND' }, 'the refused upload left no file');

    // Every handle it holds still works, and closing one frees a slot.
    for (let i = 0; i < limits.maxHandles - 1; i++) assert.equal((await x.write(held[i]!, 0, Buffer.from(`up ${i}`))).code, FX.OK);
    assert.equal((await x.read(held[limits.maxHandles - 1]!, 0, 100)).data?.toString(), 'hello\n');
    for (const h of held) assert.equal((await x.close(h)).code, FX.OK);
    const h = (await x.open('/box/over.bin', WRITE_NEW)).handle!;
    assert.equal((await x.write(h, 0, Buffer.from('over'))).code, FX.OK);
    assert.equal((await x.close(h)).code, FX.OK);
    for (let i = 0; i < limits.maxHandles - 1; i++) assert.equal((await s.t.core.files.stat(s.t.system, `/box/up-${i}.bin`)).size, `up ${i}`.length);
    assert.equal((await s.t.core.files.stat(s.t.system, '/box/over.bin')).size, 'over'.length);
    // Small files are kept in the database: no blob file for any of them, and none left over.
    await eventually(() => blobCount(s.t) === blobsBefore, 5000, 'no blob file left over');
    x.end();
    await eventually(() => s.sftp.connections === 0, 5000, 'connection closed');
  });

  it('oversized packets end the session; what such clients send is not kept', async () => {
    // Control: a session that is flooded with a claimed 1 GiB packet is closed at once ...
    const c = await connect(s.port, 'lena', { key });
    const x = await RawSftp.open(c);
    x.raw(Buffer.concat([u32(1024 ** 3), Buffer.from([T.WRITE]), randomBytes(64 * 1024)]));
    await Promise.race([x.closedPromise, new Promise((_, j) => setTimeout(() => j(new Error('session still open')), 5000))]);
    // ... while the connection's other sessions and other connections carry on.
    const y = await RawSftp.open(c);
    assert.equal((await y.request(T.STAT, str('/box/hello.txt'))).size, 6);
    c.end();
    await eventually(() => s.sftp.connections === 0, 5000, 'connection closed');

    // Many such clients, each sending 4 MiB after a header over the limit: memory stays flat.
    // The first round is a warm-up (lazily built state of the client and the server); after it,
    // rounds of 6 sessions × 4 MiB must not add to what the process holds.
    const round = async () => {
      const conns = await Promise.all(Array.from({ length: 3 }, () => connect(s.port, 'lena', { key })));
      const sessions = await Promise.all(conns.flatMap((k) => [RawSftp.open(k), RawSftp.open(k)]));
      for (const r of sessions) {
        r.raw(Buffer.concat([u32(256 * 1024 + 1025), Buffer.from([T.WRITE])]));
        for (let i = 0; i < 16; i++) r.raw(randomBytes(256 * 1024));
      }
      await Promise.all(
        sessions.map((r) => Promise.race([r.closedPromise, new Promise((_, j) => setTimeout(() => j(new Error('session still open')), 10_000))])),
      );
      for (const k of conns) k.end();
      await eventually(() => s.sftp.connections === 0, 5000, 'connections closed');
      await new Promise((r) => setTimeout(r, 200));
      collect();
      return heldBytes();
    };
    const before = await round();
    let after = before;
    for (let i = 0; i < 5; i++) after = await round();
    const grown = after - before;
    // 5 × 24 MiB were sent; keeping even a fraction of it per session would show here.
    assert.ok(grown < 8 * 1024 * 1024, `memory grew by ${(grown / 1048576).toFixed(1)} MiB`);

    // The server is fine.
    const z = await RawSftp.open(await connect(s.port, 'lena', { key }));
    assert.equal((await z.request(T.STAT, str('/box/hello.txt'))).size, 6);
    z.end();
  });
});

describe('sftp write budgets across sessions (sqlite)', () => {
  let s: SftpServed;
  let key: UserKey;
  const KiB = 1024;
  before(async () => {
    s = await serveSftp('sqlite', { limits: { maxHeldWriteBytesTotal: 300 * KiB, maxPendingWriteBytesTotal: 256 * KiB } });
    key = await boxUser(s, 'mia');
  });
  after(async () => {
    await s?.close();
  });

  it('out-of-order writes beyond the server-wide bound fail that upload only, and their bytes are given back', async () => {
    const a = await RawSftp.open(await connect(s.port, 'mia', { key }));
    const b = await RawSftp.open(await connect(s.port, 'mia', { key }));
    try {
      const ha = (await a.open('/box/a.bin', WRITE_NEW)).handle!;
      const hb = (await b.open('/box/b.bin', WRITE_NEW)).handle!;
      const tail = randomBytes(200 * KiB);
      assert.equal((await a.write(ha, 1024 * KiB, tail)).code, FX.OK, 'held ahead of sequence');
      assert.equal(s.sftp.heldWriteBytes.outOfOrder, 200 * KiB);
      const refused = await b.write(hb, 1024 * KiB, randomBytes(200 * KiB));
      assert.equal(refused.code, FX.FAILURE);
      assert.match(refused.message!, /too many out-of-order writes/);
      assert.equal(s.sftp.heldWriteBytes.outOfOrder, 200 * KiB, 'the refused write holds nothing');
      // The other session's upload is whole once its gap is filled.
      const head = randomBytes(1024 * KiB);
      for (let o = 0; o < head.length; o += 128 * KiB) assert.equal((await a.write(ha, o, head.subarray(o, o + 128 * KiB))).code, FX.OK);
      assert.equal((await a.close(ha)).code, FX.OK);
      assert.notEqual((await b.close(hb)).code, FX.OK);
      const info = await s.t.core.files.stat(s.t.system, '/box/a.bin');
      assert.equal(info.sha256, createHash('sha256').update(head).update(tail).digest('hex'));
      await assert.rejects(s.t.core.files.stat(s.t.system, '/box/b.bin'), { code: 'NOT_FOUND' });
      assert.deepEqual(s.sftp.heldWriteBytes, { pending: 0, outOfOrder: 0 });
    } finally {
      a.end();
      b.end();
    }
  });

  it('sessions that together write more than the server-wide pending bound all finish, whole', async () => {
    const sessions = await Promise.all([0, 1, 2, 3].map(async () => RawSftp.open(await connect(s.port, 'mia', { key }))));
    try {
      const bodies = sessions.map(() => randomBytes(2 * 1024 * KiB));
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, s.sftp.heldWriteBytes.pending)), 1);
      await Promise.all(
        sessions.map(async (c, i) => {
          const h = (await c.open(`/box/many-${i}.bin`, WRITE_NEW)).handle!;
          // Every write sent at once (a pipelining client): the server pauses input while the budget is full.
          const replies = [];
          for (let o = 0; o < bodies[i]!.length; o += 64 * KiB) replies.push(c.write(h, o, bodies[i]!.subarray(o, o + 64 * KiB)));
          for (const r of await Promise.all(replies)) assert.equal(r.code, FX.OK);
          assert.equal((await c.close(h)).code, FX.OK);
        }),
      );
      clearInterval(sampler);
      for (const [i, body] of bodies.entries()) {
        const info = await s.t.core.files.stat(s.t.system, `/box/many-${i}.bin`);
        assert.equal(info.sha256, createHash('sha256').update(body).digest('hex'));
      }
      // Less than one packet over the bound: sessions check it before each packet, one at a time
      // (without the server-wide bound, four sessions here held 512 KiB).
      assert.ok(peak > 0 && peak < 256 * KiB + 64 * KiB, `pending bytes peaked at ${peak}`);
      assert.deepEqual(s.sftp.heldWriteBytes, { pending: 0, outOfOrder: 0 });
    } finally {
      for (const c of sessions) c.end();
    }
  });
});
