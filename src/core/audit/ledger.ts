/**
 * The ledger: an append-only, hash-chained list of events.
 *
 * Contract:
 * - Every event gets seq = previous seq + 1 and hash = SHA-256(prev_hash ‖ canonical(event)).
 *   The chain head (audit_head) is read and advanced inside the caller's write transaction, which
 *   holds the global write lock (see tx.ts), so two appends can never share a seq or a prev_hash.
 * - An event appended inside a transaction commits or rolls back with the change it describes.
 * - verifyLedger() (verify-ledger.ts) recomputes the chain from the genesis hash.
 */
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AuditEventRow, Database } from '../../ports/db-schema.js';
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
