/**
 * Reading the ledger: events by time window, actor, file, address or action, oldest first, in
 * pages. For administrators and the security officer; every query is itself recorded.
 */
import type { Scope } from '../gate.js';
import { z } from 'zod';
import type { AuditEventRow, Db } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { parseWith } from '../validate.js';
import { recordEvent } from '../tx.js';

export interface AuditEvent {
  readonly seq: number;
  readonly time: string;
  readonly actorType: string;
  readonly actorId: string | null;
  readonly login: string | null;
  readonly orgId: string | null;
  readonly protocol: string;
  readonly remoteAddr: string | null;
  readonly action: string;
  readonly path: string | null;
  readonly fileId: string | null;
  readonly sha256: string | null;
  readonly bytes: number | null;
  readonly outcome: string;
  readonly detail: Record<string, unknown>;
  readonly hash: string;
}

export const auditFilter = z
  .object({
    from: z.number().int().nonnegative().optional(),
    to: z.number().int().nonnegative().optional(),
    login: z.string().max(64).optional(),
    userId: z.string().max(64).optional(),
    orgId: z.string().max(64).optional(),
    fileId: z.string().max(64).optional(),
    remoteAddr: z.string().max(100).optional(),
    action: z.string().max(64).optional(),
    afterSeq: z.number().int().nonnegative().optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();
export type AuditFilter = z.input<typeof auditFilter>;

export async function queryEvents(db: Db, filter: AuditFilter): Promise<AuditEvent[]> {
  const f = parseWith(auditFilter, filter);
  // Two steps: the seqs of the page from an index alone ((actor_id, ts, seq), (remote_addr, ts,
  // seq), (file_id, seq): no row is read to find and order them), then only the page's rows.
  // Reading and sorting every matching row first cost a busy user's week of events per page.
  let page = db
    .selectFrom('audit_events')
    .select('seq')
    .orderBy('seq')
    .limit(f.limit ?? 1000);
  if (f.afterSeq !== undefined) page = page.where('seq', '>', f.afterSeq);
  if (f.from !== undefined) page = page.where('ts', '>=', f.from);
  if (f.to !== undefined) page = page.where('ts', '<', f.to);
  if (f.login !== undefined) {
    // By user id where the user exists (the actor index); by the recorded login otherwise.
    const u = await db.selectFrom('users').select('id').where('login', '=', f.login.toLowerCase()).executeTakeFirst();
    page = u ? page.where('actor_id', '=', u.id) : page.where('actor_login', '=', f.login.toLowerCase());
  }
  if (f.userId !== undefined) page = page.where('actor_id', '=', f.userId);
  if (f.orgId !== undefined) page = page.where('org_id', '=', f.orgId);
  if (f.fileId !== undefined) page = page.where('file_id', '=', f.fileId);
  if (f.remoteAddr !== undefined) page = page.where('remote_addr', '=', f.remoteAddr);
  if (f.action !== undefined) page = page.where('action', '=', f.action);
  const q = db.selectFrom('audit_events').selectAll().where('seq', 'in', page).orderBy('seq');
  const rows = await q.execute();
  return rows.map(toAuditEvent);
}

/** A ledger row as the API shows it. */
export function toAuditEvent(r: AuditEventRow): AuditEvent {
  return {
    seq: Number(r.seq),
    time: new Date(Number(r.ts)).toISOString(),
    actorType: r.actor_type,
    actorId: r.actor_id,
    login: r.actor_login,
    orgId: r.org_id,
    protocol: r.protocol,
    remoteAddr: r.remote_addr,
    action: r.action,
    path: r.target_path,
    fileId: r.file_id,
    sha256: r.sha256,
    bytes: r.bytes === null ? null : Number(r.bytes),
    outcome: r.outcome,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    hash: r.hash,
  };
}

export async function listEvents(deps: CoreDeps, sc: Scope<'audit.query'>, filter: AuditFilter): Promise<AuditEvent[]> {
  const p = sc.principal;
  const events = await queryEvents(deps.db, filter);
  await recordEvent(deps.db, deps.clock, { action: 'audit.query', outcome: 'success', actor: p, detail: { filter, results: events.length } });
  return events;
}
