/**
 * Verifying the ledger: any changed, removed, inserted or reordered event, a head that does not
 * match the last event, a checkpoint that does not match the chain or its signature, or a sink's
 * checkpoint missing from the database, is reported with its seq.
 */
import type { Db } from '../../ports/db-schema.js';
import { GENESIS_HASH } from '../../ports/db-schema.js';
import { checkpointMessage } from '../../ports/ledger-anchor.js';
import { listCheckpoints, type LedgerAnchors } from './checkpoints.js';
import { recomputeHash } from './ledger.js';

export interface VerifyProblem {
  /** The first event that cannot be trusted (0 when the problem is not tied to one event). */
  readonly seq: number;
  readonly reason: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly events: number;
  readonly headSeq: number;
  /** Signed checkpoints that matched the chain. */
  readonly checkpoints: number;
  /** The newest event covered by a valid signed checkpoint (0 if none). */
  readonly signedThrough: number;
  /** Checkpoints found in each external sink. */
  readonly sinks: readonly { readonly name: string; readonly checkpoints: number }[];
  readonly problem?: VerifyProblem;
  /** Findings that do not break the chain (e.g. a sink missing the newest checkpoint). */
  readonly warnings: readonly string[];
}

/**
 * Verifies the whole ledger: recomputes the hash chain from the genesis hash, checks every
 * signed checkpoint against the chain and its signature, and checks that every checkpoint held
 * by an external sink is in the database unchanged. Reports the first problem precisely.
 */
export async function verifyLedger(
  db: Db,
  opts: { anchors?: LedgerAnchors | undefined; onProgress?: ((done: number, total: number) => void) | undefined } = {},
): Promise<VerifyResult> {
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  const total = Number(head.seq);
  const cps = await listCheckpoints(db);
  const bySeq = new Map(cps.map((c) => [c.seq, c]));
  const warnings: string[] = [];
  let count = 0;
  let checked = 0;
  let signedThrough = 0;
  const sinks: { name: string; checkpoints: number }[] = [];
  const result = (problem?: VerifyProblem): VerifyResult => ({
    ok: !problem,
    events: count,
    headSeq: total,
    checkpoints: checked,
    signedThrough,
    sinks,
    warnings,
    ...(problem ? { problem } : {}),
  });

  // 1. Checkpoint signatures, and what the external sinks hold.
  if (opts.anchors) {
    for (const c of cps) {
      if (!opts.anchors.signer.verify(checkpointMessage(c.seq, c.hash, c.ts), c.signature, c.keyId)) {
        return {
          ok: false,
          events: 0,
          headSeq: total,
          checkpoints: 0,
          signedThrough: 0,
          sinks,
          warnings,
          problem: { seq: c.seq, reason: `the signature of checkpoint ${c.seq} is invalid (checkpoint forged or altered)` },
        };
      }
    }
    for (const sink of opts.anchors.sinks) {
      if (!sink.readAll) continue;
      const held = await sink.readAll();
      sinks.push({ name: sink.name, checkpoints: held.length });
      for (const h of held) {
        const mine = bySeq.get(h.seq);
        if (h.seq < 0)
          return {
            ok: false,
            events: 0,
            headSeq: total,
            checkpoints: 0,
            signedThrough: 0,
            sinks,
            warnings,
            problem: { seq: 0, reason: `${sink.name} holds a damaged line` },
          };
        if (!mine) {
          return {
            ok: false,
            events: 0,
            headSeq: total,
            checkpoints: 0,
            signedThrough: 0,
            sinks,
            warnings,
            problem: { seq: h.seq, reason: `checkpoint ${h.seq} held by ${sink.name} is missing from the database (ledger rolled back or rewritten)` },
          };
        }
        if (mine.hash !== h.hash || mine.signature !== h.signature) {
          return {
            ok: false,
            events: 0,
            headSeq: total,
            checkpoints: 0,
            signedThrough: 0,
            sinks,
            warnings,
            problem: { seq: h.seq, reason: `checkpoint ${h.seq} differs from the one held by ${sink.name} (ledger rewritten)` },
          };
        }
      }
      const heldSeqs = new Set(held.map((h) => h.seq));
      const missing = cps.filter((c) => !heldSeqs.has(c.seq));
      if (missing.length) warnings.push(`${sink.name} lacks ${missing.length} checkpoint(s), the newest ${missing.at(-1)!.seq} (sink was unreachable?)`);
    }
  }

  // 2. The chain, checking each checkpointed hash on the way.
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  let lastGood = 0; // newest checkpoint seq the chain matched
  const PAGE = 5000;
  for (;;) {
    const rows = await db.selectFrom('audit_events').selectAll().where('seq', '>=', expectSeq).orderBy('seq').limit(PAGE).execute();
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expectSeq) return result({ seq: expectSeq, reason: `event ${expectSeq} is missing` });
      if (r.prev_hash !== prev) return result({ seq, reason: `event ${seq} does not link to event ${seq - 1}` });
      const hash = r.hash;
      if (recomputeHash(r) !== hash) {
        return result({ seq, reason: `event ${seq} was altered (hash mismatch)` });
      }
      const cp = bySeq.get(seq);
      if (cp) {
        if (cp.hash !== hash) {
          return result({
            seq: lastGood + 1,
            reason: `events after ${lastGood} up to ${seq} were rewritten: the chain no longer matches signed checkpoint ${seq}`,
          });
        }
        lastGood = seq;
        if (opts.anchors) {
          checked++;
          signedThrough = seq;
        }
      }
      prev = hash;
      expectSeq++;
      count++;
    }
    opts.onProgress?.(count, total);
    if (rows.length < PAGE) break;
  }
  if (count !== total) return result({ seq: count + 1, reason: `ledger head is at ${total} but only ${count} events chain from the start` });
  if (head.hash !== prev) return result({ seq: total, reason: 'ledger head hash does not match the last event' });
  const beyond = cps.filter((c) => c.seq > total);
  if (beyond.length) return result({ seq: total + 1, reason: `checkpoint ${beyond[0]!.seq} covers events that are gone (ledger truncated)` });
  if (opts.anchors && total > signedThrough) warnings.push(`events ${signedThrough + 1}–${total} are not yet covered by a signed checkpoint`);
  return result();
}
