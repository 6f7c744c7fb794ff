/**
 * Backup, restore and full verification with real instances on SQLite and PostgreSQL: a backup
 * taken while files are deleted, replaced and uploaded restores into an empty data directory (and
 * across dialects) and serves every file of its snapshot with the same SHA-256; the ledger
 * verifies; wrong passphrases and tampered backups are refused; verify finds damaged, missing and
 * orphan blobs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import type { Kysely } from 'kysely';
import { DIALECTS, freshDatabase, tempDir, type FreshDatabase, type TempDir, type TestDialect } from '../helpers/dialects.js';
import { testInstance, TEST_PASSWORD, type TestInstance } from '../helpers/instance.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { openInstance, paths, restoreInstance, type Instance } from '../../src/app/instance.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import type { Database } from '../../src/ports/db-schema.js';
import { createSnapshots } from '../../src/adapters/db/snapshot.js';
import { TABLES } from '../../src/core/backup/tables.js';
import type { Principal } from '../../src/core/index.js';

const PASS = 'a long backup passphrase';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function* chunks(buf: Buffer, size = 100_000) {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out);
}
/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
/** The stored file of a blob, wherever the local store keeps it. */
const blobPath = (dataDir: string, key: string) => {
  const f = walk(path.join(dataDir, 'blobs')).find((p) => path.basename(p) === key);
  assert.ok(f, `blob ${key} on disk`);
  return f;
};
const flipByte = (file: string, at: number) => {
  const b = fs.readFileSync(file);
  b[at] = b[at]! ^ 0x01;
  fs.writeFileSync(file, b);
};

/** A restore target: an empty data directory and an empty database of `dialect`. */
async function target(
  dialect: TestDialect,
  env: Record<string, string> = {},
): Promise<{ config: Config; dir: TempDir; db: FreshDatabase; cleanup(): Promise<void> }> {
  const db = await freshDatabase(dialect);
  const dir = tempDir('restore');
  const config = loadConfig({
    SLUICE_DATA_DIR: path.join(dir.path, 'data'),
    ...(db.url ? { SLUICE_DATABASE_URL: db.url } : {}),
    SLUICE_LOG_LEVEL: 'silent',
    SLUICE_NODE_ID: 'restored',
    ...env,
  });
  return { config, dir, db, cleanup: async () => (await db.cleanup(), await dir.cleanup()) };
}

const quiet = pino({ level: 'silent' });

for (const dialect of DIALECTS) {
  describe(`backup and restore (${dialect})`, () => {
    let t: TestInstance;
    let raw: { db: Kysely<Database>; close(): Promise<void> };
    let alice: Principal;
    let work: TempDir;
    const files = new Map<string, Buffer>(); // what the snapshot holds: path → content
    let backupDir: string;
    let restored: { config: Config; cleanup(): Promise<void> };

    before(async () => {
      t = await testInstance(dialect);
      raw = await openDatabase({ url: t.config.databaseUrl, sqlitePath: paths(t.config).sqlite });
      work = tempDir('backup-work');
      backupDir = path.join(work.path, 'backup');
      await t.core.admin.orgs.create(t.system, { name: 'Acme', ik: '123456780', contacts: [{ email: 'it@acme.example' }] });
      await t.core.admin.folders.create(t.system, '/acme/in/deep/er', { org: 'Acme' });
      await t.core.admin.folders.create(t.system, '/beta/out');
      alice = await t.user('alice', { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/in', 'list,read,write,delete');
      await t.core.admin.tokens.create(t.system, 'alice', { expiresInMs: 86_400_000, name: 'script' });
      // Sizes around the 64 KiB segment and the 1 MiB run boundaries, and an empty file.
      const sizes = [0, 1, 65_535, 65_536, 65_537, 300_000, 1_048_576, 2_500_000];
      for (const [i, n] of sizes.entries()) {
        const body = randomBytes(n);
        const p = i % 2 ? `/acme/in/deep/f${i}.bin` : `/acme/in/f${i}.bin`;
        await t.core.files.upload(alice, p, chunks(body), { metadata: { records: i } });
        files.set(p, body);
      }
      const report = Buffer.from('Abrechnung Q4;Versicherte;4711\n'.repeat(3000)); // > 64 KiB: in the blob store
      const small = Buffer.from('Abrechnung klein;Versicherte;4712\n'.repeat(20)); // kept in the database
      await t.core.files.upload(t.system, '/beta/out/small.csv', chunks(small));
      files.set('/beta/out/small.csv', small);
      await t.core.files.upload(t.system, '/beta/out/report.csv', chunks(report));
      files.set('/beta/out/report.csv', report);
      await t.core.canaries.plant(t.system, '/beta/out/canary.csv', 'bait');
      files.set('/beta/out/canary.csv', await readAll((await t.core.files.openDownload(t.system, '/beta/out/canary.csv')).stream));
      // The folder moved under a newer one: its parent's id sorts after its own.
      await t.core.admin.folders.create(t.system, '/acme/zlater');
      await t.core.files.rename(t.system, '/acme/in/deep/er', '/acme/zlater/er');
      await t.core.audit.checkpoint(t.system);
    });
    after(async () => {
      await restored?.cleanup();
      await raw.close();
      await t.cleanup();
      await work.cleanup();
    });

    it('knows every table of the schema (a new table must be added to core/backup/tables.ts)', async () => {
      const present = (await raw.db.introspection.getTables()).map((x) => x.name).sort();
      assert.deepEqual(present, TABLES.map((x) => x.name).sort());
    });

    it('a snapshot does not see writes committed while it is open', async () => {
      const snapshots = createSnapshots({ dialect, db: raw.db, sqlitePath: paths(t.config).sqlite });
      const count = async (db: Kysely<Database>) =>
        Number(
          (
            await db
              .selectFrom('audit_events')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const seen = await snapshots.read(async (s) => {
        const before = await count(s.db);
        await t.core.admin.folders.create(t.system, `/snap-${dialect}`); // committed by the core meanwhile
        assert.equal(await count(raw.db), before + 1, 'the write is committed');
        assert.ok(s.migrations.length >= 4);
        return { before, after: await count(s.db) };
      });
      assert.equal(seen.after, seen.before);
    });

    it('backs up while files are deleted, replaced and uploaded; the lease keeps the snapshot complete', async () => {
      // f4 (65,537 bytes) lives in the blob store; the files up to 64 KiB are kept in the database.
      const deleted = '/acme/in/f4.bin';
      const replaced = '/acme/in/f6.bin';
      const deletedKey = (await raw.db.selectFrom('files').select('blob_key').where('name', '=', 'f4.bin').executeTakeFirstOrThrow()).blob_key;
      // An upload already running when the backup starts, finishing whenever it does.
      const slow = randomBytes(3_000_000);
      const running = t.core.files.upload(
        alice,
        '/acme/in/running.bin',
        (async function* () {
          for await (const c of chunks(slow, 200_000)) {
            await new Promise((r) => setTimeout(r, 5));
            yield c;
          }
        })(),
      );
      const stages: string[] = [];
      let progressed = 0;
      const r = await t.core.backup.create(t.system, {
        to: backupDir,
        passphrase: PASS,
        onProgress: (d) => (progressed = d),
        onStage: async (s) => {
          stages.push(s);
          if (s !== 'blobs') return;
          // The snapshot is taken: change things it holds.
          await t.core.files.remove(alice, deleted);
          await t.core.files.upload(alice, replaced, chunks(randomBytes(70_000)));
          await t.core.files.upload(alice, '/acme/in/new-after-snapshot.bin', chunks(randomBytes(5000)));
          // The deleted file's blob stays, its deletion deferred while the backup runs.
          const pending = await raw.db.selectFrom('blob_pending').selectAll().where('blob_key', '=', deletedKey).executeTakeFirst();
          assert.equal(pending?.kind, 'delete', 'deletion deferred by the backup lease');
          assert.ok(blobPath(t.dataDir, deletedKey));
        },
      });
      await running;
      assert.deepEqual(stages, ['database', 'blobs', 'keys', 'done']);
      // Every file's bytes are in the backup: a blob file each, or (small files) a blob_inline row.
      const inlineRows = r.tables.find((x) => x.name === 'blob_inline')!.rows;
      assert.ok(inlineRows >= 4, `${inlineRows} small files kept inline`);
      assert.equal(r.blobs.count + inlineRows, r.tables.find((x) => x.name === 'files')!.rows);
      assert.equal(progressed, r.blobs.bytes);
      assert.ok(r.blobs.plaintextBytes >= [...files.values()].reduce((n, b) => n + b.length, 0));
      // After the backup: lease gone, deferred deletion done.
      assert.equal((await raw.db.selectFrom('settings').select('key').where('key', 'like', 'backup.lease.%').execute()).length, 0);
      assert.equal(await raw.db.selectFrom('blob_pending').select('blob_key').where('blob_key', '=', deletedKey).executeTakeFirst(), undefined);
      assert.ok(!walk(path.join(t.dataDir, 'blobs')).some((p) => path.basename(p) === deletedKey), 'deleted blob removed after the backup');
      // Layout, modes, no plaintext.
      const names = fs.readdirSync(backupDir).sort();
      assert.deepEqual(names, ['blobs', 'blobs.jsonl', 'db', 'keys.enc', 'ledger-anchor.jsonl', 'manifest.json']);
      assert.equal(fs.statSync(backupDir).mode & 0o077, 0);
      for (const f of walk(backupDir)) assert.equal(fs.statSync(f).mode & 0o077, 0, f);
      const keysEnc = fs.readFileSync(path.join(backupDir, 'keys.enc'));
      assert.ok(!keysEnc.includes('PRIVATE KEY') && !keysEnc.includes('kek-'), 'keys.enc is encrypted');
      for (const f of walk(path.join(backupDir, 'blobs'))) assert.ok(!fs.readFileSync(f).includes('Abrechnung'), 'blobs stay ciphertext');
      const inlineExport = walk(path.join(backupDir, 'db')).find((f) => path.basename(f).startsWith('blob_inline'));
      assert.ok(inlineExport, 'small files travel in the database export');
      for (const line of fs.readFileSync(inlineExport, 'utf8').split('\n').filter(Boolean)) {
        const sealed = Buffer.from((JSON.parse(line) as { sealed: string }).sealed, 'base64');
        assert.ok(sealed.subarray(0, 4).equals(Buffer.from('SLC1')) && !sealed.includes('Abrechnung'), 'inline blobs stay ciphertext');
      }
      const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, 'manifest.json'), 'utf8')) as {
        source: { dialect: string };
        tables: { name: string; rows: number }[];
        ledger: { headSeq: number };
      };
      assert.equal(manifest.source.dialect, dialect);
      assert.equal(manifest.tables.find((x) => x.name === 'settings')!.rows, 0, 'the lease is not exported');
      const events = await t.core.audit.events(t.system, { action: 'backup.create' });
      assert.equal(events.at(-1)?.outcome, 'success');
      assert.equal((await t.core.audit.events(t.system, { action: 'backup.start' })).length, 1);
      const snapshotFiles = manifest.tables.find((x) => x.name === 'files')!.rows;
      // The snapshot holds every file uploaded before it (and maybe the running upload).
      assert.ok(snapshotFiles === files.size || snapshotFiles === files.size + 1, `${snapshotFiles} files in the snapshot`);
      if (snapshotFiles === files.size + 1) files.set('/acme/in/running.bin', slow);
    });

    it('restores into an empty data directory: every file with the same SHA-256, the ledger verifies', async () => {
      const tg = await target(dialect);
      restored = tg;
      const stages: string[] = [];
      const r = await restoreInstance(tg.config, { from: backupDir, passphrase: PASS, log: quiet, onStage: (s) => void stages.push(s) });
      assert.deepEqual(stages, ['check', 'blobs', 'database', 'keys']);
      assert.equal(r.check.ok, true, JSON.stringify(r.check));
      assert.equal(r.check.ledger.ok, true);
      assert.ok(r.check.ledger.checkpoints >= 1, 'signatures checked');
      assert.equal(r.summary.targetDialect, dialect);
      const keys = paths(tg.config).keys;
      assert.equal(fs.statSync(keys).mode & 0o777, 0o700);
      for (const f of fs.readdirSync(keys)) {
        const mode = fs.statSync(path.join(keys, f)).mode & 0o777;
        assert.equal(mode, f.endsWith('.pub') ? mode & 0o644 : 0o600, f);
        if (!f.endsWith('.pub')) assert.equal(mode, 0o600, f);
      }
      const inst = await openInstance(tg.config, { log: quiet });
      try {
        const sys = inst.system({ protocol: 'cli' }, 'test');
        for (const [p, body] of files) {
          const d = await inst.core.files.openDownload(sys, p);
          const got = await readAll(d.stream);
          assert.equal(sha(got), sha(body), p);
          assert.equal(d.file.sha256, sha(body), p);
        }
        await assert.rejects(inst.core.files.stat(sys, '/acme/in/new-after-snapshot.bin'), { code: 'NOT_FOUND' });
        assert.ok(await inst.core.files.stat(sys, '/acme/zlater/er'), 'moved folder restored');
        // Users, passwords, grants and tokens came along.
        const a = await inst.core.auth.password('alice', TEST_PASSWORD, { protocol: 'http', remoteAddr: '127.0.0.1' });
        assert.equal((await inst.core.files.list(a, '/acme/in')).entries.length > 0, true);
        assert.equal((await inst.core.admin.tokens.list(sys, 'alice')).length, 1);
        assert.equal((await inst.core.canaries.list(sys)).length, 1);
        const v = await inst.core.backup.verify(sys);
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.equal(v.files, files.size);
        const audit = await inst.core.audit.verify(sys);
        assert.equal(audit.ok, true, JSON.stringify(audit.problem));
        assert.ok((await inst.core.audit.events(sys, { action: 'backup.restore' })).some((e) => e.outcome === 'success'));
      } finally {
        await inst.close();
      }
    });

    it('a shared external anchor holding newer checkpoints than the backup is a warning, not a failure', async () => {
      await t.core.admin.folders.create(t.system, '/after-backup');
      assert.ok((await t.core.audit.checkpoint(t.system)).checkpoint, 'the source signs past the backup');
      const tg = await target(dialect, { SLUICE_AUDIT_SINK: paths(t.config).auditSink! });
      try {
        const r = await restoreInstance(tg.config, { from: backupDir, passphrase: PASS, log: quiet });
        assert.equal(r.summary.anchorRestored, false, 'an existing anchor is never overwritten');
        assert.equal(r.check.ok, true, JSON.stringify(r.check));
        assert.ok(
          r.check.warnings.some((w) => /newer than this backup/.test(w)),
          JSON.stringify(r.check.warnings),
        );
      } finally {
        await tg.cleanup();
      }
    });

    it('refuses a non-empty data directory, an initialised database, a short passphrase and a used backup directory', async () => {
      const tg = await target(dialect);
      try {
        fs.mkdirSync(tg.config.dataDir, { recursive: true });
        fs.writeFileSync(path.join(tg.config.dataDir, 'something'), 'x');
        await assert.rejects(restoreInstance(tg.config, { from: backupDir, passphrase: PASS, log: quiet }), { code: 'CONFLICT' });
        assert.deepEqual(fs.readdirSync(tg.config.dataDir), ['something'], 'nothing touched');
      } finally {
        await tg.cleanup();
      }
      // The database restored above is initialised: a second restore into it (new data dir) is refused.
      if (dialect === 'postgres') {
        const again = await target(dialect);
        try {
          const cfg = loadConfig({ SLUICE_DATA_DIR: again.config.dataDir, SLUICE_DATABASE_URL: restored.config.databaseUrl!, SLUICE_LOG_LEVEL: 'silent' });
          await assert.rejects(restoreInstance(cfg, { from: backupDir, passphrase: PASS, log: quiet }), /already holds data/);
          assert.ok(!fs.existsSync(cfg.dataDir) || fs.readdirSync(cfg.dataDir).length === 0, 'data directory left empty');
        } finally {
          await again.cleanup();
        }
      }
      await assert.rejects(t.core.backup.create(t.system, { to: path.join(work.path, 'short'), passphrase: 'too short' }), { code: 'INVALID_INPUT' });
      await assert.rejects(t.core.backup.create(t.system, { to: backupDir, passphrase: PASS }), { code: 'CONFLICT' });
      assert.ok(fs.existsSync(path.join(backupDir, 'keys.enc')), 'the existing backup is untouched');
    });

    it('a wrong passphrase fails cleanly and writes nothing', async () => {
      const tg = await target(dialect);
      try {
        await assert.rejects(
          restoreInstance(tg.config, { from: backupDir, passphrase: 'the wrong passphrase', log: quiet }),
          (e: Error & { code?: string }) => e.code === 'INTEGRITY' && /wrong passphrase/.test(e.message),
        );
        assert.ok(!fs.existsSync(tg.config.dataDir), 'no data directory created');
      } finally {
        await tg.cleanup();
      }
    });

    it('detects a tampered backup: one JSONL byte, one blob byte, the manifest', async () => {
      const tamper = async (mutate: (dir: string) => void, expect: RegExp) => {
        const copy = path.join(work.path, `tampered-${randomBytes(4).toString('hex')}`);
        fs.cpSync(backupDir, copy, { recursive: true });
        mutate(copy);
        const tg = await target(dialect);
        try {
          await assert.rejects(restoreInstance(tg.config, { from: copy, passphrase: PASS, log: quiet }), (e: Error & { code?: string }) => {
            assert.equal(e.code, 'INTEGRITY', e.message);
            assert.match(e.message, expect);
            return true;
          });
          assert.ok(!fs.existsSync(tg.config.dataDir) || fs.readdirSync(tg.config.dataDir).length === 0, 'nothing left behind');
        } finally {
          await tg.cleanup();
          fs.rmSync(copy, { recursive: true, force: true });
        }
      };
      await tamper((d) => {
        const f = path.join(d, 'db', 'users.jsonl');
        const text = fs.readFileSync(f, 'utf8');
        fs.writeFileSync(f, text.replace('"role":"partner"', '"role":"admin"  '.slice(0, '"role":"partner"'.length)));
      }, /users\.jsonl/);
      await tamper((d) => {
        const f = path.join(d, 'db', 'audit_events.jsonl');
        const b = fs.readFileSync(f);
        b[Math.floor(b.length / 2)] = b[Math.floor(b.length / 2)] === 0x41 ? 0x42 : 0x41;
        fs.writeFileSync(f, b);
      }, /audit_events\.jsonl/);
      await tamper((d) => {
        const big = walk(path.join(d, 'blobs')).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
        flipByte(big, 1_000_000);
      }, /blob .* damaged or altered/);
      await tamper((d) => {
        const f = path.join(d, 'manifest.json');
        fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('"rows": 0', '"rows": 1'));
      }, /manifest\.json does not match keys\.enc/);
    });

    it('verify reads every blob back and reports a flipped byte, a missing blob and an orphan, with alerts', async () => {
      const inst: Instance = await openInstance(restored.config, { log: quiet });
      try {
        const sys = inst.system({ protocol: 'cli' }, 'test');
        const dataDir = restored.config.dataDir;
        const rdb = await openDatabase({ url: restored.config.databaseUrl, sqlitePath: paths(restored.config).sqlite });
        const key = async (name: string) => (await rdb.db.selectFrom('files').select('blob_key').where('name', '=', name).executeTakeFirstOrThrow()).blob_key;
        const damagedKey = await key('f7.bin');
        const missingKey = await key('report.csv');
        // A small file kept in the database, one byte of its sealed bytes flipped there.
        const inlineKey = await key('small.csv');
        const row = await rdb.db.selectFrom('blob_inline').select('sealed').where('blob_key', '=', inlineKey).executeTakeFirstOrThrow();
        const sealed = Buffer.from(row.sealed, 'base64');
        sealed[sealed.length - 40]! ^= 0x01;
        await rdb.db
          .updateTable('blob_inline')
          .set({ sealed: sealed.toString('base64') })
          .where('blob_key', '=', inlineKey)
          .execute();
        await rdb.close();
        flipByte(blobPath(dataDir, damagedKey), 2_000_000);
        fs.rmSync(blobPath(dataDir, missingKey));
        const orphan = path.join(path.dirname(blobPath(dataDir, damagedKey)), '..', '01', '01234567-89ab-7def-8123-456789abcdef');
        fs.mkdirSync(path.dirname(orphan), { recursive: true });
        fs.writeFileSync(orphan, 'stray', { mode: 0o600 });
        let progress = 0;
        const v = await inst.core.backup.verify(sys, { onProgress: (ph, d) => ph === 'blobs' && (progress = d) });
        assert.equal(v.ok, false);
        assert.deepEqual(v.counts, { missing: 1, corrupt: 2, orphans: 1 });
        assert.equal(v.missing[0]!.path, '/beta/out/report.csv');
        assert.deepEqual(v.corrupt.map((c) => c.blobKey).sort(), [damagedKey, inlineKey].sort());
        for (const c of v.corrupt) assert.match(c.reason, /damaged or altered/);
        assert.deepEqual(v.orphans, ['01234567-89ab-7def-8123-456789abcdef']);
        assert.equal(v.ledger.ok, true);
        assert.ok(progress > 0);
        const alerts = await inst.core.audit.events(sys, { action: 'alert' });
        assert.ok(alerts.some((e) => (e.detail as { code?: string }).code === 'STORAGE_VERIFY_FAILED'));
        const runs = await inst.core.audit.events(sys, { action: 'verify.run' });
        assert.equal(runs.at(-1)?.outcome, 'failure');
      } finally {
        await inst.close();
      }
    });
  });
}

// Across dialects: SQLite → PostgreSQL and PostgreSQL → SQLite.
if (DIALECTS.includes('postgres')) {
  for (const [from, to] of [
    ['sqlite', 'postgres'],
    ['postgres', 'sqlite'],
  ] as const) {
    describe(`restore ${from} → ${to}`, () => {
      let t: TestInstance;
      let work: TempDir;
      before(async () => {
        t = await testInstance(from);
        work = tempDir('cross');
      });
      after(async () => {
        await t.cleanup();
        await work.cleanup();
      });

      it('serves the same files and the ledger verifies', async () => {
        await t.core.admin.orgs.create(t.system, { name: 'Klinik' });
        await t.core.admin.folders.create(t.system, '/klinik/in', { org: 'Klinik' });
        const bodies = new Map<string, Buffer>();
        for (let i = 0; i < 12; i++) {
          const b = randomBytes(i * 50_000 + 7);
          await t.core.files.upload(t.system, `/klinik/in/file-${i}.dat`, chunks(b));
          bodies.set(`/klinik/in/file-${i}.dat`, b);
        }
        await t.core.files.remove(t.system, '/klinik/in/file-3.dat');
        bodies.delete('/klinik/in/file-3.dat');
        await t.core.audit.checkpoint(t.system);
        const dir = path.join(work.path, 'b');
        await t.core.backup.create(t.system, { to: dir, passphrase: PASS });
        const tg = await target(to);
        try {
          const r = await restoreInstance(tg.config, { from: dir, passphrase: PASS, log: quiet });
          assert.equal(r.summary.sourceDialect, from);
          assert.equal(r.summary.targetDialect, to);
          assert.equal(r.check.ok, true, JSON.stringify(r.check));
          const inst = await openInstance(tg.config, { log: quiet });
          try {
            const sys = inst.system({ protocol: 'cli' }, 'test');
            const listed = (await inst.core.files.list(sys, '/klinik/in')).entries.map((e) => e.name).sort();
            assert.deepEqual(listed, [...bodies.keys()].map((p) => path.basename(p)).sort());
            for (const [p, b] of bodies) assert.equal(sha(await readAll((await inst.core.files.openDownload(sys, p)).stream)), sha(b), p);
            const v = await inst.core.backup.verify(sys);
            assert.equal(v.ok, true, JSON.stringify(v));
            // The restored instance goes on: new writes, a new checkpoint, the chain still verifies.
            await inst.core.files.upload(sys, '/klinik/in/after.dat', chunks(Buffer.from('after restore')));
            await inst.core.audit.checkpoint(sys);
            assert.equal((await inst.core.audit.verify(sys)).ok, true);
          } finally {
            await inst.close();
          }
        } finally {
          await tg.cleanup();
        }
      });
    });
  }
}
