/**
 * Signed checkpoints: every so often the ledger head (seq, hash) is signed with a key the
 * database does not hold, stored, and appended to the external sinks. Someone who controls the
 * database can recompute a self-consistent chain after editing events, but cannot sign it, and
 * cannot take back what the sinks already hold.
 *
 * Contract:
 * - createCheckpoint signs only a head that is newer than the last checkpoint, inside the write
 *   lock, so two nodes never sign different heads for one seq.
 * - It never signs a head whose chain since the last checkpoint does not verify (seq, prev_hash
 *   and hash of every event). The long part is verified before the write lock is taken (events
 *   are appended, never changed, so what verified stays verified); under the lock only the
 *   events appended since then are, so a busy ledger does not hold every writer for the whole
 *   check (60,000 events: 0.4 s); between pages the event loop takes a turn (SQLite's calls are
 *   synchronous), so neither are the process's sessions.
 * - The checkpoint is committed to the database before it is sent to the sinks; a sink failure
 *   is reported (the caller alerts) and the next checkpoint is sent to it again with the rest.
 */
import { setImmediate } from 'node:timers/promises';
import { checkpointMessage, type AnchorSink, type Checkpoint, type LedgerSigner } from '../../ports/ledger-anchor.js';
import type { Db } from '../../ports/db-schema.js';
import type { Clock } from '../../ports/clock.js';
import { writeTx } from '../tx.js';
import { CoreError } from '../errors.js';
import { GENESIS_HASH } from '../../ports/db-schema.js';
import { recomputeHash } from './ledger.js';

export interface LedgerAnchors {
  readonly signer: LedgerSigner;
  readonly sinks: readonly AnchorSink[];
}

const toCheckpoint = (r: { seq: number; hash: string; ts: number; key_id: string; signature: string }): Checkpoint => ({
  seq: Number(r.seq),
  hash: r.hash,
  ts: Number(r.ts),
  keyId: r.key_id,
  signature: r.signature,
});

export async function listCheckpoints(db: Db): Promise<Checkpoint[]> {
  const rows = await db.selectFrom('audit_checkpoints').selectAll().orderBy('seq').execute();
  return rows.map(toCheckpoint);
}

/** A point of the chain known to hold together up to it: an event's seq and hash. */
export interface ChainPoint {
  readonly seq: number;
  readonly hash: string;
}

/** The newest checkpoint, or the genesis before the first event. */
export async function lastCheckpoint(db: Db): Promise<ChainPoint> {
  const r = await db.selectFrom('audit_checkpoints').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return r ? { seq: Number(r.seq), hash: r.hash } : { seq: 0, hash: GENESIS_HASH };
}

/** Rows read at a time while verifying (bounded memory). */
const VERIFY_PAGE = 1000;

/**
 * Verifies the events after `from` up to `to` (inclusive) and returns the chain point at `to`.
 * Throws INTEGRITY at the first event that is missing, out of order, or whose hashes do not hold.
 */
export async function verifyChain(db: Db, from: ChainPoint, to: number): Promise<ChainPoint> {
  const broken = (seq: number) => new CoreError('INTEGRITY', `ledger chain broken at event ${seq}; refusing to sign it`);
  let at = from;
  while (at.seq < to) {
    const rows = await db.selectFrom('audit_events').selectAll().where('seq', '>', at.seq).where('seq', '<=', to).orderBy('seq').limit(VERIFY_PAGE).execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      if (Number(r.seq) !== at.seq + 1 || r.prev_hash !== at.hash || recomputeHash(r) !== r.hash) throw broken(at.seq + 1);
      at = { seq: at.seq + 1, hash: r.hash };
    }
    // SQLite answers synchronously: without a turn of the event loop between pages, a long check
    // would hold every session of the process as well. (A check of one page — the tail verified
    // under the write lock, usually — takes none.)
    if (at.seq < to) await setImmediate();
  }
  if (at.seq !== to) throw broken(at.seq + 1);
  return at;
}

/** Signs the current head if it advanced. Returns the new checkpoint, or undefined when there was nothing new. */
export async function createCheckpoint(
  db: Db,
  clock: Clock,
  anchors: LedgerAnchors,
): Promise<{ checkpoint?: Checkpoint; sinkErrors: { sink: string; error: string }[] }> {
  // Outside the write lock: the chain from the last checkpoint to the head as it is now.
  const before = await lastCheckpoint(db);
  const head0 = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  const verified = Number(head0.seq) > before.seq ? await verifyChain(db, before, Number(head0.seq)) : before;
  const cp = await writeTx(db, clock, async (s) => {
    const head = await s.trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    const last = await lastCheckpoint(s.trx);
    const seq = Number(head.seq);
    if (seq === 0 || last.seq >= seq) return undefined;
    if (seq < verified.seq) throw new CoreError('INTEGRITY', 'ledger head moved backwards; refusing to sign it');
    // Continue from what was verified (or from a newer checkpoint another node signed meanwhile).
    const end = await verifyChain(s.trx, last.seq > verified.seq ? last : verified, seq);
    if (end.hash !== head.hash) throw new CoreError('INTEGRITY', 'ledger head does not match its chain; refusing to sign it');
    const signature = anchors.signer.sign(checkpointMessage(seq, head.hash, s.now));
    const row = { seq, hash: head.hash, ts: s.now, key_id: anchors.signer.keyId, signature };
    await s.trx.insertInto('audit_checkpoints').values(row).execute();
    return toCheckpoint(row);
  });
  const sinkErrors: { sink: string; error: string }[] = [];
  if (cp) {
    for (const sink of anchors.sinks) {
      try {
        await sink.append(cp);
      } catch (e) {
        sinkErrors.push({ sink: sink.name, error: (e as Error).message });
      }
    }
  }
  return { ...(cp ? { checkpoint: cp } : {}), sinkErrors };
}
