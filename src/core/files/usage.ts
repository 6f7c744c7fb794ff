/**
 * Storage used per organisation, for quotas. orgs.used_bytes is kept by the transactions that add,
 * remove or move file rows, so a quota check reads one row instead of summing the sizes of all
 * the organisation's files (which grows with every file it keeps).
 *
 * Contract: a transaction that inserts or deletes a `files` row, or changes its `org_id` or
 * `size`, MUST call countFile for it in the same transaction (+size where it arrives, −size where
 * it leaves). Write transactions are serialised (tx.ts takes the ledger head's lock first), so a
 * quota read inside one is not raced by another writer.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../ports/db-schema.js';

/** Adds `delta` bytes to the usage of organisation `orgId` (nothing for a file without one). */
export async function countFile(trx: Transaction<Database>, orgId: string | null, delta: number): Promise<void> {
  if (!orgId || delta === 0) return;
  await trx
    .updateTable('orgs')
    .set((eb) => ({ used_bytes: eb('used_bytes', '+', delta) }))
    .where('id', '=', orgId)
    .execute();
}

/** Bytes the organisation may still add under its quota (Infinity without a quota or organisation). */
export async function quotaRoom(db: Kysely<Database>, orgId: string | null): Promise<number> {
  if (!orgId) return Infinity;
  const org = await db.selectFrom('orgs').select(['quota_bytes', 'used_bytes']).where('id', '=', orgId).executeTakeFirst();
  if (!org || org.quota_bytes === null) return Infinity;
  return Number(org.quota_bytes) - Number(org.used_bytes);
}
