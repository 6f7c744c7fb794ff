/**
 * Signed checkpoints: every so often the ledger head (seq, hash) is signed with a key the
 * database does not hold, stored, and appended to the external sinks. Someone who controls the
 * database can recompute a self-consistent chain after editing events, but cannot sign it, and
 * cannot take back what the sinks already hold.
 *
 * Contract:
 * - createCheckpoint signs only a head that is newer than the last checkpoint, inside the write
 *   lock, so two nodes never sign different heads for one seq.
 * - The checkpoint is committed to the database before it is sent to the sinks; a sink failure
 *   is reported (the caller alerts) and the next checkpoint is sent to it again with the rest.
 */
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

/** Signs the current head if it advanced. Returns the new checkpoint, or undefined when there was nothing new. */
export async function createCheckpoint(db: Db, clock: Clock, anchors: LedgerAnchors): Promise<{ checkpoint?: Checkpoint; sinkErrors: { sink: string; error: string }[] }> {
  const cp = await writeTx(db, clock, async (s) => {
    const head = await s.trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    const last = await s.trx.selectFrom('audit_checkpoints').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const seq = Number(head.seq);
    if (seq === 0 || (last && Number(last.seq) >= seq)) return undefined;
    // Never sign a head whose chain since the last checkpoint does not hold together.
    const from = last ? Number(last.seq) : 0;
    let prev = from === 0 ? GENESIS_HASH : (await s.trx.selectFrom('audit_checkpoints').select('hash').where('seq', '=', from).executeTakeFirstOrThrow()).hash;
    for (let after = from; after < seq; ) {
      const rows = await s.trx.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(5000).execute();
      if (rows.length === 0) break;
      for (const r of rows) {
        const n = Number(r.seq);
        if (n !== after + 1 || r.prev_hash !== prev || recomputeHash(r) !== r.hash) {
          throw new CoreError('INTEGRITY', `ledger chain broken at event ${after + 1}; refusing to sign it`);
        }
        prev = r.hash;
        after = n;
      }
    }
    if (prev !== head.hash) throw new CoreError('INTEGRITY', 'ledger head does not match its chain; refusing to sign it');
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
