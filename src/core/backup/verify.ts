/**
 * `sluice verify`: reads every file back through the encrypted store, decrypting and
 * authenticating every segment, and compares its size and SHA-256 with the database; lists blobs
 * that are missing or damaged, and blobs nothing references (orphans); then checks the ledger.
 * A failure raises STORAGE_VERIFY_FAILED or LEDGER_VERIFY_FAILED through the one alert path, and
 * the run is recorded in the ledger (verify.run). Safe while the server runs: a file deleted or
 * replaced during the run is not reported as missing, a blob deleted during the run not as orphan.
 */
import type { Scope } from '../gate.js';
import { createHash } from 'node:crypto';
import type { CoreDeps } from '../deps.js';
import type { BlobKey } from '../../ports/blob-store.js';
import { CoreError } from '../errors.js';
import { recordEvent } from '../tx.js';
import { alertsOf } from '../ops/alerts.js';
import { verifyLedger, type VerifyResult } from '../audit/verify-ledger.js';
import { readStored } from '../files/blobs.js';

export interface StorageProblem {
  readonly fileId: string;
  readonly path: string;
  readonly blobKey: string;
  readonly reason: string;
}

export interface FullVerifyResult {
  readonly ok: boolean;
  readonly files: number;
  readonly bytes: number;
  readonly missing: readonly StorageProblem[];
  readonly corrupt: readonly StorageProblem[];
  readonly orphans: readonly string[];
  /** Counts, when more problems were found than are listed. */
  readonly counts: { readonly missing: number; readonly corrupt: number; readonly orphans: number };
  readonly ledger: VerifyResult;
  readonly durationMs: number;
}

export interface FullVerifyOptions {
  /** Blobs: plaintext bytes checked so far; ledger: events checked so far. */
  readonly onProgress?: ((phase: 'blobs' | 'ledger', done: number, total: number) => void) | undefined;
  /** Files read at once (default 4). */
  readonly concurrency?: number | undefined;
}

const PAGE = 500;
const LISTED = 1000;

export async function verifyAll(deps: CoreDeps, sc: Scope<'verify.run'>, opts: FullVerifyOptions = {}): Promise<FullVerifyResult> {
  const p = sc.principal;
  const started = deps.clock.now();
  const totals = await deps.db
    .selectFrom('files')
    .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.sum<number | string | null>('size').as('bytes')])
    .executeTakeFirstOrThrow();
  const totalBytes = Number(totals.bytes ?? 0);
  const folders = new Map((await deps.db.selectFrom('folders').select(['id', 'path']).execute()).map((f) => [f.id, f.path]));
  const pathOf = (folderId: string, name: string) => `${(folders.get(folderId) ?? '?').replace(/\/$/, '')}/${name}`;

  const missing: StorageProblem[] = [];
  const corrupt: StorageProblem[] = [];
  const counts = { missing: 0, corrupt: 0, orphans: 0 };
  let files = 0;
  let done = 0;
  opts.onProgress?.('blobs', 0, totalBytes);

  type FileRef = { id: string; folder_id: string; name: string; size: number; sha256: string; blob_key: string; stored_inline: number };
  const stillCurrent = async (f: FileRef) =>
    !!(await deps.db.selectFrom('files').select('id').where('id', '=', f.id).where('blob_key', '=', f.blob_key).executeTakeFirst());

  async function check(f: FileRef): Promise<void> {
    const size = Number(f.size);
    const problem = (reason: string): StorageProblem => ({ fileId: f.id, path: pathOf(f.folder_id, f.name), blobKey: f.blob_key, reason });
    let read = 0;
    try {
      const stream = await readStored(deps, f);
      const hash = createHash('sha256');
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        read += chunk.length;
        done += chunk.length;
        opts.onProgress?.('blobs', done, Math.max(totalBytes, done));
      }
      files++;
      if (read !== size) {
        counts.corrupt++;
        if (corrupt.length < LISTED) corrupt.push(problem(`has ${read} bytes, the database says ${size}`));
      } else if (hash.digest('hex') !== f.sha256) {
        counts.corrupt++;
        if (corrupt.length < LISTED) corrupt.push(problem('SHA-256 differs from the database'));
      }
    } catch (e) {
      done += size - read;
      if (e instanceof CoreError && e.code === 'NOT_FOUND') {
        if (!(await stillCurrent(f))) return; // deleted or replaced while we ran
        files++;
        counts.missing++;
        if (missing.length < LISTED) missing.push(problem('blob is missing from the store'));
      } else if (e instanceof CoreError && e.code === 'INTEGRITY') {
        files++;
        counts.corrupt++;
        if (corrupt.length < LISTED) corrupt.push(problem('fails decryption or authentication (damaged or altered)'));
      } else {
        throw e;
      }
    }
  }

  let last = '';
  const workers = Math.max(1, Math.min(16, opts.concurrency ?? 4));
  for (;;) {
    const page = (await deps.db
      .selectFrom('files')
      .select(['id', 'folder_id', 'name', 'size', 'sha256', 'blob_key', 'stored_inline'])
      .where('id', '>', last)
      .orderBy('id')
      .limit(PAGE)
      .execute()) as FileRef[];
    if (page.length === 0) break;
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(workers, page.length) }, async () => {
        while (next < page.length) await check(page[next++]!);
      }),
    );
    last = page[page.length - 1]!.id;
    if (page.length < PAGE) break;
  }

  // Orphans: stored blobs that no file, no pending upload or deletion and no part of a resumable upload references.
  const orphans: string[] = [];
  const rawStat = deps.backup?.rawBlobs.stat.bind(deps.backup.rawBlobs);
  const checkBatch = async (keys: string[]) => {
    const used = new Set([
      ...(await deps.db.selectFrom('files').select('blob_key').where('blob_key', 'in', keys).execute()).map((r) => r.blob_key),
      ...(await deps.db.selectFrom('blob_pending').select('blob_key').where('blob_key', 'in', keys).execute()).map((r) => r.blob_key),
      ...(await deps.db.selectFrom('upload_parts').select('blob_key').where('blob_key', 'in', keys).execute()).map((r) => r.blob_key),
    ]);
    for (const k of keys) {
      if (used.has(k)) continue;
      // Removed since it was listed (a deletion finishing)? Then it is not an orphan.
      if (rawStat && (await rawStat(k as BlobKey)) === null) continue;
      counts.orphans++;
      if (orphans.length < LISTED) orphans.push(k);
    }
  };
  let batch: string[] = [];
  for await (const k of deps.store.keys()) {
    batch.push(k);
    if (batch.length >= PAGE) {
      await checkBatch(batch);
      batch = [];
    }
  }
  if (batch.length) await checkBatch(batch);

  const ledger = await verifyLedger(deps.db, { anchors: deps.anchors, onProgress: (d, t) => opts.onProgress?.('ledger', d, t) });
  if (!ledger.ok) {
    await alertsOf(deps).raise({
      code: 'LEDGER_VERIFY_FAILED',
      severity: 'critical',
      message: `ledger verification failed at event ${ledger.problem?.seq}: ${ledger.problem?.reason}`,
      detail: { ...ledger.problem },
      actor: p,
    });
  }
  const storageOk = counts.missing === 0 && counts.corrupt === 0 && counts.orphans === 0;
  if (!storageOk) {
    await alertsOf(deps).raise({
      code: 'STORAGE_VERIFY_FAILED',
      severity: 'critical',
      message: `storage verification failed: ${counts.missing} missing, ${counts.corrupt} damaged, ${counts.orphans} orphan blob(s)`,
      detail: {
        ...counts,
        first: [...missing, ...corrupt].slice(0, 10).map((x) => ({ path: x.path, fileId: x.fileId, reason: x.reason })),
        orphans: orphans.slice(0, 10),
      },
      actor: p,
    });
  }
  const ok = storageOk && ledger.ok;
  const durationMs = deps.clock.now() - started;
  await recordEvent(deps.db, deps.clock, {
    action: 'verify.run',
    outcome: ok ? 'success' : 'failure',
    actor: p,
    bytes: done,
    detail: { files, ...counts, ledgerOk: ledger.ok, ledgerEvents: ledger.events, durationMs },
  });
  return { ok, files, bytes: done, missing, corrupt, orphans, counts, ledger, durationMs };
}
