/**
 * Incident scope: what the given principals or addresses did in a time window, answered from
 * the ledger alone — files read (fully or partly), written and deleted, per partner organisation,
 * with bytes and data-subject counts where files carry them. Every line cites the ledger events
 * it rests on and the signed checkpoint that covers them, so the report can be verified.
 *
 * Contract: the scope reads only the ledger (and current file metadata for data-subject counts);
 * filters are combined with OR (any of the addresses, users, organisations or tokens) inside the
 * window [from, to). The query itself is recorded in the ledger.
 *
 * Canary files (ops/canaries.ts) are traps, not partner data: reads of them are listed apart, in
 * `canaryReads` (evidence that the actor went where nobody has a reason to go), and never in
 * `reads`, the organisations' impact or the totals — so no notification names a canary as leaked.
 */
import type { Scope } from '../gate.js';
import { z } from 'zod';
import type { AuditEventRow, Db } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { parseWith } from '../validate.js';
import { recordEvent } from '../tx.js';
import { CoreError } from '../errors.js';

export const scopeInput = z
  .object({
    from: z.number().int().nonnegative(),
    to: z.number().int().positive(),
    ips: z.array(z.string().max(100)).max(1000).optional(),
    users: z.array(z.string().max(64)).max(1000).optional(),
    orgs: z.array(z.string().max(400)).max(1000).optional(),
    tokens: z.array(z.string().max(64)).max(1000).optional(),
  })
  .strict();
export type ScopeInput = z.input<typeof scopeInput>;

export interface FileActivity {
  readonly fileId: string | null;
  readonly path: string;
  readonly sha256: string | null;
  readonly orgId: string | null;
  readonly org: string | null;
  /** read: complete when a whole-file read finished; partial otherwise. */
  readonly extent?: 'complete' | 'partial';
  readonly bytes: number;
  readonly times: readonly [string, string];
  readonly by: readonly string[];
  readonly addresses: readonly string[];
  readonly protocols: readonly string[];
  readonly dataSubjects: number | null;
  readonly dataCategories: readonly string[];
  readonly events: readonly number[];
  /** A canary file (a trap): never partner data. */
  readonly canary: boolean;
}

export interface OrgImpact {
  readonly orgId: string | null;
  readonly org: string | null;
  readonly ik: string | null;
  readonly contacts: readonly { email: string; name?: string }[];
  readonly filesRead: number;
  readonly filesReadCompletely: number;
  readonly bytesRead: number;
  readonly filesWritten: number;
  readonly filesDeleted: number;
  readonly dataSubjects: number;
  readonly dataCategories: readonly string[];
}

export interface IncidentScope {
  readonly generatedAt: string;
  readonly window: { readonly from: string; readonly to: string };
  readonly filters: {
    readonly ips: readonly string[];
    readonly users: readonly string[];
    readonly orgs: readonly string[];
    readonly tokens: readonly string[];
  };
  readonly actors: readonly {
    readonly login: string | null;
    readonly userId: string | null;
    readonly addresses: readonly string[];
    readonly events: number;
    readonly failedLogins: number;
  }[];
  /** Reads of partner files (canaries excluded). */
  readonly reads: readonly FileActivity[];
  /** Reads of canary files: shown as canaries, never counted as partner data. */
  readonly canaryReads: readonly FileActivity[];
  readonly writes: readonly FileActivity[];
  readonly deletes: readonly FileActivity[];
  readonly organisations: readonly OrgImpact[];
  readonly totals: {
    readonly events: number;
    readonly filesRead: number;
    readonly bytesRead: number;
    readonly filesWritten: number;
    readonly filesDeleted: number;
    readonly dataSubjects: number;
    readonly canaryReads: number;
  };
  readonly ledger: {
    readonly firstSeq: number | null;
    readonly lastSeq: number | null;
    /** The oldest signed checkpoint at or after lastSeq: it covers every cited event. */
    readonly checkpoint: { readonly seq: number; readonly hash: string; readonly keyId: string; readonly signature: string; readonly time: string } | null;
  };
}

const FILE_ACTIONS = ['file.read', 'file.read.end', 'file.write', 'file.delete', 'entry.rename'];

/** The ledger columns the scope reads (not the hashes: the report cites events by seq). */
const SCOPE_COLUMNS = [
  'seq',
  'ts',
  'actor_id',
  'actor_login',
  'org_id',
  'protocol',
  'remote_addr',
  'action',
  'target_path',
  'file_id',
  'sha256',
  'bytes',
  'outcome',
  'detail',
] as const;
type ScopeEvent = Pick<AuditEventRow, (typeof SCOPE_COLUMNS)[number]>;

/** Rows fetched per statement when the scope's events are read by seq. */
const FETCH_BATCH = 5000;

/**
 * Events in the window by any of the addresses or users (OR), oldest first, streamed. Two steps:
 * the seqs from the (remote_addr, ts, seq) and (actor_id, ts, seq) indexes alone (an index-only
 * range scan per filter: no row read, no sort of rows), then the rows in seq order, a batch at a
 * time, by primary key — each table page is visited once, in order, and only a batch is held in
 * memory. Reading all matching rows in one statement instead made PostgreSQL pick a parallel
 * scan of the time index and held every row of a busy user's month at once.
 */
async function* matchingEvents(db: Db, f: z.output<typeof scopeInput>, userIds: string[]): AsyncGenerator<ScopeEvent[]> {
  const base = () => db.selectFrom('audit_events').select('seq').where('ts', '>=', f.from).where('ts', '<', f.to);
  const queries: ReturnType<typeof base>[] = [];
  for (const ip of f.ips ?? []) queries.push(base().where('remote_addr', '=', ip));
  for (let i = 0; i < userIds.length; i += 500) queries.push(base().where('actor_id', 'in', userIds.slice(i, i + 500)));
  const found = new Set<number>();
  for (const q of queries) for (const r of await q.execute()) found.add(Number(r.seq));
  const seqs = Float64Array.from(found).sort();
  for (let i = 0; i < seqs.length; i += FETCH_BATCH) {
    const batch = Array.from(seqs.subarray(i, i + FETCH_BATCH));
    yield await db.selectFrom('audit_events').select(SCOPE_COLUMNS).where('seq', 'in', batch).orderBy('seq').execute();
  }
}

export async function incidentScope(deps: CoreDeps, sc: Scope<'incident.scope'>, input: ScopeInput): Promise<IncidentScope> {
  const p = sc.principal;
  const f = parseWith(scopeInput, input);
  if (f.to <= f.from) throw new CoreError('INVALID_INPUT', 'the window must end after it starts');
  if (!f.ips?.length && !f.users?.length && !f.orgs?.length && !f.tokens?.length) {
    throw new CoreError('INVALID_INPUT', 'name at least one address, user, organisation or token');
  }
  const { db } = deps;
  // Resolve users, organisations (→ their users) and tokens (→ their users) to user ids.
  const userIds = new Set<string>();
  for (const u of f.users ?? []) {
    const row = await db
      .selectFrom('users')
      .select('id')
      .where((eb) => eb.or([eb('login', '=', u.toLowerCase()), eb('id', '=', u)]))
      .executeTakeFirst();
    if (!row) throw new CoreError('NOT_FOUND', `user ${u.slice(0, 64)} not found`);
    userIds.add(row.id);
  }
  for (const o of f.orgs ?? []) {
    const org = await db
      .selectFrom('orgs')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', o), eb('name_key', '=', o.normalize('NFC').toLowerCase())]))
      .executeTakeFirst();
    if (!org) throw new CoreError('NOT_FOUND', `organisation ${o.slice(0, 64)} not found`);
    for (const u of await db.selectFrom('users').select('id').where('org_id', '=', org.id).execute()) userIds.add(u.id);
  }
  const tokenIds: string[] = [];
  for (const t of f.tokens ?? []) {
    const row = await db.selectFrom('tokens').select(['id', 'user_id']).where('id', '=', t).executeTakeFirst();
    if (!row) throw new CoreError('NOT_FOUND', `token ${t.slice(0, 64)} not found`);
    tokenIds.push(row.id);
    userIds.add(row.user_id);
  }
  // Only tokens named: keep the events made with those tokens (their owners' other sessions are not in scope).
  const wantedTokens = tokenIds.length && !f.ips?.length && !f.users?.length && !f.orgs?.length ? new Set(tokenIds) : undefined;

  // One pass over the events in seq order: actors, and file activity grouped per file and kind.
  const actors = new Map<string, { login: string | null; userId: string | null; addresses: Set<string>; events: number; failedLogins: number }>();
  type Acc = {
    fileId: string | null;
    path: string;
    sha256: string | null;
    orgId: string | null;
    bytes: number;
    first: number;
    last: number;
    by: Set<string>;
    addrs: Set<string>;
    protos: Set<string>;
    events: number[];
    complete: boolean;
  };
  const groups = { read: new Map<string, Acc>(), write: new Map<string, Acc>(), delete: new Map<string, Acc>() };
  // Successful reads by seq: what their end records and the no-end fallback need of them.
  const readsBySeq = new Map<number, { bytes: number | null; detail: string }>();
  // End records whose file has no read group yet (its read lies before the window and a later
  // read in the window makes the group): applied after the pass, as if all reads came first.
  const endsLater: ScopeEvent[] = [];
  const applyEnd = (e: ScopeEvent, g: Acc) => {
    const d = JSON.parse(e.detail) as { read?: number; complete?: boolean };
    const start = d.read !== undefined ? readsBySeq.get(d.read) : undefined;
    g.bytes += Number(e.bytes ?? 0);
    g.events.push(Number(e.seq));
    if (d.complete && start && !(JSON.parse(start.detail) as { range?: unknown }).range) g.complete = true;
  };
  let count = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  for await (const batch of matchingEvents(db, f, [...userIds])) {
    for (const e of batch) {
      if (wantedTokens && !wantedTokens.has((JSON.parse(e.detail) as { token?: string }).token ?? '')) continue;
      count++;
      firstSeq ??= Number(e.seq);
      lastSeq = Number(e.seq);
      const k = e.actor_id ?? `anon:${e.actor_login ?? e.remote_addr ?? '?'}`;
      const a = actors.get(k) ?? { login: e.actor_login, userId: e.actor_id, addresses: new Set<string>(), events: 0, failedLogins: 0 };
      a.events++;
      if (e.remote_addr) a.addresses.add(e.remote_addr);
      if (e.action.startsWith('auth.') && e.outcome === 'failure') a.failedLogins++;
      actors.set(k, a);

      if (!FILE_ACTIONS.includes(e.action)) continue;
      if (e.action === 'file.read.end') {
        // Bytes actually handed out, and whether a whole-file read completed.
        const g = groups.read.get(e.file_id ?? e.target_path ?? '?');
        if (g) applyEnd(e, g);
        else endsLater.push(e);
        continue;
      }
      if (e.action === 'file.read' && e.outcome === 'success')
        readsBySeq.set(Number(e.seq), { bytes: e.bytes === null ? null : Number(e.bytes), detail: e.detail });
      const kind = e.action === 'file.read' ? 'read' : e.action === 'file.write' ? 'write' : e.action === 'file.delete' ? 'delete' : undefined;
      if (!kind || e.outcome !== 'success') continue;
      const key = e.file_id ?? e.target_path ?? '?';
      const g = groups[kind].get(key) ?? {
        fileId: e.file_id,
        path: e.target_path ?? '?',
        sha256: e.sha256,
        orgId: e.org_id,
        bytes: 0,
        first: Number(e.ts),
        last: Number(e.ts),
        by: new Set(),
        addrs: new Set(),
        protos: new Set(),
        events: [],
        complete: false,
      };
      g.last = Number(e.ts);
      g.events.push(Number(e.seq));
      if (e.actor_login) g.by.add(e.actor_login);
      if (e.remote_addr) g.addrs.add(e.remote_addr);
      g.protos.add(e.protocol);
      if (kind !== 'read') g.bytes += Number(e.bytes ?? 0);
      groups[kind].set(key, g);
    }
  }
  for (const e of endsLater) {
    const g = groups.read.get(e.file_id ?? e.target_path ?? '?');
    if (g) applyEnd(e, g);
  }
  // A read with no end record (server stopped mid-transfer) counts what was granted.
  for (const g of groups.read.values()) if (g.bytes === 0) g.bytes = g.events.map((s) => readsBySeq.get(s)).reduce((n, r) => n + Number(r?.bytes ?? 0), 0);

  // Organisations and file metadata.
  const fileIds = [
    ...new Set([...groups.read.values(), ...groups.write.values(), ...groups.delete.values()].map((g) => g.fileId).filter((x): x is string => !!x)),
  ];
  const meta = new Map<string, { subjects: number | null; categories: string[] }>();
  for (let i = 0; i < fileIds.length; i += 500) {
    const rows = await db
      .selectFrom('files')
      .select(['id', 'metadata'])
      .where('id', 'in', fileIds.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      const m = JSON.parse(r.metadata) as { records?: unknown; dataSubjects?: unknown; categories?: unknown };
      const n = typeof m.dataSubjects === 'number' ? m.dataSubjects : typeof m.records === 'number' ? m.records : null;
      meta.set(r.id, { subjects: n, categories: Array.isArray(m.categories) ? m.categories.filter((c): c is string => typeof c === 'string') : [] });
    }
  }
  const canaryIds = new Set<string>();
  for (let i = 0; i < fileIds.length; i += 500) {
    const rows = await db
      .selectFrom('canaries')
      .select('file_id')
      .where('file_id', 'in', fileIds.slice(i, i + 500))
      .execute();
    for (const r of rows) canaryIds.add(r.file_id);
  }
  const orgIds = [
    ...new Set([...groups.read.values(), ...groups.write.values(), ...groups.delete.values()].map((g) => g.orgId).filter((x): x is string => !!x)),
  ];
  const orgRows = orgIds.length ? await db.selectFrom('orgs').select(['id', 'name', 'ik', 'contacts']).where('id', 'in', orgIds).execute() : [];
  const orgById = new Map(orgRows.map((o) => [o.id, o]));
  const iso = (ms: number) => new Date(ms).toISOString();
  const toActivity = (g: Acc, kind: 'read' | 'write' | 'delete'): FileActivity => ({
    fileId: g.fileId,
    path: g.path,
    sha256: g.sha256,
    orgId: g.orgId,
    org: g.orgId ? (orgById.get(g.orgId)?.name ?? null) : null,
    ...(kind === 'read' ? { extent: g.complete ? ('complete' as const) : ('partial' as const) } : {}),
    bytes: g.bytes,
    times: [iso(g.first), iso(g.last)],
    by: [...g.by].sort(),
    addresses: [...g.addrs].sort(),
    protocols: [...g.protos].sort(),
    dataSubjects: g.fileId ? (meta.get(g.fileId)?.subjects ?? null) : null,
    dataCategories: g.fileId ? (meta.get(g.fileId)?.categories ?? []) : [],
    events: g.events.sort((a, b) => a - b),
    canary: g.fileId !== null && canaryIds.has(g.fileId),
  });
  const allReads = [...groups.read.values()].map((g) => toActivity(g, 'read'));
  const reads = allReads.filter((r) => !r.canary);
  const canaryReads = allReads.filter((r) => r.canary);
  const writes = [...groups.write.values()].map((g) => toActivity(g, 'write'));
  const deletes = [...groups.delete.values()].map((g) => toActivity(g, 'delete'));

  const orgMap = new Map<
    string,
    { orgId: string | null; filesRead: number; full: number; bytesRead: number; written: number; deleted: number; subjects: number; categories: Set<string> }
  >();
  const bump = (orgId: string | null) => {
    const k = orgId ?? '-';
    const o = orgMap.get(k) ?? { orgId, filesRead: 0, full: 0, bytesRead: 0, written: 0, deleted: 0, subjects: 0, categories: new Set<string>() };
    orgMap.set(k, o);
    return o;
  };
  for (const r of reads) {
    const o = bump(r.orgId);
    o.filesRead++;
    if (r.extent === 'complete') o.full++;
    o.bytesRead += r.bytes;
    o.subjects += r.dataSubjects ?? 0;
    r.dataCategories.forEach((c) => o.categories.add(c));
  }
  for (const w of writes) if (!w.canary) bump(w.orgId).written++;
  for (const d of deletes) if (!d.canary) bump(d.orgId).deleted++;
  const organisations: OrgImpact[] = [...orgMap.values()]
    .map((o) => {
      const row = o.orgId ? orgById.get(o.orgId) : undefined;
      return {
        orgId: o.orgId,
        org: row?.name ?? null,
        ik: row?.ik ?? null,
        contacts: row ? (JSON.parse(row.contacts) as { email: string; name?: string }[]) : [],
        filesRead: o.filesRead,
        filesReadCompletely: o.full,
        bytesRead: o.bytesRead,
        filesWritten: o.written,
        filesDeleted: o.deleted,
        dataSubjects: o.subjects,
        dataCategories: [...o.categories].sort(),
      };
    })
    .sort((a, b) => b.bytesRead - a.bytesRead || (a.org ?? '').localeCompare(b.org ?? ''));

  const cp =
    lastSeq === null ? undefined : await db.selectFrom('audit_checkpoints').selectAll().where('seq', '>=', lastSeq).orderBy('seq').limit(1).executeTakeFirst();
  const result: IncidentScope = {
    generatedAt: iso(deps.clock.now()),
    window: { from: iso(f.from), to: iso(f.to) },
    filters: { ips: f.ips ?? [], users: f.users ?? [], orgs: f.orgs ?? [], tokens: f.tokens ?? [] },
    actors: [...actors.values()].map((a) => ({
      login: a.login,
      userId: a.userId,
      addresses: [...a.addresses].sort(),
      events: a.events,
      failedLogins: a.failedLogins,
    })),
    reads,
    canaryReads,
    writes,
    deletes,
    organisations,
    totals: {
      events: count,
      filesRead: reads.length,
      bytesRead: reads.reduce((n, r) => n + r.bytes, 0),
      filesWritten: writes.length,
      filesDeleted: deletes.length,
      dataSubjects: organisations.reduce((n, o) => n + o.dataSubjects, 0),
      canaryReads: canaryReads.length,
    },
    ledger: {
      firstSeq,
      lastSeq,
      checkpoint: cp ? { seq: Number(cp.seq), hash: cp.hash, keyId: cp.key_id, signature: cp.signature, time: iso(Number(cp.ts)) } : null,
    },
  };
  await recordEvent(db, deps.clock, {
    action: 'incident.scope',
    outcome: 'success',
    actor: p,
    detail: { filters: result.filters, window: result.window, events: count },
  });
  return result;
}
