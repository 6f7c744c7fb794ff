/**
 * `sluice backup`: a consistent, logical backup of a running instance.
 *
 * Order of work (each step's guarantee rests on the one before):
 * 1. The backup is recorded in the ledger (backup.start) before anything is read.
 * 2. A backup lease is committed (files/blobs.ts): from now on no blob a committed file referenced
 *    is deleted; deletions wait in blob_pending.
 * 3. The ledger head is signed (so the snapshot ends on a signed checkpoint, as far as the server
 *    is idle), and the external anchor file is copied: it can only hold checkpoints already
 *    committed, so everything it holds is in the snapshot too.
 * 4. One snapshot (ports/backup.ts): every table is exported, page by page in key order, to
 *    db/<table>.jsonl. Rows are mutually consistent whatever the server writes meanwhile.
 * 5. The stored bytes (ciphertext) of every blob the snapshot's files reference are copied and
 *    checked: bytes copied = size in the store = size the format implies for the file's plaintext
 *    size = size of the copy on disk. Any missing or wrong-sized blob fails the backup.
 * 6. manifest.json (row counts, SHA-256 of every file) and keys.enc (key files, encrypted with the
 *    passphrase, binding the manifest's SHA-256) are written last: a backup without them is
 *    incomplete and restore refuses it. On failure everything written is removed again.
 * 7. The lease is released and deletions it deferred are finished; backup.create is recorded.
 */
import type { Scope } from '../gate.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { CoreDeps } from '../deps.js';
import type { BackupPorts } from '../../ports/backup.js';
import { BLOB_KEY_RE, type BlobKey } from '../../ports/blob-store.js';
import { CoreError } from '../errors.js';
import { recordEvent } from '../tx.js';
import { sweepDeferred } from '../files/blobs.js';
import { acquireLease, type Lease } from './lease.js';
import { checkPassphrase, KEY_FILE_NAME_RE, sealKeys, wipe, type KeyFile } from './keys-file.js';
import { isMigrationTable, loose, TABLES, type Row, type TableSpec, type Value } from './tables.js';
import {
  ANCHOR_FILE,
  BLOB_INDEX,
  blobFile,
  FORMAT,
  FORMAT_VERSION,
  fsyncDir,
  HashedWriter,
  KEYS_FILE,
  lineReader,
  MANIFEST,
  prepareBackupDir,
  tableFile,
  writeWhole,
  type Manifest,
} from './archive.js';

export type BackupStage = 'database' | 'blobs' | 'keys' | 'done';

export interface BackupOptions {
  /** Directory to create (or an empty one). */
  readonly to: string;
  readonly passphrase: string;
  /** Stored bytes of blobs copied so far, of the total. */
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
  /** Called (and awaited) as each stage begins. */
  readonly onStage?: ((stage: BackupStage) => void | Promise<void>) | undefined;
  /** Blobs copied at once (default 16: each copy waits mostly for its fsync, and file systems commit concurrent fsyncs together). */
  readonly concurrency?: number | undefined;
}

export interface BackupSummary {
  readonly dir: string;
  readonly createdAt: string;
  readonly tables: readonly { readonly name: string; readonly rows: number }[];
  readonly ledger: Manifest['ledger'];
  readonly blobs: { readonly count: number; readonly bytes: number; readonly plaintextBytes: number };
  readonly keyFiles: number;
  readonly durationMs: number;
}

export interface BackupHooks {
  /** Signs the ledger head (core's makeCheckpoint: alerts on sink failures). */
  readonly checkpoint?: (() => Promise<unknown>) | undefined;
}

const PAGE = 2000;
const MAX_BLOB_PROBLEMS = 20;

export async function createBackup(deps: CoreDeps, sc: Scope<'backup.create'>, opts: BackupOptions, hooks: BackupHooks = {}): Promise<BackupSummary> {
  const p = sc.principal;
  const ports = deps.backup;
  if (!ports) throw new CoreError('UNAVAILABLE', 'backups are not available in this configuration');
  checkPassphrase(opts.passphrase);
  const started = deps.clock.now();
  const dir = path.resolve(opts.to);
  prepareBackupDir(dir);
  const createdAt = new Date(started).toISOString();
  await recordEvent(deps.db, deps.clock, { action: 'backup.start', outcome: 'success', actor: p, detail: { to: dir } });

  let lease: Lease | undefined;
  let result: { summary: BackupSummary; rows: number; manifestSha256: string };
  try {
    lease = await acquireLease(deps, p.login);
    if (deps.anchors && hooks.checkpoint) await hooks.checkpoint();
    const anchor = readAnchor(ports.anchorFile);

    await opts.onStage?.('database');
    const db = await ports.snapshots.read((s) => exportTables(deps, ports, s.db, dir).then((r) => ({ ...r, migrations: [...s.migrations] })));

    await opts.onStage?.('blobs');
    const blobs = await copyBlobs(ports, dir, db.blobTotal, opts);

    await opts.onStage?.('keys');
    const keyFiles = readKeyFiles(ports.keysDir);
    try {
      const anchorEntry = anchor ? await writeWhole(path.join(dir, ANCHOR_FILE), anchor) : null;
      const manifest: Manifest = {
        format: FORMAT,
        version: FORMAT_VERSION,
        createdAt,
        sluiceVersion: ports.version,
        source: { dialect: deps.dialect, nodeId: deps.settings.nodeId },
        migrations: db.migrations,
        tables: db.tables,
        ledger: db.ledger,
        blobs: { index: blobs.index, count: blobs.count, bytes: blobs.bytes, plaintextBytes: db.plaintextBytes },
        anchor: anchorEntry,
        keys: { names: keyFiles.map((f) => f.name) },
      };
      const m = await writeWhole(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
      await writeWhole(path.join(dir, KEYS_FILE), await sealKeys(opts.passphrase, { manifestSha256: m.sha256, createdAt }, keyFiles));
      fsyncDir(dir);
      result = {
        summary: {
          dir,
          createdAt,
          tables: db.tables.map((t) => ({ name: t.name, rows: t.rows })),
          ledger: db.ledger,
          blobs: { count: blobs.count, bytes: blobs.bytes, plaintextBytes: db.plaintextBytes },
          keyFiles: keyFiles.length,
          durationMs: deps.clock.now() - started,
        },
        rows: db.tables.reduce((n, t) => n + t.rows, 0),
        manifestSha256: m.sha256,
      };
    } finally {
      wipe(keyFiles);
    }
  } catch (e) {
    await releaseLease(deps, lease);
    removeBackup(dir);
    await finishDeferred(deps);
    await recordEvent(deps.db, deps.clock, {
      action: 'backup.create',
      outcome: 'failure',
      actor: p,
      detail: { to: dir, error: e instanceof CoreError ? e.message : 'internal error' },
    }).catch(() => undefined);
    throw e;
  }
  // The backup is complete and durable; nothing below may remove it.
  await releaseLease(deps, lease);
  await finishDeferred(deps);
  const { summary } = result;
  await recordEvent(deps.db, deps.clock, {
    action: 'backup.create',
    outcome: 'success',
    actor: p,
    detail: {
      to: dir,
      rows: result.rows,
      ledgerHead: summary.ledger.headSeq,
      blobs: summary.blobs.count,
      bytes: summary.blobs.bytes,
      manifestSha256: result.manifestSha256,
      durationMs: summary.durationMs,
    },
  });
  await opts.onStage?.('done');
  return summary;
}

async function releaseLease(deps: CoreDeps, lease: Lease | undefined): Promise<void> {
  await lease?.release().catch((err: unknown) => deps.log.warn({ err }, 'backup lease could not be released; it expires by itself'));
}

async function finishDeferred(deps: CoreDeps): Promise<void> {
  try {
    const n = await sweepDeferred(deps);
    if (n > 0) deps.log.info({ removed: n }, 'removed blobs whose deletion the backup deferred');
  } catch (err) {
    deps.log.warn({ err }, 'deferred blob deletions are left to the next sweep');
  }
}

/** Removes a failed backup's files (the directory was new or empty when the backup began). */
function removeBackup(dir: string): void {
  for (const name of ['db', 'blobs', BLOB_INDEX, MANIFEST, KEYS_FILE, ANCHOR_FILE]) {
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
  try {
    fs.rmdirSync(dir); // only if nothing else is in it
  } catch {
    /* not empty or already gone */
  }
}

/** The anchor file's complete lines (a checkpoint being appended right now is left out). */
function readAnchor(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const end = data.lastIndexOf(0x0a);
  return end < 0 ? undefined : data.subarray(0, end + 1);
}

/** The key files of the instance (regular files only; leftovers of interrupted writes are skipped). */
function readKeyFiles(dir: string): KeyFile[] {
  const out: KeyFile[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (!KEY_FILE_NAME_RE.test(name) || name.includes('.tmp-')) continue;
    const fd = fs.openSync(path.join(dir, name), fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) continue;
      out.push({ name, mode: st.mode & 0o777, data: fs.readFileSync(fd) });
    } finally {
      fs.closeSync(fd);
    }
  }
  if (!out.some((f) => f.name.startsWith('kek-'))) throw new CoreError('UNAVAILABLE', 'the keys directory holds no key-encryption key');
  return out;
}

interface Exported {
  tables: Manifest['tables'];
  ledger: Manifest['ledger'];
  plaintextBytes: number;
  /** Expected stored bytes of all blobs (for progress), or the plaintext total when unknown. */
  blobTotal: number;
}

async function exportTables(deps: CoreDeps, ports: BackupPorts, db: CoreDeps['db'], dir: string): Promise<Exported> {
  const present = (await db.introspection.getTables()).filter((t) => !t.isView && !isMigrationTable(t.name));
  const ourSchema = present.find((t) => t.name === 'audit_events')?.schema;
  const known = new Set<string>(TABLES.map((t) => t.name));
  const unknown = present.filter((t) => t.schema === ourSchema && !known.has(t.name));
  if (unknown.length) {
    throw new CoreError(
      'INTERNAL',
      `the database has table(s) the backup does not know: ${unknown.map((t) => t.name).join(', ')} (add them to core/backup/tables.ts)`,
    );
  }
  const tables: Manifest['tables'] = [];
  let ledger: Manifest['ledger'] | undefined;
  let checkpoints = 0;
  let plaintextBytes = 0;
  let blobTotal = 0;
  for (const spec of TABLES as readonly TableSpec[]) {
    const meta = present.find((t) => t.name === spec.name && t.schema === ourSchema);
    if (!meta) throw new CoreError('INTERNAL', `table ${spec.name} is missing from the database`);
    const columns = meta.columns.map((c) => c.name);
    const w = await HashedWriter.create(tableFile(dir, spec.name));
    let rows = 0;
    try {
      for await (const page of pages(db, spec)) {
        let text = '';
        for (const raw of page) {
          const row = canonicalRow(spec.name, columns, raw);
          if (spec.skip?.(row)) continue;
          text += JSON.stringify(row) + '\n';
          rows++;
          if (spec.name === 'files') {
            const size = Number(row.size);
            plaintextBytes += size;
            if (Number(row.stored_inline) !== 1) blobTotal += ports.storedSize ? ports.storedSize(size) : size;
          } else if (spec.name === 'audit_head' && row.id === 1) {
            ledger = { headSeq: Number(row.seq), headHash: String(row.hash), checkpoints: 0 };
          } else if (spec.name === 'audit_checkpoints') {
            checkpoints++;
          }
        }
        await w.write(text);
      }
    } catch (e) {
      await w.abandon();
      throw e;
    }
    const done = await w.close();
    tables.push({ name: spec.name, rows, columns, ...done });
  }
  if (!ledger) throw new CoreError('INTEGRITY', 'the ledger head row is missing');
  deps.log.debug({ tables: tables.length }, 'database exported');
  return { tables, ledger: { ...ledger, checkpoints }, plaintextBytes, blobTotal };
}

/** A table's rows in primary-key order, PAGE at a time (keyset pagination: stable and index-backed). */
async function* pages(db: CoreDeps['db'], spec: TableSpec): AsyncGenerator<Row[]> {
  const ldb = loose(db);
  let last: Row | undefined;
  for (;;) {
    let q = ldb.selectFrom(spec.name).selectAll();
    if (last) {
      const after = last;
      const [a, b] = spec.key;
      if (b === undefined) q = q.where(a!, '>', after[a!]!);
      else q = q.where((eb) => eb.or([eb(a!, '>', after[a!]!), eb.and([eb(a!, '=', after[a!]!), eb(b, '>', after[b]!)])]));
    }
    for (const k of spec.key) q = q.orderBy(k);
    const rows = (await q.limit(PAGE).execute()) as Row[];
    if (rows.length > 0) yield rows;
    if (rows.length < PAGE) return;
    last = rows[rows.length - 1];
  }
}

/** The row as a plain object with the columns in order; values must be text, numbers or null. */
function canonicalRow(table: string, columns: readonly string[], raw: Record<string, unknown>): Row {
  const out: Row = {};
  for (const c of columns) {
    const v = raw[c];
    let val: Value;
    if (v === null || v === undefined) val = null;
    else if (typeof v === 'string') val = v;
    else if (typeof v === 'number' && Number.isFinite(v)) val = v;
    else if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) val = Number(v);
    else throw new CoreError('INTERNAL', `unsupported value in ${table}.${c}`);
    out[c] = val;
  }
  return out;
}

interface CopiedBlobs {
  count: number;
  bytes: number;
  index: { bytes: number; sha256: string };
}

async function copyBlobs(ports: BackupPorts, dir: string, total: number, opts: BackupOptions): Promise<CopiedBlobs> {
  const index = await HashedWriter.create(path.join(dir, BLOB_INDEX));
  let indexChain: Promise<void> = Promise.resolve();
  const problems: string[] = [];
  let count = 0;
  let bytes = 0;
  let done = 0;
  opts.onProgress?.(0, total);
  const files = lineReader(tableFile(dir, 'files')).lines();

  async function copyOne(key: BlobKey, plainSize: number): Promise<void> {
    let src: Readable;
    try {
      src = await ports.rawBlobs.get(key);
    } catch (e) {
      if (e instanceof CoreError && e.code === 'NOT_FOUND') {
        problems.push(`blob ${key} is missing from the store`);
        return;
      }
      throw e;
    }
    const stat = await ports.rawBlobs.stat(key);
    const target = blobFile(dir, key);
    const w = await HashedWriter.create(target);
    try {
      for await (const chunk of src as AsyncIterable<Buffer>) {
        await w.write(chunk);
        done += chunk.length;
        opts.onProgress?.(done, Math.max(total, done));
      }
    } catch (e) {
      src.destroy();
      await w.abandon();
      throw e;
    }
    const copy = await w.close();
    const expected = ports.storedSize?.(plainSize);
    const onDisk = fs.statSync(target).size;
    if ((expected !== undefined && copy.bytes !== expected) || (stat !== null && stat.size !== copy.bytes) || onDisk !== copy.bytes) {
      problems.push(`blob ${key} has ${copy.bytes} bytes, expected ${expected ?? stat?.size} (damaged in the store?)`);
      return;
    }
    count++;
    bytes += copy.bytes;
    const line = JSON.stringify({ key, size: copy.bytes, sha256: copy.sha256 }) + '\n';
    indexChain = indexChain.then(() => index.write(line));
    await indexChain;
  }

  let failure = false;
  async function worker(): Promise<void> {
    try {
      await work();
    } catch (e) {
      failure = true;
      throw e;
    }
  }
  async function work(): Promise<void> {
    while (!failure) {
      const r = await files.next();
      if (r.done) return;
      const row = JSON.parse(r.value) as { blob_key?: unknown; size?: unknown; stored_inline?: unknown };
      // A small file's sealed bytes are a blob_inline row: exported with the database already.
      if (Number(row.stored_inline) === 1) continue;
      const key = String(row.blob_key);
      if (!BLOB_KEY_RE.test(key)) {
        problems.push(`a file row names an invalid blob key`);
        continue;
      }
      await copyOne(key as BlobKey, Number(row.size));
    }
  }

  const n = Math.max(1, Math.min(64, opts.concurrency ?? 16));
  // Every worker stops at the first failure (the others see `failure`); all are awaited before
  // the backup directory can be removed.
  const settled = await Promise.allSettled(Array.from({ length: n }, () => worker()));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await index.abandon();
    throw failed.reason;
  }
  await indexChain;
  const indexDone = await index.close();
  if (problems.length) {
    const shown = problems.slice(0, MAX_BLOB_PROBLEMS).join('; ');
    throw new CoreError(
      'INTEGRITY',
      `backup incomplete: ${problems.length} blob(s) could not be copied (${shown}${problems.length > MAX_BLOB_PROBLEMS ? '; …' : ''}); run "sluice verify"`,
    );
  }
  return { count, bytes, index: indexDone };
}
