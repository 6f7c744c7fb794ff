/**
 * Small files kept in the database (blob_inline): a file of at most SLUICE_INLINE_MAX_BYTES is
 * sealed in memory and committed with its file row; a larger one (or one that grows past the limit
 * while streaming) goes to the blob store. Either way the bytes read back are the bytes written,
 * encrypted at rest, and nothing is left behind by a replace, a delete or an abort.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { DIALECTS } from '../helpers/dialects.js';
import { partnerWithFolder, testInstance, type TestInstance } from '../helpers/instance.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths } from '../../src/app/instance.js';
import type { Database } from '../../src/ports/db-schema.js';
import type { Principal } from '../../src/core/index.js';

async function* chunks(body: Buffer, size = 4096) {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
  if (body.length === 0) yield Buffer.alloc(0);
}
async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out);
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
function storeFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'blobs', 'objects');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).flatMap((s) => fs.readdirSync(path.join(dir, s)));
}

for (const dialect of DIALECTS) {
  describe(`small files in the database (${dialect})`, () => {
    let t: TestInstance;
    let db: { db: Kysely<Database>; close(): Promise<void> };
    let alice: Principal;
    const row = async (name: string) =>
      db.db.selectFrom('files').select(['id', 'blob_key', 'stored_inline', 'size']).where('name', '=', name).executeTakeFirst();
    const inlineRow = async (key: string) => db.db.selectFrom('blob_inline').select('sealed').where('blob_key', '=', key).executeTakeFirst();

    before(async () => {
      t = await testInstance(dialect);
      db = await openDatabase({ url: t.config.databaseUrl, sqlitePath: paths(t.config).sqlite });
      alice = await partnerWithFolder(t, { org: 'Acme', folder: '/acme/in', login: 'alice', permissions: 'list,read,write,delete' });
    });
    after(async () => {
      await db.close();
      await t.cleanup();
    });

    it('keeps files up to 64 KiB in the database, sealed, and larger ones in the blob store', async () => {
      const before = storeFiles(t.dataDir).length;
      const sizes = [0, 1, 10_240, 65_536, 65_537, 200_000];
      for (const n of sizes) {
        const body = randomBytes(n);
        const info = await t.core.files.upload(alice, `/acme/in/s${n}`, chunks(body));
        assert.equal(info.sha256, sha(body));
        const r = (await row(`s${n}`))!;
        assert.equal(r.stored_inline, n <= 65_536 ? 1 : 0, `${n} bytes`);
        const sealed = await inlineRow(r.blob_key);
        if (n <= 65_536) {
          const bytes = Buffer.from(sealed!.sealed, 'base64');
          assert.ok(bytes.subarray(0, 4).equals(Buffer.from('SLC1')), 'the encrypted store format');
          if (n > 16) assert.ok(!bytes.includes(body.subarray(0, 16)), 'no plaintext in the database');
        } else {
          assert.equal(sealed, undefined);
        }
        const dl = await t.core.files.openDownload(alice, `/acme/in/s${n}`);
        assert.equal(sha(await readAll(dl.stream)), sha(body));
        await dl.finished;
      }
      assert.equal(storeFiles(t.dataDir).length - before, 2, 'only the two larger files reached the blob store');
      assert.equal((await db.db.selectFrom('blob_pending').select('blob_key').execute()).length, 0, 'no pending blobs left');
    });

    it('serves ranges of a small file and detects a tampered one', async () => {
      const body = randomBytes(30_000);
      await t.core.files.upload(alice, '/acme/in/ranged', chunks(body));
      const part = await t.core.files.openDownload(alice, '/acme/in/ranged', { range: { start: 1000, end: 1999 } });
      assert.deepEqual(await readAll(part.stream), body.subarray(1000, 2000));
      const tail = await t.core.files.openDownload(alice, '/acme/in/ranged', { range: { start: 29_990 } });
      assert.deepEqual(await readAll(tail.stream), body.subarray(29_990));
      // The reads' end events are committed before this test writes through its own connection.
      await Promise.all([part.finished, tail.finished]);
      // A flipped byte of the sealed bytes: the read fails its integrity check, no wrong byte leaves.
      const r = (await row('ranged'))!;
      const sealed = Buffer.from((await inlineRow(r.blob_key))!.sealed, 'base64');
      sealed[sealed.length - 100]! ^= 0x80;
      await db.db
        .updateTable('blob_inline')
        .set({ sealed: sealed.toString('base64') })
        .where('blob_key', '=', r.blob_key)
        .execute();
      const dl = await t.core.files.openDownload(alice, '/acme/in/ranged');
      await assert.rejects(readAll(dl.stream), { code: 'INTEGRITY' });
      await dl.finished;
      // Sealed bytes moved under another file's key fail too (the key is bound into the wrapping).
      const other = (await row('s10240'))!;
      const moved = (await inlineRow(other.blob_key))!.sealed;
      await db.db.updateTable('blob_inline').set({ sealed: moved }).where('blob_key', '=', r.blob_key).execute();
      await assert.rejects(t.core.files.openDownload(alice, '/acme/in/ranged'), { code: 'INTEGRITY' });
      // The refused read is in the ledger with its end: nothing left.
      const [end, read] = await db.db
        .selectFrom('audit_events')
        .select(['seq', 'action', 'outcome', 'bytes', 'detail'])
        .where('file_id', '=', r.id)
        .orderBy('seq', 'desc')
        .limit(2)
        .execute();
      assert.equal(read!.action, 'file.read');
      assert.deepEqual({ action: end!.action, outcome: end!.outcome, bytes: Number(end!.bytes) }, { action: 'file.read.end', outcome: 'failure', bytes: 0 });
      const detail = JSON.parse(end!.detail) as Record<string, unknown>;
      assert.deepEqual([detail.read, detail.complete, detail.error], [Number(read!.seq), false, 'INTEGRITY']);
    });

    it('an upload that grows past the limit while streaming moves to the blob store intact', async () => {
      const body = randomBytes(65_536 + 5000);
      // Small chunks: the limit is crossed in the middle of the stream, after 16 held chunks.
      await t.core.files.upload(alice, '/acme/in/grows', chunks(body, 4000));
      const r = (await row('grows'))!;
      assert.equal(r.stored_inline, 0);
      assert.equal(await inlineRow(r.blob_key), undefined);
      assert.deepEqual(await readAll((await t.core.files.openDownload(alice, '/acme/in/grows')).stream), body);
    });

    it('replace and delete remove the old bytes, inline or stored, in every direction', async () => {
      const small1 = randomBytes(100);
      const big = randomBytes(100_000);
      const small2 = randomBytes(200);
      await t.core.files.upload(alice, '/acme/in/swap', chunks(small1));
      const k1 = (await row('swap'))!.blob_key;
      await t.core.files.upload(alice, '/acme/in/swap', chunks(big)); // inline → store
      assert.equal(await inlineRow(k1), undefined, 'the old inline bytes went with the old row');
      const k2 = (await row('swap'))!.blob_key;
      assert.ok(storeFiles(t.dataDir).includes(k2));
      await t.core.files.upload(alice, '/acme/in/swap', chunks(small2)); // store → inline
      assert.ok(!storeFiles(t.dataDir).includes(k2), 'the old blob was discarded');
      const k3 = (await row('swap'))!.blob_key;
      assert.deepEqual(await readAll((await t.core.files.openDownload(alice, '/acme/in/swap')).stream), small2);
      // Rename over another small file replaces it; its bytes go too.
      await t.core.files.upload(alice, '/acme/in/victim', chunks(randomBytes(50)));
      const kv = (await row('victim'))!.blob_key;
      await t.core.files.rename(alice, '/acme/in/swap', '/acme/in/victim', { overwrite: true });
      assert.equal(await inlineRow(kv), undefined);
      assert.ok(await inlineRow(k3), 'the renamed file keeps its bytes');
      const replaced = (await t.core.audit.events(t.system, { action: 'entry.rename' })).at(-1);
      assert.ok((replaced?.detail as { replaced?: string }).replaced, 'the rename records which file it replaced');
      await t.core.files.remove(alice, '/acme/in/victim');
      assert.equal(await inlineRow(k3), undefined);
      assert.equal((await db.db.selectFrom('blob_pending').select('blob_key').execute()).length, 0);
    });

    it('an aborted small upload leaves nothing, anywhere', async () => {
      const inlineBefore = (await db.db.selectFrom('blob_inline').select('blob_key').execute()).length;
      const h = await t.core.files.openUpload(alice, '/acme/in/aborted');
      await h.write(randomBytes(1000));
      await h.abort('client went away');
      await assert.rejects(t.core.files.stat(alice, '/acme/in/aborted'), { code: 'NOT_FOUND' });
      assert.equal((await db.db.selectFrom('blob_inline').select('blob_key').execute()).length, inlineBefore);
      assert.equal((await db.db.selectFrom('blob_pending').select('blob_key').execute()).length, 0);
      const failed = (await t.core.audit.events(t.system, { action: 'file.write' })).at(-1);
      assert.equal(failed?.outcome, 'failure');
    });
  });

  describe(`SLUICE_INLINE_MAX_BYTES=0 (${dialect})`, () => {
    let t: TestInstance;
    after(() => t.cleanup());
    it('stores every file in the blob store', async () => {
      t = await testInstance(dialect, { SLUICE_INLINE_MAX_BYTES: '0' });
      await t.core.admin.folders.create(t.system, '/x');
      const body = randomBytes(10);
      await t.core.files.upload(t.system, '/x/tiny', chunks(body));
      assert.equal(storeFiles(t.dataDir).length, 1);
      assert.deepEqual(await readAll((await t.core.files.openDownload(t.system, '/x/tiny')).stream), body);
    });
  });
}
