/**
 * Blob lifecycle outside the request path: removal of blobs no file points at, and the start-up
 * sweep that finishes interrupted work after a crash.
 */
import type { BlobKey } from '../../ports/blob-store.js';
import type { CoreDeps } from '../deps.js';

/** Deletes a blob that no committed file references, then forgets its pending row. */
export async function discardBlob(deps: CoreDeps, key: BlobKey): Promise<void> {
  try {
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
  let removed = 0;
  for (const r of rows) {
    const mine = r.kind === 'delete' || r.node_id === deps.settings.nodeId || now - Number(r.created_at) > staleMs;
    if (!mine) continue;
    const used = await deps.db.selectFrom('files').select('id').where('blob_key', '=', r.blob_key).executeTakeFirst();
    if (used) {
      await deps.db.deleteFrom('blob_pending').where('blob_key', '=', r.blob_key).execute();
      continue;
    }
    await discardBlob(deps, r.blob_key as BlobKey);
    removed++;
  }
  const temp = await deps.store.sweepTemp();
  return { removed, temp };
}
