/**
 * Property tests of SFTP request handling against a running server (issue 14 §4): random
 * requests of every type with random fields, huge lengths, wrong and foreign handles, and handle
 * exhaustion. Each request gets exactly one answer (or the session ends cleanly on a framing
 * error); no answer carries internals; nothing appears outside alice's folder; the server keeps
 * serving. SQLite only: the database does not shape SFTP request handling.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OPEN, str, T, u32, u64, type RawSftp } from '../sftp/raw.js';
import { attackTarget, type Target } from '../attacks/harness.js';
import { budget } from './config.js';

const TYPES = [
  T.OPEN,
  T.CLOSE,
  T.READ,
  T.WRITE,
  T.LSTAT,
  T.FSTAT,
  T.SETSTAT,
  T.FSETSTAT,
  T.OPENDIR,
  T.READDIR,
  T.REMOVE,
  T.MKDIR,
  T.RMDIR,
  T.REALPATH,
  T.STAT,
  T.RENAME,
  T.READLINK,
  T.SYMLINK,
  T.EXTENDED,
  0,
  2,
  99,
  255,
];

describe('fuzz: SFTP request handling (sqlite)', () => {
  let x: Target;
  let sftp: RawSftp;
  let handles: Buffer[] = [];
  before(async () => {
    x = await attackTarget('sqlite', { limits: { maxHandles: 32 } });
    sftp = await x.sftp('alice');
    for (const p of ['/acme/inbox/alice.txt', '/acme/inbox']) {
      const r = p.endsWith('.txt') ? await sftp.open(p, OPEN.READ) : await sftp.request(T.OPENDIR, str(p));
      handles.push(r.handle!);
    }
  });
  after(async () => {
    sftp?.end();
    await x?.close();
  });

  const path = fc.oneof(
    fc.constantFrom('/acme/inbox/alice.txt', '/acme/inbox', '/acme/inbox/f', '/beta/inbox/secret.txt', '/', '.', '..', '/acme/inbox/../..', ''),
    fc.string({ maxLength: 40 }).map((s) => `/acme/inbox/${s}`),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );
  const field = fc.oneof(
    path.map((p) => str(p)),
    fc.constantFrom(u32(0), u32(0xffffffff), u32(0x7fffffff), u64(0), u64(2 ** 53 - 1), Buffer.from('ffffffffffffffff', 'hex'), u32(0x0000000f)),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    fc.integer({ min: 0, max: 10 }).map((i) => str(handles[i % Math.max(1, handles.length)] ?? Buffer.alloc(4))),
    fc.constant(str(Buffer.alloc(8192, 1))),
    fc.constant(Buffer.concat([u32(1_000_000), Buffer.from('short')])),
  );

  it('any request with any fields gets one clean answer, and the session and server keep serving', async () => {
    const before = await x.snapshot();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TYPES), fc.array(field, { maxLength: 5 }), async (type, fields) => {
        const r = await Promise.race([sftp.request(type, ...fields), new Promise<undefined>((res) => setTimeout(() => res(undefined), 10_000))]);
        assert.ok(r, `no answer to type ${type}`);
        if (r.type === 101) x.internals(r.message ?? '', `type ${type}`);
        if (r.type === 102) {
          if (handles.length < 20) handles.push(r.handle!);
          else await sftp.close(r.handle!);
        }
      }),
      budget(150),
    );
    // Handle exhaustion: beyond the cap a clean FAILURE; closing gives the slots back.
    const extra: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await sftp.request(T.OPENDIR, str('/acme/inbox'));
      if (r.handle) extra.push(r.handle);
      else x.sftpFailed(r, 'handle over the cap');
    }
    assert.ok(extra.length + handles.length <= 32 + 2, 'more handles than the cap');
    for (const h of [...extra, ...handles]) await sftp.close(h);
    handles = [];
    const after = await x.snapshot();
    const outside = (s: typeof before) => (s.rows.folders as { path: string }[]).filter((f) => !f.path.startsWith('/acme/inbox/')).map((f) => f.path);
    assert.deepEqual(outside(after), outside(before), 'a folder changed outside the grant');
    assert.equal(x.egress.hits, 0);
    await x.healthy();
  });

  it('malformed framing ends only that session: any length prefix, any tail', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(0), fc.integer({ min: 256 * 1024 + 1, max: 0xffffffff })), fc.uint8Array({ maxLength: 32 }), async (len, tail) => {
        const s = await x.sftp('alice');
        s.raw(Buffer.concat([u32(len), Buffer.from(tail)]));
        const closed = await Promise.race([s.closedPromise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
        s.end();
        assert.ok(closed, `length ${len}: the session stayed open`);
      }),
      budget(8),
    );
    await x.healthy();
  });
});
