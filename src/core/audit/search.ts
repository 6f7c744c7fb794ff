/**
 * The security officer's view of the ledger: events filtered by time window, user, organisation,
 * address, protocol, action, outcome, file and path, in keyset pages (a cursor names the last
 * event seen; no OFFSET, so page 10,000 costs what page 1 costs), newest or oldest first; and the
 * same selection as one stream for export (CSV or JSONL, written by the front end).
 *
 * Contract:
 * - Administrators only; every search and every export is itself recorded (audit.search,
 *   audit.export — the export before its first event is handed out, like a file read).
 * - Each filter is served by an index that ends in seq (migrations 007, 009, 016), so the seqs of
 *   a page come from the index and only the page's rows are read.
 * - A cursor is opaque to clients; a forged one can only move the page, never widen the filter.
 */
import { z } from 'zod';
import type { SelectQueryBuilder } from 'kysely';
import type { Database, Db } from '../../ports/db-schema.js';
import type { Scope } from '../gate.js';
import type { CoreDeps } from '../deps.js';
import { CoreError } from '../errors.js';
import { parseWith } from '../validate.js';
import { recordEvent } from '../tx.js';
import { toAuditEvent, type AuditEvent } from './query.js';

export const LEDGER_PROTOCOLS = ['http', 'web', 'sftp', 'cli', 'system'] as const;
export const LEDGER_OUTCOMES = ['success', 'failure', 'denied'] as const;

export const ledgerSearch = z
  .object({
    /** Window start (inclusive) and end (exclusive), milliseconds. */
    from: z.number().int().nonnegative().optional(),
    to: z.number().int().nonnegative().optional(),
    /** The acting user's login (the recorded login when the user no longer exists). */
    user: z.string().min(1).max(256).optional(),
    /** Organisation by name or id: events recorded with that organisation. */
    org: z.string().min(1).max(400).optional(),
    address: z.string().min(1).max(100).optional(),
    protocol: z.enum(LEDGER_PROTOCOLS).optional(),
    /** An action ("file.read"), or a family of them ending in ".*" ("file.*"). */
    action: z
      .string()
      .max(64)
      .regex(/^[a-z0-9_.-]+(\.\*)?$/, 'an action such as file.read, or a family such as file.*')
      .optional(),
    outcome: z.enum(LEDGER_OUTCOMES).optional(),
    fileId: z.string().min(1).max(64).optional(),
    /** A path: events on it and on anything below it. */
    path: z.string().min(1).max(4096).optional(),
    order: z.enum(['asc', 'desc']).optional(),
    cursor: z
      .string()
      .regex(/^[ad][0-9]{1,15}$/, 'not a cursor of this ledger')
      .optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  })
  .strict();
export type LedgerSearch = z.input<typeof ledgerSearch>;
type Parsed = z.output<typeof ledgerSearch>;

export interface LedgerPage {
  readonly events: readonly AuditEvent[];
  /** Cursor of the next page; absent on the last one. */
  readonly next?: string;
}

type SeqQuery = SelectQueryBuilder<Database, 'audit_events', { seq: number }>;

/** The filter's WHERE clauses on a query of audit_events (ids resolved first). */
async function filtered(db: Db, f: Parsed): Promise<(q: SeqQuery) => SeqQuery> {
  let userId: string | undefined;
  let login: string | undefined;
  if (f.user !== undefined) {
    const u = await db.selectFrom('users').select('id').where('login', '=', f.user.toLowerCase()).executeTakeFirst();
    if (u) userId = u.id;
    else login = f.user.toLowerCase();
  }
  let orgId: string | undefined;
  if (f.org !== undefined) {
    const o = await db
      .selectFrom('orgs')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', f.org!), eb('name_key', '=', f.org!.normalize('NFC').toLowerCase())]))
      .executeTakeFirst();
    // An organisation that no longer exists may still have events under its id.
    orgId = o?.id ?? f.org;
  }
  const path = f.path?.normalize('NFC').replace(/\/+$/, '');
  return (q) => {
    if (f.from !== undefined) q = q.where('ts', '>=', f.from);
    if (f.to !== undefined) q = q.where('ts', '<', f.to);
    if (userId !== undefined) q = q.where('actor_id', '=', userId);
    if (login !== undefined) q = q.where('actor_login', '=', login);
    if (orgId !== undefined) q = q.where('org_id', '=', orgId);
    if (f.address !== undefined) q = q.where('remote_addr', '=', f.address);
    if (f.protocol !== undefined) q = q.where('protocol', '=', f.protocol);
    if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
    if (f.fileId !== undefined) q = q.where('file_id', '=', f.fileId);
    if (f.action !== undefined) {
      if (f.action.endsWith('.*')) {
        // A family: compared by prefix (a range would depend on the database's collation).
        const stem = f.action.slice(0, -1);
        q = q.where((eb) => eb(eb.fn('substr', ['action', eb.val(1), eb.val(stem.length)]), '=', stem));
      } else q = q.where('action', '=', f.action);
    }
    if (path !== undefined && path !== '') {
      q = q.where((eb) => eb.or([eb('target_path', '=', path), eb(eb.fn('substr', ['target_path', eb.val(1), eb.val(path.length + 1)]), '=', path + '/')]));
    }
    return q;
  };
}

function cursorOf(order: 'asc' | 'desc', seq: number): string {
  return `${order === 'asc' ? 'a' : 'd'}${seq}`;
}

/** One page of events matching the filter. */
export async function searchPage(db: Db, input: LedgerSearch): Promise<LedgerPage> {
  const f = parseWith(ledgerSearch, input);
  const order = f.order ?? 'desc';
  if (f.cursor !== undefined && (f.cursor[0] === 'a') !== (order === 'asc')) throw new CoreError('INVALID_INPUT', 'the cursor belongs to the other order');
  const limit = f.limit ?? 100;
  const where = await filtered(db, f);
  let page = where(db.selectFrom('audit_events').select('seq') as SeqQuery)
    .orderBy('seq', order)
    .limit(limit + 1);
  if (f.cursor !== undefined) page = page.where('seq', order === 'asc' ? '>' : '<', Number(f.cursor.slice(1)));
  const seqs = (await page.execute()).map((r) => Number(r.seq));
  const more = seqs.length > limit;
  const wanted = seqs.slice(0, limit);
  const rows = wanted.length ? await db.selectFrom('audit_events').selectAll().where('seq', 'in', wanted).orderBy('seq', order).execute() : [];
  const events = rows.map(toAuditEvent);
  return { events, ...(more ? { next: cursorOf(order, wanted.at(-1)!) } : {}) };
}

/** Every event matching the filter, oldest first (or newest first), a page at a time. */
export async function* searchAll(db: Db, input: LedgerSearch): AsyncGenerator<AuditEvent> {
  const { cursor: _c, limit: _l, ...rest } = parseWith(ledgerSearch, input);
  let cursor: string | undefined;
  for (;;) {
    const page = await searchPage(db, { ...rest, limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
    for (const e of page.events) yield e;
    if (page.next === undefined) return;
    cursor = page.next;
    // SQLite answers synchronously: a long export yields to the process's other sessions.
    await new Promise<void>((r) => setImmediate(r));
  }
}

export function createLedgerSearch(deps: CoreDeps) {
  return {
    /** One page (default 100, newest first); pass `next` back as `cursor` for the following one. */
    async search(sc: Scope<'audit.search'>, filter: LedgerSearch): Promise<LedgerPage> {
      const p = sc.principal;
      const page = await searchPage(deps.db, filter);
      await recordEvent(deps.db, deps.clock, { action: 'audit.search', outcome: 'success', actor: p, detail: { filter, results: page.events.length } });
      return page;
    },
    /**
     * The whole selection as a stream of events (no cursor, no limit). The export is recorded
     * before the first event is handed out; the caller writes it as CSV or JSONL.
     */
    async export(sc: Scope<'audit.export'>, filter: LedgerSearch, format: 'csv' | 'jsonl'): Promise<AsyncGenerator<AuditEvent>> {
      const p = sc.principal;
      const { cursor: _c, limit: _l, ...rest } = parseWith(ledgerSearch, filter);
      await recordEvent(deps.db, deps.clock, { action: 'audit.export', outcome: 'success', actor: p, detail: { filter: rest, format } });
      return searchAll(deps.db, rest);
    },
  };
}

/** The columns of a CSV export, in order. */
export const LEDGER_CSV_COLUMNS = [
  'seq',
  'time',
  'actor_type',
  'login',
  'actor_id',
  'org_id',
  'protocol',
  'remote_addr',
  'action',
  'path',
  'file_id',
  'sha256',
  'bytes',
  'outcome',
  'detail',
  'hash',
] as const;

export const ledgerCsvRow = (e: AuditEvent): unknown[] => [
  e.seq,
  e.time,
  e.actorType,
  e.login,
  e.actorId,
  e.orgId,
  e.protocol,
  e.remoteAddr,
  e.action,
  e.path,
  e.fileId,
  e.sha256,
  e.bytes,
  e.outcome,
  JSON.stringify(e.detail),
  e.hash,
];
