/**
 * `sluice restore`: builds a working instance from a backup in an empty data directory, on any
 * machine and either database dialect.
 *
 * Order of work (nothing is written before the backup has proven authentic and complete):
 * 1. openBackup: keys.enc is decrypted with the passphrase (a wrong one fails here, cleanly); it
 *    holds the SHA-256 of manifest.json, which is checked and parsed.
 * 2. Every file the manifest names is read in full and its size and SHA-256 compared (the blobs
 *    are checked while they are copied). Any difference fails the restore before it writes.
 * 3. The target must be empty: no files in the data directory, no data in the database (the rows
 *    a fresh migration seeds are allowed).
 * 4. The schema is migrated to exactly the backup's version; the blobs are copied into the store
 *    (ciphertext, each checked against the index's size and SHA-256 while streaming, so nothing
 *    unchecked is ever stored).
 * 5. All tables are imported in ONE transaction, in dependency order (folders parents first), each
 *    file hashed again while it is read; before commit every table's row count is compared with
 *    the manifest. Then the schema is migrated to this version's latest.
 * 6. The key files are written (directory 0700, files 0600, public keys 0644), last: until then the
 *    data directory is not an initialised instance. The ledger anchor file is restored when the
 *    configured one does not exist yet.
 * The caller then opens the instance and calls core.backup.finishRestore, which verifies the ledger
 * (chain and signatures) and records backup.restore. On a failure in 3–6 the target's data
 * directory is emptied again (target.discard()).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Database } from '../../ports/db-schema.js';
import type { RestoreDb, RestoreTarget } from '../../ports/backup.js';
import type { BlobKey } from '../../ports/blob-store.js';
import { CoreError } from '../errors.js';
import { openKeys, wipe, type KeyFile } from './keys-file.js';
import { loose, TABLES, type Row, type TableSpec } from './tables.js';
import {
  ANCHOR_FILE,
  BLOB_INDEX,
  blobFile,
  expectSame,
  fsyncDir,
  hashFile,
  KEYS_FILE,
  lineReader,
  MANIFEST,
  manifestSchema,
  openBackupFile,
  readSmall,
  tableFile,
  type Manifest,
} from './archive.js';

export type RestoreStage = 'check' | 'blobs' | 'database' | 'keys';

export interface OpenedBackup {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly manifestSha256: string;
  readonly keyFiles: readonly KeyFile[];
}

export interface RestoreOptions {
  /** Bytes of the backup read so far, of the total (every file is read twice: check, then import). */
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
  readonly onStage?: ((stage: RestoreStage) => void | Promise<void>) | undefined;
  /** Blobs stored at once (default 16, see BackupOptions.concurrency). */
  readonly concurrency?: number | undefined;
}

export interface RestoreSummary {
  readonly from: string;
  readonly createdAt: string;
  readonly sourceDialect: string;
  readonly targetDialect: string;
  readonly sluiceVersion: string;
  readonly manifestSha256: string;
  readonly tables: readonly { readonly name: string; readonly rows: number }[];
  readonly ledger: Manifest['ledger'];
  readonly blobs: { readonly count: number; readonly bytes: number };
  readonly keyFiles: number;
  readonly anchorRestored: boolean;
  readonly durationMs: number;
}

const MAX_MANIFEST = 16 * 1024 * 1024;
const MAX_KEYS = 16 * 1024 * 1024;
/** Bound parameters per INSERT: below SQLite's 32766 and PostgreSQL's 65535. */
const MAX_PARAMS = 30_000;

/** Decrypts keys.enc and checks and parses the manifest it authenticates. Writes nothing. */
export async function openBackup(from: string, passphrase: string): Promise<OpenedBackup> {
  const dir = path.resolve(from);
  if (!fs.existsSync(path.join(dir, MANIFEST)) || !fs.existsSync(path.join(dir, KEYS_FILE))) {
    throw new CoreError('INVALID_INPUT', `${dir} is not a complete Sluice backup (manifest.json or keys.enc is missing)`);
  }
  const { meta, files } = await openKeys(passphrase, readSmall(path.join(dir, KEYS_FILE), MAX_KEYS));
  try {
    const text = readSmall(path.join(dir, MANIFEST), MAX_MANIFEST);
    if (createHash('sha256').update(text).digest('hex') !== meta.manifestSha256) {
      throw new CoreError('INTEGRITY', 'manifest.json does not match keys.enc (altered, or from another backup)');
    }
    let manifest: Manifest;
    try {
      manifest = manifestSchema.parse(JSON.parse(text.toString('utf8')));
    } catch {
      throw new CoreError('INTEGRITY', 'manifest.json is malformed or from an unsupported backup format');
    }
    const known = new Set<string>(TABLES.map((t) => t.name));
    const unknown = manifest.tables.filter((t) => !known.has(t.name));
    if (unknown.length)
      throw new CoreError(
        'INVALID_INPUT',
        `the backup holds table(s) this version of Sluice does not know (${unknown.map((t) => t.name).join(', ')}); restore it with the version that made it (${manifest.sluiceVersion}) or newer`,
      );
    if (new Set(manifest.tables.map((t) => t.name)).size !== manifest.tables.length) throw new CoreError('INTEGRITY', 'manifest.json lists a table twice');
    const names = new Set(files.map((f) => f.name));
    if (manifest.keys.names.length !== files.length || manifest.keys.names.some((n) => !names.has(n)))
      throw new CoreError('INTEGRITY', 'keys.enc does not hold the key files the manifest lists');
    if (!files.some((f) => f.name.startsWith('kek-'))) throw new CoreError('INTEGRITY', 'keys.enc holds no key-encryption key');
    return { dir, manifest, manifestSha256: meta.manifestSha256, keyFiles: files };
  } catch (e) {
    wipe(files);
    throw e;
  }
}

export async function restoreBackup(b: OpenedBackup, target: RestoreTarget, opts: RestoreOptions = {}): Promise<RestoreSummary> {
  const started = Date.now();
  const m = b.manifest;
  const tableBytes = m.tables.reduce((n, t) => n + t.bytes, 0) + m.blobs.index.bytes + (m.anchor?.bytes ?? 0);
  const total = 2 * tableBytes + m.blobs.bytes;
  let done = 0;
  const progress = (n: number) => {
    done += n;
    opts.onProgress?.(done, total);
  };

  // 2. Everything the manifest lists, before anything is written.
  target.assertEmpty();
  await opts.onStage?.('check');
  opts.onProgress?.(0, total);
  for (const t of m.tables) {
    const got = await hashFile(tableFile(b.dir, t.name));
    expectSame(`db/${t.name}.jsonl`, got, t);
    progress(got.bytes);
  }
  expectSame(BLOB_INDEX, await hashFile(path.join(b.dir, BLOB_INDEX)), m.blobs.index);
  progress(m.blobs.index.bytes);
  let anchor: Buffer | undefined;
  if (m.anchor) {
    anchor = readSmall(path.join(b.dir, ANCHOR_FILE), 256 * 1024 * 1024);
    expectSame(ANCHOR_FILE, { bytes: anchor.length, sha256: createHash('sha256').update(anchor).digest('hex') }, m.anchor);
    progress(anchor.length);
  }

  // 3. The target.
  let rdb: RestoreDb | undefined;
  let committed = false;
  try {
    rdb = await target.openDatabase();
    await assertDatabaseEmpty(rdb);
    const applied = await rdb.applied();
    const unknown = m.migrations.filter((x) => !rdb!.known.includes(x));
    if (unknown.length)
      throw new CoreError(
        'INVALID_INPUT',
        `the backup was made by a newer version of Sluice (${m.sluiceVersion}; schema ${unknown.join(', ')}); restore it with that version or newer`,
      );
    if (!isPrefix(m.migrations, rdb.known)) throw new CoreError('INVALID_INPUT', "the backup's schema history does not match this version of Sluice");
    // 4. Schema at the backup's version (the database may be fresh, or migrated but empty).
    const last = m.migrations.at(-1);
    if (last && isPrefix(applied, m.migrations) && applied.length < m.migrations.length) await rdb.migrateTo(last);

    await opts.onStage?.('blobs');
    await copyBlobs(b, target, m, opts.concurrency ?? 16, progress);

    // 5. One transaction for all rows.
    await opts.onStage?.('database');
    const columns = new Map((await rdb.db.introspection.getTables()).map((t) => [t.name, new Set(t.columns.map((c) => c.name))]));
    await rdb.db.transaction().execute(async (trx) => {
      // A fresh schema holds seed rows (the ledger head, the root folder): the backup has its own.
      for (const spec of [...TABLES].reverse()) {
        if (columns.has(spec.name)) await loose(trx).deleteFrom(spec.name).execute();
      }
      for (const spec of TABLES as readonly TableSpec[]) {
        const entry = m.tables.find((t) => t.name === spec.name);
        if (!entry) continue; // a table newer than the backup: stays empty
        const have = columns.get(spec.name);
        const missing = entry.columns.filter((c) => !have?.has(c));
        if (missing.length)
          throw new CoreError('INVALID_INPUT', `the backup has column(s) ${spec.name}.${missing.join(', ')} this version of Sluice does not know`);
        await importTable(trx, b.dir, spec, entry, progress);
      }
      for (const entry of m.tables) {
        const r = await loose(trx)
          .selectFrom(entry.name)
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .executeTakeFirstOrThrow();
        if (Number(r.n) !== entry.rows)
          throw new CoreError('INTEGRITY', `table ${entry.name} holds ${Number(r.n)} rows after the import, the manifest says ${entry.rows}`);
      }
    });
    committed = true;
    await rdb.migrateTo('latest');

    // 6. Keys last: only now does the data directory become an instance.
    await opts.onStage?.('keys');
    writeKeyFiles(target.keysDir, b.keyFiles);
    let anchorRestored = false;
    if (anchor && target.anchorFile && !fs.existsSync(target.anchorFile)) {
      fs.mkdirSync(path.dirname(target.anchorFile), { recursive: true, mode: 0o700 });
      writeExclusive(target.anchorFile, anchor, 0o600);
      anchorRestored = true;
    }
    return {
      from: b.dir,
      createdAt: m.createdAt,
      sourceDialect: m.source.dialect,
      targetDialect: rdb.dialect,
      sluiceVersion: m.sluiceVersion,
      manifestSha256: b.manifestSha256,
      tables: m.tables.map((t) => ({ name: t.name, rows: t.rows })),
      ledger: m.ledger,
      blobs: { count: m.blobs.count, bytes: m.blobs.bytes },
      keyFiles: b.keyFiles.length,
      anchorRestored,
      durationMs: Date.now() - started,
    };
  } catch (e) {
    await rdb?.close().catch(() => undefined);
    rdb = undefined;
    await target.discard();
    if (committed && e instanceof CoreError) {
      throw new CoreError(e.code, `${e.message} (the database already holds the restored rows: empty it before trying again)`);
    }
    throw e;
  } finally {
    await rdb?.close();
  }
}

const isPrefix = (a: readonly string[], b: readonly string[]) => a.length <= b.length && a.every((x, i) => b[i] === x);

/** Refuses a database that holds anything beyond what a fresh migration seeds. */
async function assertDatabaseEmpty(rdb: RestoreDb): Promise<void> {
  const present = new Set((await rdb.db.introspection.getTables()).map((t) => t.name));
  for (const spec of TABLES) {
    if (!present.has(spec.name)) continue;
    const rows = (await loose(rdb.db).selectFrom(spec.name).selectAll().limit(2).execute()) as Row[];
    const seedOnly =
      rows.length === 0 ||
      (rows.length === 1 && spec.name === 'audit_head' && Number(rows[0]!.seq) === 0) ||
      (rows.length === 1 && spec.name === 'folders' && rows[0]!.parent_id === null);
    if (!seedOnly) throw new CoreError('CONFLICT', `the target database already holds data (table ${spec.name}); restore needs an empty database`);
  }
}

async function copyBlobs(b: OpenedBackup, target: RestoreTarget, m: Manifest, concurrency: number, progress: (n: number) => void): Promise<void> {
  const index = lineReader(path.join(b.dir, BLOB_INDEX));
  const lines = index.lines();
  let count = 0;
  let bytes = 0;
  let failure = false;
  const seen = new Set<string>();

  async function copyOne(key: BlobKey, size: number, sha256: string): Promise<void> {
    const file = blobFile(b.dir, key);
    async function* checked(): AsyncGenerator<Buffer> {
      const hash = createHash('sha256');
      let n = 0;
      const stream = fs.createReadStream('', { fd: openBackupFile(file), highWaterMark: 1 << 20 });
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          n += chunk.length;
          if (n > size) break;
          hash.update(chunk);
          // The store makes the object visible only after this source ended without an error,
          // i.e. after the check below passed: a damaged blob is never stored.
          yield chunk;
          progress(chunk.length);
        }
      } finally {
        stream.destroy();
      }
      if (n !== size || hash.digest('hex') !== sha256)
        throw new CoreError('INTEGRITY', `blob ${key} in the backup is damaged or altered (size or SHA-256 differs from the index)`);
    }
    await target.rawBlobs.put(key, checked());
  }

  async function work(): Promise<void> {
    while (!failure) {
      const r = await lines.next();
      if (r.done) return;
      if (r.value === '') continue;
      let e: { key?: unknown; size?: unknown; sha256?: unknown };
      try {
        e = JSON.parse(r.value) as typeof e;
      } catch {
        throw new CoreError('INTEGRITY', `${BLOB_INDEX} is malformed`);
      }
      if (typeof e.key !== 'string' || typeof e.size !== 'number' || typeof e.sha256 !== 'string' || seen.has(e.key))
        throw new CoreError('INTEGRITY', `${BLOB_INDEX} is malformed`);
      seen.add(e.key);
      await copyOne(e.key as BlobKey, e.size, e.sha256);
      count++;
      bytes += e.size;
    }
  }
  const settled = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(64, concurrency)) }, () =>
      work().catch((e: unknown) => {
        failure = true;
        throw e;
      }),
    ),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  expectSame(BLOB_INDEX, index.done(), m.blobs.index);
  if (count !== m.blobs.count || bytes !== m.blobs.bytes)
    throw new CoreError('INTEGRITY', `the backup holds ${count} blobs (${bytes} bytes), the manifest says ${m.blobs.count} (${m.blobs.bytes} bytes)`);
}

async function importTable(
  trx: Transaction<Database>,
  dir: string,
  spec: TableSpec,
  entry: Manifest['tables'][number],
  progress: (n: number) => void,
): Promise<void> {
  const reader = lineReader(tableFile(dir, spec.name));
  const columns = entry.columns;
  const batchRows = Math.max(1, Math.min(1000, Math.floor(MAX_PARAMS / columns.length)));
  const ldb = loose(trx);
  let batch: Row[] = [];
  const held: Row[] = []; // self-referencing tables: all rows, ordered parents first at the end
  let rows = 0;
  let line = 0;
  for await (const text of reader.lines()) {
    line++;
    progress(Buffer.byteLength(text) + 1);
    const row = parseRow(text, columns, `db/${spec.name}.jsonl line ${line}`);
    rows++;
    if (spec.parent) {
      held.push(row);
      continue;
    }
    batch.push(row);
    if (batch.length >= batchRows) {
      await ldb.insertInto(spec.name).values(batch).execute();
      batch = [];
    }
  }
  // The file must be exactly the one the manifest describes (checked again: it was read again).
  expectSame(`db/${spec.name}.jsonl`, reader.done(), entry);
  if (rows !== entry.rows) throw new CoreError('INTEGRITY', `db/${spec.name}.jsonl has ${rows} rows, the manifest says ${entry.rows}`);
  if (spec.parent) batch = parentsFirst(held, spec.key[0]!, spec.parent);
  for (let i = 0; i < batch.length; i += batchRows)
    await ldb
      .insertInto(spec.name)
      .values(batch.slice(i, i + batchRows))
      .execute();
}

function parseRow(text: string, columns: readonly string[], where: string): Row {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new CoreError('INTEGRITY', `${where} is not valid JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CoreError('INTEGRITY', `${where} is not a row`);
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length !== columns.length) throw new CoreError('INTEGRITY', `${where} has the wrong columns`);
  const row: Row = {};
  for (const c of columns) {
    const x = obj[c];
    if (x === null || typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))) row[c] = x;
    else throw new CoreError('INTEGRITY', `${where} has a bad value in ${c}`);
  }
  return row;
}

/** Orders rows so that every row comes after the row its `parent` column points at. */
function parentsFirst(rows: Row[], key: string, parent: string): Row[] {
  const byId = new Map(rows.map((r) => [r[key], r]));
  const depth = new Map<unknown, number>();
  const depthOf = (r: Row): number => {
    const id = r[key];
    const known = depth.get(id);
    if (known !== undefined) return known;
    let d = 0;
    const chain: Row[] = [];
    let cur: Row | undefined = r;
    while (cur) {
      const kd = depth.get(cur[key]);
      if (kd !== undefined) {
        d = kd + 1;
        break;
      }
      chain.push(cur);
      if (chain.length > rows.length) throw new CoreError('INTEGRITY', 'the folder tree in the backup has a cycle');
      const pid: unknown = cur[parent];
      cur = pid === null ? undefined : byId.get(pid as string);
    }
    for (let i = chain.length - 1; i >= 0; i--) depth.set(chain[i]![key], d++);
    return depth.get(id)!;
  };
  return [...rows].sort((a, b) => depthOf(a) - depthOf(b));
}

function writeExclusive(file: string, data: Buffer, mode: number): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), mode);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(file, mode); // the umask must not loosen or tighten what was asked for
}

/** Writes the key files: directory 0700, private keys 0600, public keys at most 0644. */
function writeKeyFiles(dir: string, files: readonly KeyFile[]): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  for (const f of files) {
    const mode = f.name.endsWith('.pub') ? f.mode & 0o644 : 0o600;
    writeExclusive(path.join(dir, f.name), f.data, mode | 0o600);
  }
  fsyncDir(dir);
}
