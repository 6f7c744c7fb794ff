/**
 * The backup lease (contract in files/blobs.ts): while it is active no blob that a committed file
 * referenced is deleted, so every blob of the backup's snapshot can still be copied.
 */
import { randomUUID } from 'node:crypto';
import type { CoreDeps } from '../deps.js';
import { BACKUP_LEASE_PREFIX } from '../files/blobs.js';

/** How long a lease lasts without a refresh (a crashed backup stops deferring deletions after this). */
export const LEASE_MS = 10 * 60_000;
const REFRESH_MS = 60_000;

export interface Lease {
  readonly key: string;
  /** Stops refreshing and deletes the lease. Safe to call more than once. */
  release(): Promise<void>;
}

/** Commits a lease (before the snapshot is opened) and refreshes it every minute until released. */
export async function acquireLease(deps: CoreDeps, holder: string): Promise<Lease> {
  const key = `${BACKUP_LEASE_PREFIX}${randomUUID()}`;
  const value = () => JSON.stringify({ until: deps.clock.now() + LEASE_MS, node: deps.settings.nodeId, holder });
  await deps.db.insertInto('settings').values({ key, value: value() }).execute();
  let refreshing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    refreshing = deps.db
      .updateTable('settings')
      .set({ value: value() })
      .where('key', '=', key)
      .execute()
      .catch((e: unknown) => deps.log.warn({ err: e }, 'backup lease could not be refreshed'));
  }, REFRESH_MS);
  timer.unref();
  let released = false;
  return {
    key,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await refreshing;
      await deps.db.deleteFrom('settings').where('key', '=', key).execute();
    },
  };
}
