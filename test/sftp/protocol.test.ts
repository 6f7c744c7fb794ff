/**
 * The SSH transport and the SFTP protocol as a hostile or unusual client drives them: what the
 * server offers in its KEXINIT (modern algorithms, strict KEX), weak-only offers, refused channel
 * types, malformed and oversized SFTP packets, handle abuse, floods of requests, out-of-order
 * writes, reads at any offset, disconnects mid-upload. The database does not matter here (the
 * authentication suite runs on both dialects), so this runs on SQLite.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type ssh2 from 'ssh2';
import { blobCount, eventually, ledger } from '../http/helpers.js';
import { boxUser, serveSftp, type SftpServed } from './helpers.js';
import { connect, FX, kexinitPayload as kexinit, OPEN, plainPacket, R, RawSftp, str, T, u32, u64, WRITE_NEW, type UserKey } from './raw.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
async function* bytes(b: Buffer) {
  yield b;
}

// --- raw SSH transport ------------------------------------------------------------------------

function nameList(b: Buffer, off: number): [string[], number] {
  const len = b.readUInt32BE(off);
  return [
    b
      .subarray(off + 4, off + 4 + len)
      .toString('latin1')
      .split(',')
      .filter(Boolean),
    off + 4 + len,
  ];
}

interface Transport {
  ident: string;
  kexinit: { kex: string[]; hostKey: string[]; cipher: string[]; mac: string[]; compress: string[] };
  /** Resolves when the server closes the connection (with the time it took). */
  closed: Promise<number>;
  sock: net.Socket;
}

/**
 * Connects, sends our ident and then `after`'s bytes (by default a KEXINIT: the server answers with
 * its own only once the client's key exchange began), and parses the server's ident and KEXINIT.
 */
async function transport(port: number, after?: (sock: net.Socket) => void): Promise<Transport> {
  const sock = net.connect(port, '127.0.0.1');
  const t0 = Date.now();
  const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
  sock.on('error', () => undefined);
  let buf = Buffer.alloc(0);
  sock.write('SSH-2.0-RawTransport_1.0\r\n');
  (after ?? ((k) => k.write(plainPacket(kexinit({ kex: ['curve25519-sha256'] })))))(sock);
  return new Promise((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const ident = buf.subarray(0, nl).toString('latin1');
      const rest = buf.subarray(nl + 2);
      if (rest.length < 5) return;
      const len = rest.readUInt32BE(0);
      if (rest.length < 4 + len) return;
      const payload = rest.subarray(5, 4 + len - rest[4]!);
      if (payload[0] !== 20) return reject(new Error(`expected KEXINIT, got ${payload[0]}`));
      let o = 17;
      const lists: string[][] = [];
      for (let i = 0; i < 10; i++) {
        const [v, n] = nameList(payload, o);
        lists.push(v);
        o = n;
      }
      sock.removeAllListeners('data');
      sock.on('data', () => undefined);
      resolve({ ident, kexinit: { kex: lists[0]!, hostKey: lists[1]!, cipher: lists[2]!, mac: lists[4]!, compress: lists[6]! }, closed, sock });
    });
    sock.once('close', () => reject(new Error('closed before KEXINIT')));
  });
}

describe('sftp protocol and transport (sqlite)', () => {
  let s: SftpServed;
  let key: UserKey;
  let client: ssh2.Client;
  let sftp: RawSftp;
  const limits = { maxHandles: 16, listPage: 50, readdirBatch: 20, maxHeldWriteBytes: 1024 * 1024 };

  before(async () => {
    s = await serveSftp('sqlite', { limits });
    key = await boxUser(s, 'dora');
    client = await connect(s.port, 'dora', { key });
    sftp = await RawSftp.open(client);
  });
  after(async () => {
    sftp?.end();
    await s?.close();
  });

  it('offers modern algorithms only, with strict key exchange (Terrapin)', async () => {
    const t = await transport(s.port);
    t.sock.destroy();
    assert.equal(t.ident, 'SSH-2.0-Sluice');
    assert.deepEqual(t.kexinit.kex, [
      'curve25519-sha256',
      'curve25519-sha256@libssh.org',
      'diffie-hellman-group18-sha512',
      'diffie-hellman-group16-sha512',
      'kex-strict-s-v00@openssh.com',
    ]);
    assert.deepEqual(t.kexinit.hostKey, ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256']);
    assert.deepEqual(t.kexinit.cipher, ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr', 'aes256-ctr']);
    assert.deepEqual(t.kexinit.mac, ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com']);
    assert.deepEqual(t.kexinit.compress, ['none']);
  });

  it('refuses weak-only offers (SSH-3): no agreement, the connection is closed', async () => {
    const offers = [
      { kex: ['diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1'] },
      { kex: ['curve25519-sha256'], hostKey: ['ssh-rsa', 'ssh-dss'] },
      { kex: ['curve25519-sha256'], cipher: ['3des-cbc', 'aes128-cbc', 'arcfour', 'none'] },
      // AES-CTR only with encrypt-then-MAC.
      { kex: ['curve25519-sha256'], cipher: ['aes128-ctr', 'aes256-ctr'], mac: ['hmac-sha2-256', 'hmac-sha2-512'] },
      { kex: ['curve25519-sha256'], cipher: ['aes128-ctr'], mac: ['hmac-md5', 'hmac-sha1-96', 'hmac-sha1', 'none'] },
      { kex: ['curve25519-sha256'], compress: ['zlib'] },
    ];
    for (const o of offers) {
      const t = await transport(s.port, (sock) => sock.write(plainPacket(kexinit(o))));
      const ms = await Promise.race([t.closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
      t.sock.destroy();
      assert.ok(ms >= 0, `connection still open after a weak-only offer ${JSON.stringify(o)}`);
    }
  });

  it('strict KEX: a message slipped in before NEWKEYS ends the connection', async () => {
    const strict = await transport(s.port, (sock) => {
      sock.write(plainPacket(kexinit({ kex: ['curve25519-sha256', 'kex-strict-c-v00@openssh.com'] })));
      sock.write(plainPacket(Buffer.from([2, 0, 0, 0, 0]))); // SSH_MSG_IGNORE
    });
    const ms = await Promise.race([strict.closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    strict.sock.destroy();
    assert.ok(ms >= 0, 'the server kept the connection after an IGNORE during strict KEX');
    // Control: the same without strict KEX is tolerated (so the test above tests strictness).
    const loose = await transport(s.port, (sock) => {
      sock.write(plainPacket(kexinit({ kex: ['curve25519-sha256'] })));
      sock.write(plainPacket(Buffer.from([2, 0, 0, 0, 0])));
    });
    const ms2 = await Promise.race([loose.closed, new Promise<number>((r) => setTimeout(() => r(-1), 1000))]);
    loose.sock.destroy();
    assert.equal(ms2, -1, 'without strict KEX an IGNORE is legal');
  });

  it('refuses shell, exec, pty, env, X11, agent, port forwarding and other subsystems', async () => {
    const c = await connect(s.port, 'dora', { key });
    try {
      const refused = (what: string, f: (cb: (err: Error | undefined) => void) => void) =>
        new Promise<void>((resolve) => f((err) => (assert.ok(err, `${what} was accepted`), resolve())));
      await refused('shell', (cb) => c.shell((err) => cb(err)));
      await refused('exec', (cb) => c.exec('id', (err) => cb(err)));
      await refused('exec scp', (cb) => c.exec('scp -t /', (err) => cb(err)));
      await refused('pty + shell', (cb) => c.shell({ term: 'xterm' }, (err) => cb(err)));
      await refused('x11 + exec', (cb) => c.exec('id', { x11: true }, (err) => cb(err)));
      await refused('env + exec', (cb) => c.exec('id', { env: { LD_PRELOAD: '/tmp/x.so' } }, (err) => cb(err)));
      await refused('agent forwarding', (cb) => c.exec('id', { agentForward: true } as never, (err) => cb(err)));
      await refused('subsystem other than sftp', (cb) => c.subsys('netconf', (err) => cb(err)));
      await refused('direct-tcpip', (cb) => c.forwardOut('127.0.0.1', 1, '127.0.0.1', 22, (err) => cb(err)));
      await refused('tcpip-forward', (cb) => c.forwardIn('127.0.0.1', 0, (err) => cb(err)));
      await refused('streamlocal', (cb) => c.openssh_forwardOutStreamLocal('/run/x.sock', (err) => cb(err)));
      // The connection still works for SFTP.
      const ok = await RawSftp.open(c);
      assert.equal((await ok.request(T.REALPATH, str('.'))).names?.[0]?.filename, '/');
    } finally {
      c.end();
    }
  });

  it('announces the OpenSSH extensions and answers limits@openssh.com', async () => {
    const c = await connect(s.port, 'dora', { key });
    const raw = await RawSftp.open(c, false);
    const v = await raw.init();
    assert.deepEqual(RawSftp.extensions(v), {
      'posix-rename@openssh.com': '1',
      'statvfs@openssh.com': '2',
      'fsync@openssh.com': '1',
      'limits@openssh.com': '1',
    });
    const lim = await raw.extended('limits@openssh.com');
    assert.equal(lim.type, R.EXTENDED_REPLY);
    const vals = [0, 8, 16, 24].map((o) => Number(lim.body.readBigUInt64BE(o)));
    assert.deepEqual(vals, [256 * 1024, 255 * 1024, 255 * 1024, limits.maxHandles]);
    const vfs = await raw.extended('statvfs@openssh.com', str('/box'));
    assert.equal(vfs.type, R.EXTENDED_REPLY);
    assert.equal(Number(vfs.body.readBigUInt64BE(80)), 255, 'f_namemax');
    assert.equal((await raw.extended('statvfs@openssh.com', str('/nowhere'))).code, FX.NO_SUCH_FILE);
    for (const name of ['hardlink@openssh.com', 'copy-data', 'home-directory', 'expand-path@openssh.com', 'users-groups-by-id@openssh.com', 'x'.repeat(5000)]) {
      assert.equal((await raw.extended(name, str('/box'), str('/box/y'))).code, FX.OP_UNSUPPORTED, name.slice(0, 40));
    }
    raw.end();
  });

  it('malformed SFTP streams end the session, never the server', async () => {
    const cases: [string, (r: RawSftp) => void][] = [
      ['a request before INIT', (r) => r.raw(Buffer.concat([u32(9), Buffer.from([T.STAT]), u32(1), u32(0)]))],
      ['a packet of length 0', (r) => r.raw(u32(0))],
      ['a packet over 256 KiB', (r) => r.raw(Buffer.concat([u32(300 * 1024), Buffer.alloc(1024)]))],
      ['a packet length of 0xFFFFFFFF', (r) => r.raw(u32(0xffffffff))],
      ['INIT twice', (r) => (r.raw(Buffer.concat([u32(5), Buffer.from([T.INIT]), u32(3)])), r.raw(Buffer.concat([u32(5), Buffer.from([T.INIT]), u32(3)])))],
    ];
    for (const [what, send] of cases) {
      const c = await connect(s.port, 'dora', { key });
      const r = await RawSftp.open(c, false);
      send(r);
      await Promise.race([r.closedPromise, new Promise((_, j) => setTimeout(() => j(new Error(`${what}: session still open`)), 5000))]);
      c.end();
    }
    // Truncated fields and strings longer than the packet: BAD_MESSAGE, the session lives on.
    assert.equal((await sftp.request(T.STAT, u32(1000), Buffer.from('ab'))).code, FX.BAD_MESSAGE);
    const dir = (await sftp.request(T.OPENDIR, str('/box'))).handle!;
    assert.equal((await sftp.request(T.READ, str(dir), Buffer.alloc(3))).code, FX.BAD_MESSAGE, 'offset cut short');
    await sftp.close(dir);
    assert.equal((await sftp.request(T.OPEN, str('/box/x'), u32(1), u32(0x0000000f))).code, FX.BAD_MESSAGE, 'attrs flags with no data');
    assert.equal((await sftp.request(99)).code, FX.OP_UNSUPPORTED, 'unknown request type');
    assert.equal((await sftp.request(T.REALPATH, str('/box'))).names?.[0]?.filename, '/box');
  });

  it('handles: unknown, oversized, closed twice, too many', async () => {
    assert.equal((await sftp.read(Buffer.from('nope'), 0, 10)).code, FX.FAILURE);
    assert.equal((await sftp.read(Buffer.alloc(8192, 1), 0, 10)).code, FX.FAILURE);
    const h = await sftp.request(T.OPENDIR, str('/box'));
    assert.equal((await sftp.close(h.handle!)).code, FX.OK);
    assert.equal((await sftp.close(h.handle!)).code, FX.FAILURE);
    const handles: Buffer[] = [];
    for (let i = 0; i < limits.maxHandles; i++) handles.push((await sftp.request(T.OPENDIR, str('/box'))).handle!);
    const over = await sftp.request(T.OPENDIR, str('/box'));
    assert.equal(over.code, FX.FAILURE);
    assert.match(over.message!, /too many open handles/);
    for (const x of handles) await sftp.close(x);
  });

  it('many outstanding requests are all answered, with input paused rather than buffered', async () => {
    const c = await connect(s.port, 'dora', { key });
    const r = await RawSftp.open(c);
    const replies = await Promise.all(Array.from({ length: 20_000 }, (_, i) => r.request(i % 2 ? T.REALPATH : T.STAT, str('/box'))));
    assert.equal(replies.length, 20_000);
    assert.ok(replies.every((x) => x.type === R.NAME || x.type === R.ATTRS));
    // READ with len 0xFFFFFFFF: capped at the advertised maximum.
    const data = randomBytes(600 * 1024);
    await s.t.core.files.upload(s.t.system, '/box/big', bytes(data));
    const h = (await r.open('/box/big', OPEN.READ)).handle!;
    const d = await r.read(h, 0, 0xffffffff);
    assert.equal(d.data!.length, 255 * 1024);
    r.end();
  });

  it('uploads: writes out of order are put in sequence; the file appears at CLOSE', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 333);
    const chunk = 32 * 1024;
    const h = (await sftp.open('/box/shuffled.bin', WRITE_NEW)).handle!;
    const offsets = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => i * chunk);
    // Shuffle within windows of 16 chunks (what pipelining clients do), all sent at once.
    for (let i = 0; i < offsets.length; i += 16) {
      const w = offsets.slice(i, i + 16).reverse();
      offsets.splice(i, w.length, ...w);
    }
    const acks = await Promise.all(offsets.map((o) => sftp.write(h, o, data.subarray(o, o + chunk))));
    assert.ok(
      acks.every((a) => a.code === FX.OK),
      acks.find((a) => a.code !== FX.OK)?.message,
    );
    await assert.rejects(s.t.core.files.stat(s.t.system, '/box/shuffled.bin'), { code: 'NOT_FOUND' }, 'not visible before CLOSE');
    const fstat = await sftp.request(T.FSTAT, str(h));
    assert.equal(fstat.size, data.length);
    assert.equal((await sftp.close(h)).code, FX.OK);
    const info = await s.t.core.files.stat(s.t.system, '/box/shuffled.bin');
    assert.equal(info.sha256, sha(data));
  });

  it('uploads: a gap at CLOSE, bytes rewritten, or writes too far ahead fail and leave nothing', async () => {
    const blobsBefore = blobCount(s.t);
    const gap = (await sftp.open('/box/gap.bin', WRITE_NEW)).handle!;
    assert.equal((await sftp.write(gap, 0, Buffer.alloc(100))).code, FX.OK);
    assert.equal((await sftp.write(gap, 200, Buffer.alloc(100))).code, FX.OK);
    const closed = await sftp.close(gap);
    assert.equal(closed.code, FX.FAILURE);
    assert.match(closed.message!, /incomplete.*offset 100/);

    const rewrite = (await sftp.open('/box/rewrite.bin', WRITE_NEW)).handle!;
    assert.equal((await sftp.write(rewrite, 0, Buffer.alloc(100))).code, FX.OK);
    const again = await sftp.write(rewrite, 50, Buffer.alloc(10));
    assert.equal(again.code, FX.FAILURE);
    assert.equal((await sftp.close(rewrite)).code, FX.FAILURE);

    const far = (await sftp.open('/box/far.bin', WRITE_NEW)).handle!;
    const results = [];
    for (let i = 1; i <= 40; i++) results.push(await sftp.write(far, i * 64 * 1024, Buffer.alloc(64 * 1024)));
    assert.ok(
      results.some((r) => r.code === FX.FAILURE && /out of order/.test(r.message!)),
      'the held-bytes bound is enforced',
    );
    assert.equal((await sftp.close(far)).code, FX.FAILURE);

    for (const f of ['gap.bin', 'rewrite.bin', 'far.bin']) await assert.rejects(s.t.core.files.stat(s.t.system, `/box/${f}`), { code: 'NOT_FOUND' }, f);
    await eventually(() => blobCount(s.t) === blobsBefore, 5000, 'partial blobs removed');
  });

  it('uploads: a disconnect mid-upload leaves nothing visible and no blob', async () => {
    const blobsBefore = blobCount(s.t);
    const c = await connect(s.port, 'dora', { key });
    const r = await RawSftp.open(c);
    const h = (await r.open('/box/cut.bin', WRITE_NEW)).handle!;
    for (let i = 0; i < 20; i++) assert.equal((await r.write(h, i * 65536, randomBytes(65536))).code, FX.OK);
    c.end();
    await eventually(
      async () => (await ledger(s.t, { action: 'file.write', target: '/box/cut.bin' })).some((e) => e.outcome === 'failure'),
      5000,
      'the aborted upload is recorded',
    );
    await assert.rejects(s.t.core.files.stat(s.t.system, '/box/cut.bin'), { code: 'NOT_FOUND' });
    await eventually(() => blobCount(s.t) === blobsBefore, 5000, 'the partial blob is removed');
  });

  it('downloads: any offset, sequential reads from one stream, a seek opens a ranged read', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 7);
    await s.t.core.files.upload(s.t.system, '/box/read.bin', bytes(data));
    const before = (await ledger(s.t, { action: 'file.read', target: '/box/read.bin' })).length;
    const h = (await sftp.open('/box/read.bin', OPEN.READ)).handle!;
    // Pipelined sequential reads, answered possibly out of order: one stream.
    const chunk = 200 * 1024;
    const parts = await Promise.all(Array.from({ length: Math.ceil(data.length / chunk) + 2 }, (_, i) => sftp.read(h, i * chunk, chunk)));
    const got = Buffer.concat(parts.filter((p) => p.type === R.DATA).map((p) => p.data!));
    assert.equal(sha(got), sha(data));
    assert.equal(parts.at(-1)!.code, FX.EOF);
    assert.equal((await ledger(s.t, { action: 'file.read', target: '/box/read.bin' })).length, before + 1, 'one read recorded');
    // Random offsets (seeks backwards and far ahead): every answer is right.
    for (const [o, n] of [
      [0, 10],
      [3 * 1024 * 1024, 100],
      [5, 70_000],
      [1024 * 1024, 1],
      [data.length - 1, 50],
      [2_000_000, 255 * 1024],
    ] as const) {
      const r = await sftp.read(h, o, n);
      assert.equal(sha(r.data!), sha(data.subarray(o, o + n)), `read at ${o}`);
    }
    assert.equal((await sftp.read(h, data.length, 10)).code, FX.EOF);
    assert.equal((await sftp.read(h, data.length + 10_000, 10)).code, FX.EOF);
    assert.equal((await sftp.close(h)).code, FX.OK);
    const reads = (await ledger(s.t, { action: 'file.read', target: '/box/read.bin' })).length - before;
    assert.ok(reads > 1 && reads < 8, `a new ranged read per seek only (${reads})`);
  });

  it('downloads: a file replaced while open is not mixed with the new version', async () => {
    await s.t.core.files.upload(s.t.system, '/box/v.bin', bytes(Buffer.alloc(4 * 1024 * 1024, 1)));
    const h = (await sftp.open('/box/v.bin', OPEN.READ)).handle!;
    assert.ok((await sftp.read(h, 0, 1000)).data!.every((b) => b === 1));
    await s.t.core.files.upload(s.t.system, '/box/v.bin', bytes(Buffer.alloc(4 * 1024 * 1024, 2)));
    const back = await sftp.read(h, 3 * 1024 * 1024, 1000);
    assert.ok(back.code === FX.FAILURE || back.data!.every((b) => b === 1), 'never bytes of the new version');
    await sftp.close(h);
  });

  it('open flags: read+write, append, exclusive and partial rewrites are refused clearly', async () => {
    await s.t.core.files.upload(s.t.system, '/box/exists.txt', bytes(Buffer.from('hello')));
    assert.equal((await sftp.open('/box/exists.txt', OPEN.READ | OPEN.WRITE)).code, FX.OP_UNSUPPORTED);
    assert.equal((await sftp.open('/box/exists.txt', OPEN.WRITE | OPEN.APPEND)).code, FX.OP_UNSUPPORTED);
    assert.equal((await sftp.open('/box/exists.txt', WRITE_NEW | OPEN.EXCL)).code, FX.FAILURE);
    assert.equal((await sftp.open('/box/exists.txt', OPEN.WRITE)).code, FX.OP_UNSUPPORTED);
    assert.equal((await sftp.open('/box/missing.txt', OPEN.WRITE)).code, FX.NO_SUCH_FILE);
    await s.t.core.files.mkdir(s.t.system, '/box/folder');
    const notFile = await sftp.open('/box/folder', OPEN.READ);
    assert.equal(notFile.code, FX.FAILURE, 'a folder is not a file');
    assert.equal(notFile.message, 'not a file');
    const ex = (await sftp.open('/box/new-excl.txt', OPEN.WRITE | OPEN.CREAT | OPEN.EXCL)).handle!;
    assert.equal((await sftp.close(ex)).code, FX.OK);
    assert.equal((await s.t.core.files.stat(s.t.system, '/box/new-excl.txt')).size, 0, 'an empty file');
  });

  it('paths: every request resolves ".", ".." and relative paths as sftp-server does, clamped at the root; the ledger records the resolved path', async () => {
    const real = async (p: string) => (await sftp.request(T.REALPATH, str(p))).names?.[0]?.filename;
    assert.equal(await real('.'), '/');
    assert.equal(await real(''), '/');
    assert.equal(await real('box/../../..'), '/');
    assert.equal(await real('/box/./sub/../x'), '/box/x');
    assert.equal((await sftp.request(T.REALPATH, str('/box/\u202Etxt.exe'))).code, FX.FAILURE);
    await s.t.core.files.upload(s.t.system, '/box/dots.txt', bytes(Buffer.from('dots')));
    for (const p of ['/box/../box/dots.txt', 'box/dots.txt', './box/./dots.txt', '/../../box/dots.txt', 'box/sub/../dots.txt'])
      assert.equal((await sftp.request(T.STAT, str(p))).size, 4, p);
    assert.equal((await sftp.request(T.OPENDIR, str('./box'))).type, 102, 'OPENDIR ./box');
    assert.equal((await sftp.request(T.OPENDIR, str('.'))).type, 102, 'OPENDIR .');
    // A '..' never escapes: it stops at the root, where /etc does not exist.
    assert.equal((await sftp.open('/box/../../etc/passwd', OPEN.READ)).code, FX.NO_SUCH_FILE);
    const h = (await sftp.open('box/./up/../written.txt', OPEN.WRITE | OPEN.CREAT | OPEN.TRUNC)).handle!;
    assert.equal((await sftp.write(h, 0, Buffer.from('w'))).code, FX.OK);
    assert.equal((await sftp.close(h)).code, FX.OK);
    assert.equal((await s.t.core.files.stat(s.t.system, '/box/written.txt')).size, 1);
    const ev = (await ledger(s.t)).filter((e) => e.protocol === 'sftp' && e.target_path?.includes('written.txt'));
    assert.ok(ev.length > 0 && ev.every((e) => e.target_path === '/box/written.txt'), JSON.stringify(ev.map((e) => e.target_path)));
    assert.equal((await sftp.request(T.STAT, str(Buffer.from([0x2f, 0xff, 0xfe])))).code, FX.FAILURE, 'invalid UTF-8');
    assert.equal((await sftp.request(T.SYMLINK, str('/box/l'), str('/etc'))).code, FX.OP_UNSUPPORTED);
    assert.equal((await sftp.request(T.READLINK, str('/box/l'))).code, FX.OP_UNSUPPORTED);
  });

  it('rename, posix-rename, setstat, fsync, mkdir/rmdir/remove', async () => {
    await s.t.core.files.upload(s.t.system, '/box/a.txt', bytes(Buffer.from('A')));
    await s.t.core.files.upload(s.t.system, '/box/b.txt', bytes(Buffer.from('B')));
    assert.equal((await sftp.request(T.RENAME, str('/box/a.txt'), str('/box/b.txt'))).code, FX.FAILURE, 'RENAME does not replace');
    assert.equal((await sftp.extended('posix-rename@openssh.com', str('/box/a.txt'), str('/box/b.txt'))).code, FX.OK);
    assert.equal((await s.t.core.files.stat(s.t.system, '/box/b.txt')).size, 1);
    await assert.rejects(s.t.core.files.stat(s.t.system, '/box/a.txt'), { code: 'NOT_FOUND' });
    const times = Buffer.concat([u32(0x08), u32(1_700_000_000), u32(1_700_000_000)]);
    assert.equal((await sftp.request(T.SETSTAT, str('/box/b.txt'), times)).code, FX.OK, 'times accepted');
    assert.equal((await sftp.request(T.SETSTAT, str('/box/b.txt'), Buffer.concat([u32(0x04), u32(0o777)]))).code, FX.OK, 'modes ignored');
    assert.equal((await sftp.request(T.SETSTAT, str('/box/b.txt'), Buffer.concat([u32(0x01), u64(0)]))).code, FX.OP_UNSUPPORTED, 'no truncation');
    assert.equal((await sftp.request(T.SETSTAT, str('/box/none'), times)).code, FX.NO_SUCH_FILE);
    const h = (await sftp.open('/box/f.txt', WRITE_NEW)).handle!;
    await sftp.write(h, 0, Buffer.from('x'));
    assert.equal((await sftp.extended('fsync@openssh.com', str(h))).code, FX.OK);
    assert.equal((await sftp.request(T.FSETSTAT, str(h), times)).code, FX.OK);
    assert.equal((await sftp.close(h)).code, FX.OK);
    assert.equal((await sftp.request(T.MKDIR, str('/box/d'), u32(0))).code, FX.OK);
    assert.equal((await sftp.request(T.MKDIR, str('/box/d'), u32(0))).code, FX.FAILURE);
    assert.equal((await sftp.request(T.REMOVE, str('/box/d'))).code, FX.FAILURE, 'REMOVE is for files');
    assert.equal((await sftp.request(T.RMDIR, str('/box/f.txt'))).code, FX.FAILURE, 'RMDIR is for folders');
    assert.equal((await sftp.request(T.RMDIR, str('/box/d'))).code, FX.OK);
    assert.equal((await sftp.request(T.REMOVE, str('/box/f.txt'))).code, FX.OK);
  });

  it('READDIR pages through a large folder: every entry exactly once', async () => {
    await s.t.core.admin.folders.create(s.t.system, '/box/many');
    const names = Array.from({ length: 237 }, (_, i) => `file-${String(i).padStart(4, '0')}.txt`);
    for (const n of names) await s.t.core.files.upload(s.t.system, `/box/many/${n}`, bytes(Buffer.from(n)));
    for (let i = 0; i < 3; i++) await s.t.core.files.mkdir(s.t.system, `/box/many/dir${i}`);
    const h = (await sftp.request(T.OPENDIR, str('/box/many'))).handle!;
    const seen: string[] = [];
    for (;;) {
      const r = await sftp.request(T.READDIR, str(h));
      if (r.code === FX.EOF) break;
      assert.equal(r.type, R.NAME);
      assert.ok(r.names!.length <= limits.readdirBatch);
      seen.push(...r.names!.map((n) => n.filename));
    }
    await sftp.close(h);
    assert.deepEqual(seen, ['dir0', 'dir1', 'dir2', ...names]);
  });
});
