/**
 * Write transactions. Every change to data runs in writeTx, which holds the global write lock (a
 * row lock on the ledger head: an UPDATE that takes the lock on PostgreSQL and the RESERVED lock
 * on SQLite), so the ledger chain advances strictly in order and the change and its ledger event
 * commit together or not at all.
 *
 * Group commit. A durable commit costs an fsync (SQLite synchronous=FULL; PostgreSQL's WAL flush,
 * which here cannot be shared between sessions because the head lock is held until it is done),
 * so one transaction per event capped the ledger at a few hundred events per second. Write
 * transactions that wait for the lock in this process are therefore run one after the other
 * inside ONE database transaction and committed together:
 *
 *   BEGIN; lock the head;
 *     <caller 1's fn>                              (on error: ROLLBACK, the others start anew)
 *     SAVEPOINT m; <caller 2's fn>; RELEASE m      (on error: ROLLBACK TO m; RELEASE m)
 *     SAVEPOINT m; <caller 3's fn>; RELEASE m
 *     …
 *   COMMIT
 *
 * Contract (what callers may rely on, exactly as without grouping):
 * - A caller's promise resolves only after the COMMIT that made its change and its events
 *   durable has returned; if that COMMIT fails, every caller in the group is rejected and none of
 *   their changes exist.
 * - A caller whose fn throws is rejected with that error and its changes (rows and events) are
 *   rolled back (to its savepoint, or the whole transaction when it is the first); the others in
 *   the group are not affected. Its events never
 *   existed for the chain: the head is rolled back with them.
 * - Callers run strictly one at a time, in arrival order, each seeing the changes of those
 *   before it (as if each had committed before the next took the lock). `now` is read when a
 *   caller's turn starts.
 * - If the database drops the whole transaction under a caller (SQLite rolls back by itself on
 *   some I/O errors; a lost connection), the savepoint is gone: the group is abandoned and every
 *   caller in it is rejected.
 * - fn must not start another writeTx and wait for it (that would wait for itself, as it
 *   always did on the lock).
 *
 * Relaxed commits ({ durable: false }). Only for events whose loss on a power failure (not on a
 * process crash) is acceptable: they are committed without waiting for the disk (SQLite
 * synchronous=NORMAL for that commit, set before BEGIN as SQLite requires; PostgreSQL
 * synchronous_commit=off for the transaction), and become durable with the next durable commit
 * (the log is written in order). A group is durable when any caller waiting at its start is
 * durable (the relaxed ones gain durability); a relaxed group admits no durable caller that
 * arrives while it runs (that one starts the next group). Every other guarantee above holds.
 * MUST NOT be used for an event that has to be on disk before the caller acts on it (a read's
 * event before its first byte, a change's event).
 *
 * Lazy commits ({ durable: false, lazy: true }). For a relaxed event nobody waits for soon (the
 * end of a download): it waits up to LAZY_MS for the next group and is committed in it, so a
 * stream of downloads pays one transaction per file, not two, and the ledger pages both events
 * touch are written once. When no other write comes, it is committed alone after LAZY_MS;
 * flushWrites commits it at once (shutdown). On top of a relaxed commit's risk it can be lost by
 * a process crash within LAZY_MS of its call; the same rule of use applies.
 */
import { PostgresAdapter, sql, type ControlledTransaction, type Kysely, type Transaction } from 'kysely';
import type { Database, Db } from '../ports/db-schema.js';
import type { Clock } from '../ports/clock.js';
import { appendEvent, type AuditInput } from './audit/ledger.js';

export interface WriteScope {
  readonly trx: Transaction<Database>;
  readonly now: number;
  audit(input: AuditInput): Promise<number>;
}

interface Member {
  readonly durable: boolean;
  readonly lazy: boolean;
  readonly run: (trx: Transaction<Database>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Queue {
  readonly waiting: Member[];
  /** The drain loop while it runs. */
  draining: Promise<void> | undefined;
  /** Set while only lazy callers wait: commits them when it fires. */
  timer: NodeJS.Timeout | undefined;
  /** Counters for tests and the benchmark: committed groups and the callers in them. */
  commits: number;
  members: number;
}

/** At most this many callers share one commit, so none waits long behind a busy stream. */
const MAX_GROUP = 64;
/** How long a lazy caller waits for a group to join before it is committed alone. */
export const LAZY_MS = 20;
const queues = new WeakMap<Db, Queue>();

export interface TxOptions {
  /** false: a relaxed commit (see above). Default true. */
  readonly durable?: boolean;
  /** With durable: false: a lazy commit (see above). */
  readonly lazy?: boolean;
}

export function writeTx<T>(db: Db, clock: Clock, fn: (s: WriteScope) => Promise<T>, opts: TxOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let q = queues.get(db);
    if (!q) queues.set(db, (q = { waiting: [], draining: undefined, timer: undefined, commits: 0, members: 0 }));
    const durable = opts.durable !== false;
    q.waiting.push({
      durable,
      lazy: !durable && opts.lazy === true,
      run: (trx) => {
        const now = clock.now();
        return fn({ trx, now, audit: (input) => appendEvent(trx, now, input) });
      },
      resolve: resolve as (value: unknown) => void,
      reject,
    });
    kick(db, q);
  });
}

/** Starts the drain loop, or (only lazy callers waiting) the timer that will. */
function kick(db: Db, q: Queue): void {
  if (q.draining || q.waiting.length === 0) return;
  if (q.waiting.every((m) => m.lazy)) {
    q.timer ??= setTimeout(() => {
      q.timer = undefined;
      if (!q.draining) startDrain(db, q, true);
    }, LAZY_MS);
    return;
  }
  if (q.timer) clearTimeout(q.timer);
  q.timer = undefined;
  startDrain(db, q, false);
}

/** Commits every waiting caller, the lazy ones included, and waits until none is left (shutdown). */
export async function flushWrites(db: Db): Promise<void> {
  const q = queues.get(db);
  if (!q) return;
  while (q.draining || q.waiting.length) {
    if (q.timer) clearTimeout(q.timer);
    q.timer = undefined;
    if (!q.draining) startDrain(db, q, true);
    await q.draining;
  }
}

/** Records one event on its own (denials, failed logins, reads). Committed when it returns. */
export function recordEvent(db: Db, clock: Clock, input: AuditInput, opts?: TxOptions): Promise<number> {
  return writeTx(db, clock, (s) => s.audit(input), opts);
}

/** How many groups were committed on `db` and how many callers they held (tests, benchmark). */
export function groupCommitStats(db: Db): { commits: number; members: number } {
  const q = queues.get(db);
  return { commits: q?.commits ?? 0, members: q?.members ?? 0 };
}

/**
 * Commits groups while a caller that does not want to wait is among the waiting (all: any). The
 * loop starts in a microtask, after q.draining is set, so its end always clears a current value.
 */
function startDrain(db: Db, q: Queue, all: boolean): void {
  q.draining = Promise.resolve().then(async () => {
    try {
      while (q.waiting.length && (all || q.waiting.some((m) => !m.lazy))) await commitGroup(db, q);
    } finally {
      q.draining = undefined;
      kick(db, q);
    }
  });
}

/** A group is durable when any caller it starts with is. */
const groupIsDurable = (q: Queue) => q.waiting.slice(0, MAX_GROUP).some((m) => m.durable);

const isPostgres = (db: Db) => db.getExecutor().adapter instanceof PostgresAdapter;

/** Runs one group; a relaxed one on SQLite with the connection's safety level lowered around it. */
async function commitGroup(db: Db, q: Queue): Promise<void> {
  const durable = groupIsDurable(q);
  if (durable || isPostgres(db)) return runGroup(db, q, durable);
  // The pragma may not change inside a transaction, and it is the connection's: the connection is
  // held from before BEGIN until the level is back at FULL, so no other statement runs relaxed.
  await db.connection().execute(async (c) => {
    await sql`pragma synchronous = normal`.execute(c);
    try {
      await runGroup(c, q, false);
    } finally {
      await sql`pragma synchronous = full`.execute(c);
    }
  });
}

/** Runs one group: begin + lock, the waiting callers each in a savepoint, commit, then settle. */
async function runGroup(db: Kysely<Database>, q: Queue, durable: boolean): Promise<void> {
  let trx: ControlledTransaction<Database>;
  try {
    trx = await db.startTransaction().execute();
  } catch (e) {
    q.waiting.shift()!.reject(e);
    return;
  }
  // The lock is taken outside any savepoint: on PostgreSQL a row lock taken in a rolled-back
  // savepoint would be released with it.
  try {
    await trx
      .updateTable('audit_head')
      .set((eb) => ({ seq: eb.ref('seq') }))
      .where('id', '=', 1)
      .execute();
    if (!durable && isPostgres(db)) await sql`set local synchronous_commit = off`.execute(trx);
  } catch (e) {
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
    q.waiting.shift()!.reject(e);
    return;
  }
  // Savepoint commands are typed by name; one name, released before the next caller's turn.
  const sp = trx as unknown as ControlledTransaction<Database, ['m']>;
  const done: { m: Member; value: unknown }[] = [];
  let broken: unknown;
  // The first caller needs no savepoint: if it fails, nothing else is in the transaction yet,
  // so the whole transaction is rolled back (and the others start a new one). A lone writer
  // thus pays exactly what it paid before grouping.
  const first = q.waiting.shift()!;
  try {
    done.push({ m: first, value: await first.run(trx) });
  } catch (err) {
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
    first.reject(err);
    return;
  }
  while (q.waiting.length && done.length < MAX_GROUP) {
    // A relaxed group ends before the next durable caller: that one starts a durable group.
    if (!durable && q.waiting[0]!.durable) break;
    const m = q.waiting.shift()!;
    try {
      await trx.savepoint('m').execute();
    } catch (e) {
      broken = e;
      m.reject(e);
      break;
    }
    let value: unknown;
    try {
      value = await m.run(trx);
    } catch (err) {
      try {
        await sp.rollbackToSavepoint('m').execute();
        await sp.releaseSavepoint('m').execute();
      } catch (e) {
        broken = e;
        m.reject(err);
        break;
      }
      m.reject(err);
      continue;
    }
    try {
      // Fails when the database dropped the transaction under the caller: then nothing of the
      // group is left to commit.
      await sp.releaseSavepoint('m').execute();
    } catch (e) {
      broken = e;
      m.reject(e);
      break;
    }
    done.push({ m, value });
  }
  if (broken === undefined) {
    try {
      await trx.commit().execute();
    } catch (e) {
      broken = e;
    }
  }
  if (broken !== undefined) {
    if (!trx.isCommitted && !trx.isRolledBack)
      await trx
        .rollback()
        .execute()
        .catch(() => undefined);
    for (const d of done) d.m.reject(broken);
    return;
  }
  q.commits++;
  q.members += done.length;
  for (const d of done) d.m.resolve(d.value);
}
