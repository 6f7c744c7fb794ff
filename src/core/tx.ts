/**
 * Write transactions. Every change to data runs in writeTx, which first takes the global write
 * lock (a row lock on the ledger head: an UPDATE that takes the lock on PostgreSQL and the
 * RESERVED lock on SQLite), so the ledger chain advances strictly in order and the change and
 * its ledger event commit together or not at all.
 */
import type { Transaction } from 'kysely';
import type { Database, Db } from '../ports/db-schema.js';
import type { Clock } from '../ports/clock.js';
import { appendEvent, type AuditInput } from './audit/ledger.js';

export interface WriteScope {
  readonly trx: Transaction<Database>;
  readonly now: number;
  audit(input: AuditInput): Promise<number>;
}

export async function writeTx<T>(db: Db, clock: Clock, fn: (s: WriteScope) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await trx.updateTable('audit_head').set((eb) => ({ seq: eb.ref('seq') })).where('id', '=', 1).execute();
    const now = clock.now();
    return fn({ trx, now, audit: (input) => appendEvent(trx, now, input) });
  });
}

/** Records one event on its own (denials, failed logins, reads). Committed when it returns. */
export function recordEvent(db: Db, clock: Clock, input: AuditInput): Promise<number> {
  return writeTx(db, clock, (s) => s.audit(input));
}
