/**
 * Blob lifecycle outside the request path: removal of blobs no file points at, and the start-up
 * sweep that finishes interrupted work after a crash.
 *
 * Backup leases (core/backup). A backup exports the database from one snapshot and copies the
 * blobs its file rows reference afterwards; a file deleted or replaced in between must keep its
 * blob until the copy is made. Contract:
 * - A lease is a `settings` row `backup.lease.<id>` whose value is JSON `{ "until": ms, … }`; it is
 *   active while `until` is in the future. A backup MUST commit its lease before it opens its
 *   snapshot, refresh it well before `until` while it runs, and delete it when it ends.
 * - While any lease is active, discardBlob MUST NOT delete a blob that a committed file may have
 *   referenced: it leaves the blob and its blob_pending row ('delete') in place, to be removed by
 *   the next sweep (sweepDeferred at the end of the backup, or sweepBlobs at start-up). Blobs of
 *   uploads that never committed ('upload' rows) are never in a snapshot and are removed at once.
 * - Because discardBlob runs after the transaction that unlinked the blob from its file has
 *   committed, and checks the lease after that, either the snapshot was taken before the lease
 *   check saw no lease (so the unlink was already committed and the snapshot does not reference
 *   the blob) or the check sees the lease and defers. No snapshot can reference a deleted blob.
 * - A lease that is not refreshed (the backup crashed) expires; deferred deletions then proceed
 *   at the next sweep.
 */
import type { Readable } from 'node:stream';
import type { Transaction } from 'kysely';
import { SMALL_OBJECT_BYTES, type BlobKey, type ByteRange } from '../../ports/blob-store.js';
import type { Database } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { CoreError } from '../errors.js';

/** Where a file's bytes are: the fields of its row that say so. */
export interface StoredRef {
  readonly blob_key: string;
  readonly size: number | string;
  readonly stored_inline: number | string;
}

/** The size up to which uploads are kept in the database (settings.inlineMaxBytes, capped at one segment). */
export function inlineLimit(deps: CoreDeps): number {
  return Math.min(deps.settings.inlineMaxBytes ?? SMALL_OBJECT_BYTES, SMALL_OBJECT_BYTES);
}

/**
 * The plaintext of a stored file (or a range of it), from the database for a small file kept
 * inline, from the blob store otherwise; every integrity check of the encrypted store applies.
 * A missing inline row is NOT_FOUND, like a missing blob.
 */
export async function readStored(deps: CoreDeps, f: StoredRef, range?: ByteRange): Promise<Readable> {
  const size = Number(f.size);
  if (Number(f.stored_inline) !== 1) return deps.store.get(f.blob_key as BlobKey, size, range);
  const row = await deps.db.selectFrom('blob_inline').select('sealed').where('blob_key', '=', f.blob_key).executeTakeFirst();
  if (!row) throw new CoreError('NOT_FOUND', 'blob not found');
  return deps.store.open(f.blob_key as BlobKey, Buffer.from(row.sealed, 'base64'), size, range);
}

/**
 * Unlinks the bytes of a file whose row `trx` deletes. MUST run in the transaction that deletes
 * the row. An inline blob goes with it (same transaction: a backup snapshot holds both or
 * neither); a blob in the store is listed in blob_pending as 'delete' and its key returned: the
 * caller passes it to discardBlob once the transaction has committed.
 */
export async function unlinkStored(trx: Transaction<Database>, now: number, nodeId: string, f: StoredRef): Promise<BlobKey | undefined> {
  if (Number(f.stored_inline) === 1) {
    await trx.deleteFrom('blob_inline').where('blob_key', '=', f.blob_key).execute();
    return undefined;
  }
  await trx.insertInto('blob_pending').values({ blob_key: f.blob_key, kind: 'delete', node_id: nodeId, created_at: now }).execute();
  return f.blob_key as BlobKey;
}

/** Prefix of backup lease rows in `settings`. */
export const BACKUP_LEASE_PREFIX = 'backup.lease.';

/** True while some backup lease is active (see the contract above). */
export async function backupLeaseActive(deps: CoreDeps): Promise<boolean> {
  const rows = await deps.db.selectFrom('settings').select('value').where('key', 'like', `${BACKUP_LEASE_PREFIX}%`).execute();
  const now = deps.clock.now();
  return rows.some((r) => {
    try {
      const until = (JSON.parse(r.value) as { until?: unknown }).until;
      return typeof until === 'number' && until > now;
    } catch {
      return false;
    }
  });
}

/** Whether deleting `key` must wait for a running backup: a lease is active and the blob is not an uncommitted upload's. */
async function deferredByBackup(deps: CoreDeps, key: BlobKey): Promise<boolean> {
  if (!(await backupLeaseActive(deps))) return false;
  const row = await deps.db.selectFrom('blob_pending').select('kind').where('blob_key', '=', key).executeTakeFirst();
  return row?.kind !== 'upload';
}

/**
 * Deletes a blob that no committed file references, then forgets its pending row. While a backup
 * lease is active the deletion is deferred (the row stays, see above).
 */
export async function discardBlob(deps: CoreDeps, key: BlobKey): Promise<void> {
  try {
    if (await deferredByBackup(deps, key)) {
      deps.log.debug({ blob: key }, 'blob removal deferred: a backup is running');
      return;
    }
    await deps.store.delete(key);
    await deps.db.deleteFrom('blob_pending').where('blob_key', '=', key).execute();
  } catch (e) {
    deps.log.warn({ err: e, blob: key }, 'blob removal deferred to the next sweep');
  }
}

/**
 * Start-up recovery. MUST only remove blobs that no committed file references:
 * - 'delete' rows are blobs already unlinked from their file in a committed transaction;
 * - 'upload' rows of this node (it just started, so none of its uploads is live) or older than
 *   `staleMs` (another node's upload that never committed) — unless a file points at them.
 * Also removes the store's temporary parts.
 */
export async function sweepBlobs(deps: CoreDeps, staleMs = 24 * 3600_000): Promise<{ removed: number; temp: number }> {
  const now = deps.clock.now();
  const rows = await deps.db.selectFrom('blob_pending').selectAll().execute();
  const node = deps.settings.nodeId;
  // This node's own uploads and its SFTP workers' (`<nodeId>/…`; node ids have no '/').
  const mine = rows.filter((r) => r.kind === 'delete' || r.node_id === node || r.node_id.startsWith(`${node}/`) || now - Number(r.created_at) > staleMs);
  const removed = await discardUnreferenced(deps, mine);
  const temp = await deps.store.sweepTemp();
  return { removed, temp };
}

/**
 * Removes the unfinished uploads of `owner` (an SFTP worker process that died: blob_pending rows
 * with its node_id, their blobs and their temporary parts), while the rest of the node runs.
 * MUST only be called once no process writes as `owner` any more.
 *
 * Each row is claimed (turned into a 'delete' row) by one statement that only matches while no
 * file points at the blob. The upload's commit deletes that row in its own transaction, so on
 * PostgreSQL a commit of the dead process still in flight on the server holds the row: the claim
 * waits for it and then finds the row gone (committed: the file stays) or still there (rolled
 * back: the blob goes). Returns how many blobs were discarded and temporary parts removed.
 */
export async function sweepAbandonedUploads(deps: CoreDeps, owner: string): Promise<{ removed: number; temp: number }> {
  const rows = await deps.db.selectFrom('blob_pending').select('blob_key').where('kind', '=', 'upload').where('node_id', '=', owner).execute();
  const claimed: BlobKey[] = [];
  for (const r of rows) {
    const res = await deps.db
      .updateTable('blob_pending')
      .set({ kind: 'delete' })
      .where('blob_key', '=', r.blob_key)
      .where('kind', '=', 'upload')
      .where('node_id', '=', owner)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('files').select('files.id').whereRef('files.blob_key', '=', 'blob_pending.blob_key'))))
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) claimed.push(r.blob_key as BlobKey);
  }
  if (claimed.length === 0) return { removed: 0, temp: 0 };
  // Puts that never finished: their temporary files (a finished put renamed its file away).
  const temp = await deps.store.sweepTemp(claimed);
  for (const key of claimed) await discardBlob(deps, key);
  return { removed: claimed.length, temp };
}

/**
 * Finishes deletions deferred by a backup lease: removes 'delete' blobs that no file references.
 * Unlike sweepBlobs it never touches 'upload' rows, so it is safe while uploads are running on
 * any node. Returns how many blobs were removed (0 while a lease is still active).
 */
export async function sweepDeferred(deps: CoreDeps): Promise<number> {
  if (await backupLeaseActive(deps)) return 0;
  const rows = await deps.db.selectFrom('blob_pending').select('blob_key').where('kind', '=', 'delete').execute();
  return discardUnreferenced(deps, rows);
}

/**
 * For each pending blob: a file still points at it → only the pending row goes; otherwise the
 * blob is discarded (and its row with it). Returns how many blobs were discarded.
 */
async function discardUnreferenced(deps: CoreDeps, rows: readonly { blob_key: string }[]): Promise<number> {
  let removed = 0;
  for (const r of rows) {
    const used = await deps.db.selectFrom('files').select('id').where('blob_key', '=', r.blob_key).executeTakeFirst();
    if (used) {
      await deps.db.deleteFrom('blob_pending').where('blob_key', '=', r.blob_key).execute();
      continue;
    }
    await discardBlob(deps, r.blob_key as BlobKey);
    removed++;
  }
  return removed;
}
