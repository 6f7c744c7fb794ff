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
import type { Principal, RequestContext } from '../principal.js';

export type Outcome = 'success' | 'failure' | 'denied';

export interface AuditInput {
  readonly action: string;
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
    e.seq, e.ts, e.actor_type, e.actor_id, e.actor_login, e.org_id, e.protocol, e.remote_addr,
    e.action, e.target_path, e.file_id, e.sha256, e.bytes, e.outcome, e.detail, e.prev_hash,
  ]);
}

export function eventHash(e: EventFields): string {
  return createHash('sha256').update(e.prev_hash).update('\n').update(canonicalEvent(e)).digest('hex');
}

const MAX_FIELD = 1024;
const clip = (s: string | null | undefined): string | null =>
  s === undefined || s === null ? null : s.length > MAX_FIELD ? s.slice(0, MAX_FIELD) + '…' : s;

/** Appends one event inside `trx`. The caller MUST hold the write lock (tx.ts). Returns its seq. */
export async function appendEvent(trx: Transaction<Database>, now: number, input: AuditInput): Promise<number> {
  const head = await trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  const a = input.actor;
  const fields: EventFields = {
    seq: Number(head.seq) + 1,
    ts: now,
    actor_type: a ? a.kind : input.claimedLogin || input.claimedUserId ? 'user' : 'anonymous',
    actor_id: a ? a.userId : (input.claimedUserId ?? null),
    actor_login: clip(a ? a.login : (input.claimedLogin ?? null)),
    org_id: input.orgId !== undefined ? input.orgId : a ? a.orgId : null,
    protocol: a ? a.protocol : (input.ctx?.protocol ?? 'system'),
    remote_addr: clip(a ? a.remoteAddr : (input.ctx?.remoteAddr ?? null)),
    action: input.action,
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
  await trx.insertInto('audit_events').values({ ...fields, hash }).execute();
  await trx.updateTable('audit_head').set({ seq: fields.seq, hash }).where('id', '=', 1).execute();
  return fields.seq;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly events: number;
  readonly headSeq: number;
  readonly problem?: { readonly seq: number; readonly reason: string };
}

/** Recomputes the whole chain in seq order, in pages, reporting progress. */
export async function verifyLedger(db: Db, onProgress?: (done: number, total: number) => void): Promise<VerifyResult> {
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  const total = Number(head.seq);
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  let count = 0;
  const PAGE = 5000;
  for (;;) {
    const rows = await db.selectFrom('audit_events').selectAll().where('seq', '>=', expectSeq).orderBy('seq').limit(PAGE).execute();
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expectSeq) return { ok: false, events: count, headSeq: total, problem: { seq: expectSeq, reason: `event ${expectSeq} is missing` } };
      if (r.prev_hash !== prev) return { ok: false, events: count, headSeq: total, problem: { seq, reason: `event ${seq} does not link to event ${seq - 1}` } };
      const { hash, ...fields } = r;
      if (eventHash({ ...fields, seq, ts: Number(r.ts), bytes: r.bytes === null ? null : Number(r.bytes) }) !== hash) {
        return { ok: false, events: count, headSeq: total, problem: { seq, reason: `event ${seq} was altered (hash mismatch)` } };
      }
      prev = hash;
      expectSeq++;
      count++;
    }
    onProgress?.(count, total);
    if (rows.length < PAGE) break;
  }
  if (count !== total) {
    return { ok: false, events: count, headSeq: total, problem: { seq: count + 1, reason: `ledger head is at ${total} but only ${count} events chain from the start` } };
  }
  if (head.hash !== prev) {
    return { ok: false, events: count, headSeq: total, problem: { seq: total, reason: 'ledger head hash does not match the last event' } };
  }
  return { ok: true, events: count, headSeq: total };
}
