/**
 * The unfinished uploads of a process that died (an SFTP worker) are removed while the rest of the
 * node runs (core maintenance sweepAbandoned): its blob_pending rows, blobs and temporary files —
 * and nothing of anyone else's, nor a file that was committed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { DIALECTS } from '../helpers/dialects.js';
import { partnerWithFolder, testInstance, type TestInstance } from '../helpers/instance.js';
import type { Kysely } from 'kysely';
import { openInstance, paths, type Instance } from '../../src/app/instance.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import type { Database } from '../../src/ports/db-schema.js';
import type { Principal, UploadHandle } from '../../src/core/index.js';

for (const dialect of DIALECTS) {
  describe(`abandoned uploads (${dialect})`, () => {
    let t: TestInstance;
    let worker: Instance;
    let db: { db: Kysely<Database>; close(): Promise<void> };
    let alice: Principal;
    let aliceAtWorker: Principal;
    const OWNER = 'test/sftp-0-4242';
    const pending = async () =>
      (await db.db.selectFrom('blob_pending').select(['blob_key', 'kind', 'node_id']).execute()).sort((a, b) => a.node_id.localeCompare(b.node_id));
    const tmpFiles = () => fs.readdirSync(path.join(t.dataDir, 'blobs', 'tmp')).filter((f) => !f.startsWith('.'));

    before(async () => {
      t = await testInstance(dialect);
      db = await openDatabase({ url: t.config.databaseUrl, sqlitePath: paths(t.config).sqlite });
      alice = await partnerWithFolder(t, { org: 'Acme', folder: '/acme/in', login: 'alice', permissions: 'list,read,write,delete' });
      // A second process of the same node, as an SFTP worker opens it.
      worker = await openInstance(t.config, { log: pino({ level: 'silent' }), uploadOwner: OWNER });
      aliceAtWorker = await worker.core.auth.password('alice', 'correct horse battery staple', { protocol: 'sftp', remoteAddr: '127.0.0.1' });
    });
    after(async () => {
      await db.close();
      await worker.close();
      await t.cleanup();
    });

    it("removes the dead owner's unfinished uploads, and only those", async () => {
      // Larger than a small file: each goes to the blob store, registered in blob_pending.
      const big = randomBytes(200_000);
      const hanging: UploadHandle[] = [];
      for (const [core, p, name] of [
        [worker.core, aliceAtWorker, 'w1'],
        [worker.core, aliceAtWorker, 'w2'],
        [t.core, alice, 'mine'],
      ] as const) {
        const h = await core.files.openUpload(p, `/acme/in/${name}`);
        await h.write(big);
        hanging.push(h);
      }
      // One upload of the worker that was committed before it died.
      await worker.core.files.upload(
        aliceAtWorker,
        '/acme/in/done',
        (async function* () {
          yield big;
        })(),
      );
      await new Promise((r) => setTimeout(r, 200)); // the stores have started their temporary files
      assert.deepEqual(
        (await pending()).map((r) => [r.kind, r.node_id]),
        [
          ['upload', 'test'],
          ['upload', OWNER],
          ['upload', OWNER],
        ],
      );
      assert.equal(tmpFiles().length, 3);

      assert.deepEqual(await t.core.maintenance.sweepAbandoned('test/sftp-1-1'), { removed: 0, temp: 0 });
      const r = await t.core.maintenance.sweepAbandoned(OWNER);
      assert.deepEqual(r, { removed: 2, temp: 2 });
      assert.deepEqual(
        (await pending()).map((x) => [x.kind, x.node_id]),
        [['upload', 'test']],
        'the live upload of another owner stays',
      );
      assert.equal(tmpFiles().length, 1);
      const done = await t.core.files.openDownload(alice, '/acme/in/done');
      const got: Buffer[] = [];
      for await (const c of done.stream) got.push(c as Buffer);
      assert.ok(Buffer.concat(got).equals(big), 'a committed file is untouched');
      await done.finished;

      // The node's own upload still completes.
      await hanging[2]!.write(big);
      await hanging[2]!.finish();
      assert.deepEqual(await pending(), []);
      for (const h of hanging.slice(0, 2)) await h.abort('test over');
    });

    it("the start-up sweep takes the unfinished uploads of the node's workers too", async () => {
      const h = await worker.core.files.openUpload(aliceAtWorker, '/acme/in/w3');
      await h.write(randomBytes(100_000));
      await db.db
        .insertInto('blob_pending')
        .values({ blob_key: '01890000-0000-7000-8000-000000000001', kind: 'upload', node_id: 'other-node/sftp-0-1', created_at: Date.now() })
        .execute();
      assert.deepEqual(
        (await pending()).map((x) => x.node_id),
        ['other-node/sftp-0-1', OWNER],
      );
      await t.core.maintenance.sweep();
      assert.deepEqual(
        (await pending()).map((x) => x.node_id),
        ['other-node/sftp-0-1'],
        "another node's worker is not this node's",
      );
      await h.abort('test over');
    });
  });
}
