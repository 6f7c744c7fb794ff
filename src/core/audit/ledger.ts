/**
 * The ledger: an append-only, hash-chained list of events.
 *
 * Contract:
 * - Every event gets seq = previous seq + 1 and hash = SHA-256(prev_hash ‖ canonical(event)).
 *   The chain head (audit_head) is read and advanced inside the caller's write transaction, which
 *   holds the global write lock (see tx.ts), so two appends can never share a seq or a prev_hash.
 * - An event appended inside a transaction commits or rolls back with the change it describes.
 * - verify() recomputes the chain from the genesis hash; any changed, removed, inserted or
 *   reordered event, or a head that does not match the last event, is reported with its seq.
 */
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AuditEventRow, Database, Db } from '../../ports/db-schema.js';
import { GENESIS_HASH } from '../../ports/db-schema.js';
import { checkpointMessage } from '../../ports/ledger-anchor.js';
import { listCheckpoints, type LedgerAnchors } from './checkpoints.js';
import type { Principal, RequestContext } from '../principal.js';
import { isAction, ledgerName, type Action } from '../actions.js';

export type Outcome = 'success' | 'failure' | 'denied';

export interface AuditInput {
  /** An action of the table (actions.ts); recorded under its ledger name. */
  readonly action: Action;
  readonly outcome: Outcome;
  readonly actor?: Principal | undefined;
  /** For events without a principal (failed logins): who was claimed and from where. */
  readonly ctx?: RequestContext | undefined;
  readonly claimedLogin?: string | undefined;
  readonly claimedUserId?: string | undefined;
  readonly orgId?: string | null | undefined;
  readonly targetPath?: string | null | undefined;
  readonly fileId?: string | null | undefined;
  readonly sha256?: string | null | undefined;
  readonly bytes?: number | null | undefined;
  readonly detail?: Record<string, unknown> | undefined;
}

type EventFields = Omit<AuditEventRow, 'hash'>;

/** The exact bytes that are hashed: a JSON array in a fixed field order. */
export function canonicalEvent(e: EventFields): string {
  return JSON.stringify([
    e.seq,
    e.ts,
    e.actor_type,
    e.actor_id,
    e.actor_login,
    e.org_id,
    e.protocol,
    e.remote_addr,
    e.action,
    e.target_path,
    e.file_id,
    e.sha256,
    e.bytes,
    e.outcome,
    e.detail,
    e.prev_hash,
  ]);
}

export function eventHash(e: EventFields): string {
  return createHash('sha256').update(e.prev_hash).update('\n').update(canonicalEvent(e)).digest('hex');
}

/** The hash a stored event row should have (values normalised as the dialects return them). */
export function recomputeHash(r: AuditEventRow): string {
  const { hash: _stored, ...fields } = r;
  return eventHash({ ...fields, seq: Number(r.seq), ts: Number(r.ts), bytes: r.bytes === null ? null : Number(r.bytes) });
}

const MAX_FIELD = 1024;
const clip = (s: string | null | undefined): string | null => (s === undefined || s === null ? null : s.length > MAX_FIELD ? s.slice(0, MAX_FIELD) + '…' : s);
/**
 * A login as a client claimed it (failed sign-ins): control characters, line and paragraph
 * separators and unpaired surrogates become \u{…} escapes, so the claimed name can neither forge a
 * log or CSV line nor change when PostgreSQL stores it (which would break the event's hash).
 */
const claimed = (s: string | undefined): string | null =>
  s === undefined
    ? null
    : s.replace(
        /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
        (c) => `\\u{${c.charCodeAt(0).toString(16)}}`,
      );

/** Appends one event inside `trx`. The caller MUST hold the write lock (tx.ts). Returns its seq. */
export async function appendEvent(trx: Transaction<Database>, now: number, input: AuditInput): Promise<number> {
  // The type says so; this holds it against a cast or a value from outside the type checker.
  if (!isAction(input.action)) throw new Error(`refusing to record an unknown action ${JSON.stringify(String(input.action).slice(0, 40))}`);
  const head = await trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  const a = input.actor;
  const fields: EventFields = {
    seq: Number(head.seq) + 1,
    ts: now,
    actor_type: a ? a.kind : input.claimedLogin || input.claimedUserId ? 'user' : 'anonymous',
    actor_id: a ? a.userId : (input.claimedUserId ?? null),
    actor_login: clip(a ? a.login : claimed(input.claimedLogin)),
    org_id: input.orgId !== undefined ? input.orgId : a ? a.orgId : null,
    protocol: a ? a.protocol : (input.ctx?.protocol ?? 'system'),
    remote_addr: clip(a ? a.remoteAddr : (input.ctx?.remoteAddr ?? null)),
    action: ledgerName(input.action),
    target_path: clip(input.targetPath ?? null),
    file_id: input.fileId ?? null,
    sha256: input.sha256 ?? null,
    bytes: input.bytes ?? null,
    outcome: input.outcome,
    detail: JSON.stringify({
      ...(a?.tokenId ? { token: a.tokenId } : {}),
      ...(a ? { method: a.method } : {}),
      ...(a?.client || input.ctx?.client ? { client: clip(a?.client ?? input.ctx?.client ?? null) } : {}),
      ...(input.detail ?? {}),
    }),
    prev_hash: head.hash,
  };
  const hash = eventHash(fields);
  await trx
    .insertInto('audit_events')
    .values({ ...fields, hash })
    .execute();
  await trx.updateTable('audit_head').set({ seq: fields.seq, hash }).where('id', '=', 1).execute();
  return fields.seq;
}

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
