/**
 * The ledger for the security officer's console (administrators; the core checks it and records
 * every search and export):
 *   GET /api/v1/admin/ledger/events   → { events, next } — filters, keyset pages (cursor)
 *   GET /api/v1/admin/ledger/export   → the whole selection, streamed as CSV or JSONL (attachment)
 *   GET /api/v1/admin/ledger/state    → head, last signed checkpoint and its age, tail chain, last
 *                                       full verification, sink health
 * CSV cells are neutralised against formula injection (csvCell: a cell starting with = + - @ tab
 * or CR gets a leading apostrophe).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  csvCell,
  LEDGER_CSV_COLUMNS,
  LEDGER_OUTCOMES,
  LEDGER_PROTOCOLS,
  ledgerCsvRow,
  type AuditEvent,
  type Core,
  type LedgerSearch,
  type LedgerState,
} from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf } from './auth.js';
import { DigitsQuery, LedgerEventSchema, Nullable, Str, Timestamp, withErrors } from './schemas.js';

const filterFields = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'window start (inclusive), ISO 8601' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'window end (exclusive), ISO 8601' })),
  user: Type.Optional(Str(256, 'login of the acting user')),
  org: Type.Optional(Str(400, 'organisation (name or id)')),
  address: Type.Optional(Str(100, 'remote address')),
  protocol: Type.Optional(Type.Union(LEDGER_PROTOCOLS.map((p) => Type.Literal(p)))),
  action: Type.Optional(Str(64, 'an action (file.read) or a family (file.*)')),
  outcome: Type.Optional(Type.Union(LEDGER_OUTCOMES.map((o) => Type.Literal(o)))),
  fileId: Type.Optional(Str(64)),
  path: Type.Optional(Str(4096, 'a path: events on it and below it')),
  order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')], { description: 'desc (newest first, default) or asc' })),
};
const PageQuery = Type.Object(
  {
    ...filterFields,
    cursor: Type.Optional(Str(32, 'the `next` of the previous page')),
    limit: Type.Optional(DigitsQuery('events per page (≤ 1000, default 100)')),
  },
  { additionalProperties: false },
);
const ExportQuery = Type.Object(
  { ...filterFields, format: Type.Union([Type.Literal('csv'), Type.Literal('jsonl')], { description: 'csv or jsonl' }) },
  { additionalProperties: false },
);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const StateOut = Type.Object({
  checkedAt: Timestamp,
  head: Type.Object({ seq: Type.Integer(), time: Nullable(Timestamp) }),
  checkpoint: Nullable(
    Type.Object({
      seq: Type.Integer(),
      time: Timestamp,
      ageSeconds: Type.Integer({ description: 'age of the last signed checkpoint' }),
      keyId: Type.String(),
      signatureValid: Nullable(Type.Boolean({ description: 'null: no signing key here' })),
    }),
  ),
  tail: Type.Object({
    events: Type.Integer({ description: 'events after the last checkpoint' }),
    chain: Type.Union([Type.Literal('intact'), Type.Literal('broken'), Type.Literal('unchecked')]),
    brokenAt: Type.Optional(Type.Integer()),
  }),
  lastVerification: Nullable(Type.Object({ time: Timestamp, ok: Type.Boolean(), by: Nullable(Type.String()), problem: Nullable(Type.String()) })),
  signing: Type.Boolean({ description: 'whether this server signs checkpoints' }),
  sinks: Type.Array(
    Type.Object({
      name: Type.String(),
      healthy: Type.Boolean(),
      holdsLastCheckpoint: Nullable(Type.Boolean()),
      lastFailure: Nullable(Type.Object({ time: Timestamp, error: Nullable(Type.String()) })),
    }),
  ),
});
const stateJson = (s: LedgerState): Static<typeof StateOut> => ({
  checkedAt: new Date(s.checkedAt).toISOString(),
  head: { seq: s.head.seq, time: iso(s.head.time) },
  checkpoint: s.checkpoint
    ? {
        seq: s.checkpoint.seq,
        time: new Date(s.checkpoint.time).toISOString(),
        ageSeconds: Math.floor(s.checkpoint.ageMs / 1000),
        keyId: s.checkpoint.keyId,
        signatureValid: s.checkpoint.signatureValid,
      }
    : null,
  tail: { ...s.tail },
  lastVerification: s.lastVerification ? { ...s.lastVerification, time: new Date(s.lastVerification.time).toISOString() } : null,
  signing: s.signing,
  sinks: s.sinks.map((k) => ({ ...k, lastFailure: k.lastFailure ? { ...k.lastFailure, time: new Date(k.lastFailure.time).toISOString() } : null })),
});

/** Query string → the core's filter (times as milliseconds). */
function filterOf(q: Omit<Static<typeof PageQuery>, 'cursor' | 'limit'>): LedgerSearch {
  const time = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const ms = Date.parse(v);
    if (!Number.isFinite(ms) || ms < 0) throw new CoreError('INVALID_INPUT', `${name} must be an ISO 8601 time`);
    return ms;
  };
  const { from, to, ...rest } = q;
  const f: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) f[k] = v;
  const fromMs = time(from, 'from');
  const toMs = time(to, 'to');
  return { ...f, ...(fromMs !== undefined ? { from: fromMs } : {}), ...(toMs !== undefined ? { to: toMs } : {}) } as LedgerSearch;
}

async function* csvLines(events: AsyncIterable<AuditEvent>): AsyncGenerator<string> {
  // A byte order mark, so spreadsheet programs read the UTF-8 (umlauts in names and paths) as such.
  yield '\uFEFF' + LEDGER_CSV_COLUMNS.map(csvCell).join(',') + '\r\n';
  for await (const e of events) yield ledgerCsvRow(e).map(csvCell).join(',') + '\r\n';
}
async function* jsonLines(events: AsyncIterable<AuditEvent>): AsyncGenerator<string> {
  for await (const e of events) yield JSON.stringify(e) + '\n';
}

export async function ledgerRoutes(app: FastifyInstance, deps: { core: Core }): Promise<void> {
  const { core } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/admin/ledger/events',
    {
      schema: {
        summary: 'Search the ledger: filters, newest first by default, in keyset pages (the search is recorded)',
        description:
          'Every filter is ANDed. Pass `next` as `cursor` for the following page; a page costs the same however deep. action takes a family such as file.*; path matches the path and everything below it.',
        tags: ['ledger'],
        querystring: PageQuery,
        response: withErrors({ 200: Type.Object({ events: Type.Array(LedgerEventSchema), next: Type.Optional(Type.String()) }) }),
      },
    },
    async (req) => {
      const { cursor, limit, ...rest } = req.query;
      const page = await core.audit.search(principalOf(req), {
        ...filterOf(rest),
        ...(cursor !== undefined ? { cursor } : {}),
        ...(limit !== undefined ? { limit: Number(limit) } : {}),
      });
      return { events: [...page.events], ...(page.next !== undefined ? { next: page.next } : {}) };
    },
  );

  r.get(
    '/api/v1/admin/ledger/export',
    {
      schema: {
        summary: 'Export the events a search selects, streamed as CSV or JSONL (the export is recorded first)',
        description:
          'The same filters as /ledger/events, without pages: every matching event, in the order asked for. CSV: UTF-8 with a byte order mark, CRLF, every cell quoted, and a cell that starts with = + - @ tab or CR prefixed with an apostrophe (no formula runs in a spreadsheet). JSONL: one event per line.',
        tags: ['ledger'],
        querystring: ExportQuery,
        response: withErrors({ 200: Type.String({ description: 'text/csv or application/x-ndjson' }) }),
      },
    },
    async (req, reply) => {
      const { format, ...rest } = req.query;
      const events = await core.audit.export(principalOf(req), filterOf(rest), format);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="sluice-ledger-${stamp}.${format}"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(format === 'csv' ? csvLines(events) : jsonLines(events)));
    },
  );

  r.get(
    '/api/v1/admin/ledger/state',
    {
      schema: {
        summary: 'How trustworthy the ledger is now: head, last signed checkpoint and its age, chain since it, last full verification, sinks',
        description:
          'Cheap enough for a console page: the chain is checked from the last checkpoint to the head (up to 50,000 events; beyond that "unchecked"); a full check is GET /admin/audit/verify.',
        tags: ['ledger'],
        response: withErrors({ 200: StateOut }),
      },
    },
    async (req) => stateJson(await core.audit.state(principalOf(req))),
  );
}
