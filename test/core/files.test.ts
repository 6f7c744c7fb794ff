import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import type { Principal } from '../../src/core/index.js';

async function* chunks(...parts: (string | Buffer)[]) {
  for (const p of parts) yield Buffer.from(p);
}
async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out);
}
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

for (const dialect of DIALECTS) {
  describe(`core files (${dialect})`, () => {
    let t: TestInstance;
    let alice: Principal; // partner of Acme, read/write on /acme/inbox
    let bob: Principal; // partner of Beta, nothing on /acme
    before(async () => {
      t = await testInstance(dialect);
      await t.core.admin.orgs.create(t.system, { name: 'Acme', ik: '123456780' });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/outbox', { org: 'Acme' });
      await t.core.admin.folders.create(t.system, '/beta/inbox');
      alice = await t.user('alice', { org: 'Acme' });
      bob = await t.user('bob', { org: 'Beta' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write,delete');
      await t.core.admin.grants.set(t.system, 'org:Acme', '/acme/outbox', 'list,read');
    });
    after(() => t.cleanup());

    it('uploads, lists, downloads with ranges, and stores ciphertext', async () => {
      const body = 'Abrechnung Q3 '.repeat(10_000);
      const info = await t.core.files.upload(alice, '/acme/inbox/report.txt', chunks(body));
      assert.equal(info.size, Buffer.byteLength(body));
      assert.equal(info.sha256, sha(body));
      const page = await t.core.files.list(alice, '/acme/inbox/');
      assert.deepEqual(
        page.entries.map((e) => e.name),
        ['report.txt'],
      );
      const dl = await t.core.files.openDownload(alice, '/acme/inbox/report.txt');
      assert.equal((await readAll(dl.stream)).toString(), body);
      const part = await t.core.files.openDownload(alice, '/acme/inbox/report.txt', { range: { start: 14, end: 27 } });
      assert.equal((await readAll(part.stream)).toString(), body.slice(14, 28));
      // No plaintext on disk.
      const blobs = path.join(t.dataDir, 'blobs');
      const files: string[] = [];
      const walk = (d: string) =>
        fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name))));
      walk(blobs);
      assert.equal(files.length, 1);
      assert.ok(!fs.readFileSync(files[0]!).includes('Abrechnung'));
    });

    it('records every page of a listing in the ledger, continued ones too', async () => {
      await t.core.admin.folders.create(t.system, '/acme/inbox/paged');
      for (const n of ['a', 'b', 'c']) await t.core.files.upload(alice, `/acme/inbox/paged/${n}`, chunks(n));
      const before = (await t.core.audit.events(t.system, { action: 'folder.list' })).length;
      const first = await t.core.files.list(alice, '/acme/inbox/paged', { limit: 2 });
      assert.ok(first.next);
      const second = await t.core.files.list(alice, '/acme/inbox/paged', { cursor: first.next, limit: 2 });
      assert.deepEqual(
        [...first.entries, ...second.entries].map((e) => e.name),
        ['a', 'b', 'c'],
      );
      assert.equal(second.next, undefined);
      const events = (await t.core.audit.events(t.system, { action: 'folder.list' })).slice(before);
      assert.deepEqual(
        events.map((e) => [e.login, e.path, e.detail.entries, e.detail.more, e.detail.continued]),
        [
          ['alice', '/acme/inbox/paged', 2, true, undefined],
          ['alice', '/acme/inbox/paged', 1, undefined, true],
        ],
      );
    });

    it('shows ancestors only as the way to granted folders', async () => {
      const root = await t.core.files.list(alice, '/');
      assert.deepEqual(
        root.entries.map((e) => e.name),
        ['acme'],
      );
      const acme = await t.core.files.list(alice, '/acme');
      assert.deepEqual(acme.entries.map((e) => e.name).sort(), ['inbox', 'outbox']);
      const bobRoot = await t.core.files.list(bob, '/');
      assert.deepEqual(bobRoot.entries, []);
    });

    it('hides what a principal may not see (NOT_FOUND), denies what it sees (PERMISSION_DENIED)', async () => {
      await assert.rejects(t.core.files.list(bob, '/acme/inbox'), { code: 'NOT_FOUND' });
      await assert.rejects(t.core.files.openDownload(bob, '/acme/inbox/report.txt'), { code: 'NOT_FOUND' });
      await assert.rejects(t.core.files.upload(bob, '/acme/inbox/x', chunks('x')), { code: 'NOT_FOUND' });
      await assert.rejects(t.core.files.upload(alice, '/acme/outbox/x', chunks('x')), { code: 'PERMISSION_DENIED' });
      await assert.rejects(t.core.files.upload(alice, '/acme/x', chunks('x')), { code: 'NOT_FOUND' });
      await assert.rejects(t.core.files.openDownload(alice, '/acme/inbox/../../beta/inbox/x'), { code: 'INVALID_PATH' });
    });

    it('replaces a file atomically and keeps one blob', async () => {
      await t.core.files.upload(alice, '/acme/inbox/v.txt', chunks('one'));
      await t.core.files.upload(alice, '/acme/inbox/v.txt', chunks('two!'));
      const dl = await t.core.files.openDownload(alice, '/acme/inbox/v.txt');
      assert.equal((await readAll(dl.stream)).toString(), 'two!');
    });

    it('leaves nothing when the source fails mid-upload', async () => {
      async function* failing() {
        yield Buffer.alloc(100_000, 1);
        throw new Error('client went away');
      }
      await assert.rejects(t.core.files.upload(alice, '/acme/inbox/broken.bin', failing()), { code: 'ABORTED' });
      await assert.rejects(t.core.files.stat(alice, '/acme/inbox/broken.bin'), { code: 'NOT_FOUND' });
      const pending = await t.core.maintenance.sweep();
      assert.equal(pending.removed, 0);
    });

    it('renames and removes', async () => {
      await t.core.files.upload(alice, '/acme/inbox/a.txt', chunks('a'));
      await t.core.files.rename(alice, '/acme/inbox/a.txt', '/acme/inbox/b.txt');
      await assert.rejects(t.core.files.stat(alice, '/acme/inbox/a.txt'), { code: 'NOT_FOUND' });
      assert.equal((await t.core.files.stat(alice, '/acme/inbox/b.txt')).size, 1);
      await t.core.files.remove(alice, '/acme/inbox/b.txt');
      await assert.rejects(t.core.files.stat(alice, '/acme/inbox/b.txt'), { code: 'NOT_FOUND' });
      await t.core.admin.folders.create(t.system, '/acme/inbox/sub/deeper');
      await t.core.files.rename(t.system, '/acme/inbox/sub', '/acme/outbox/moved');
      assert.equal((await t.core.files.stat(t.system, '/acme/outbox/moved/deeper')).type, 'folder');
    });

    it('records a read in the ledger before the first byte is handed out', async () => {
      await t.core.files.upload(alice, '/acme/inbox/audited.bin', chunks(Buffer.alloc(300_000, 3)));
      const before = await t.core.audit.events(t.system, { action: 'file.read', login: 'alice' });
      const dl = await t.core.files.openDownload(alice, '/acme/inbox/audited.bin', { range: { start: 10, end: 19 } });
      // Nothing has been read from the stream yet, and the event is already committed.
      const after = await t.core.audit.events(t.system, { action: 'file.read', login: 'alice', afterSeq: before.at(-1)?.seq ?? 0 });
      assert.equal(after.length, 1);
      assert.equal(after[0]!.path, '/acme/inbox/audited.bin');
      assert.equal(after[0]!.bytes, 10);
      assert.deepEqual(after[0]!.detail.range, [10, 19]);
      assert.equal(after[0]!.fileId, dl.file.id);
      assert.equal((await readAll(dl.stream)).length, 10);
      await dl.finished;
      const end = await t.core.audit.events(t.system, { action: 'file.read.end', fileId: dl.file.id });
      assert.equal(end.at(-1)!.bytes, 10);
      assert.equal(end.at(-1)!.detail.read, after[0]!.seq);
    });

    it('records denials with the reason, and hidden paths as hidden', async () => {
      await assert.rejects(t.core.files.openDownload(bob, '/acme/inbox/audited.bin'), { code: 'NOT_FOUND' });
      const denied = await t.core.audit.events(t.system, { action: 'file.read', login: 'bob' });
      assert.equal(denied.at(-1)!.outcome, 'denied');
      assert.equal(denied.at(-1)!.detail.reason, 'hidden');
    });

    it('keeps a verifiable ledger', async () => {
      const r = await t.core.audit.verify(t.system);
      assert.equal(r.ok, true, JSON.stringify(r.problem));
      assert.ok(r.events > 10);
    });
  });
}
