/**
 * Incident response for the security officer's console (administrators; the core checks it and
 * records each step) — the same core calls as `sluice incident scope|notify|report`:
 *   POST /api/v1/admin/incident/scope            → summary and the three tables (files, partners,
 *                                                  data subjects), each cut at `limit` rows, saying so
 *   POST /api/v1/admin/incident/scope/download   → one table as CSV or JSON, or the whole scope (attachment)
 *   POST /api/v1/admin/incident/notify           → one notification draft per affected partner, for review
 *   POST /api/v1/admin/incident/report           → the GDPR Art. 33 skeleton in one language (JSON or Markdown)
 * Each takes the scope's filters (window, addresses, users, organisations, tokens) and computes the
 * scope from the ledger; nothing large is uploaded. Times are shown in the configured time zone,
 * which the answers name.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { scopeCsv, scopeTable, tableCsv, TABLE_NAMES, type Core, type IncidentScope, type ScopeInput, type Table } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf } from './auth.js';
import { DigitsQuery, Str, withErrors } from './schemas.js';

const Lang = Type.Union([Type.Literal('de'), Type.Literal('en')], { description: 'language of the output (de or en)' });
const list = (item: ReturnType<typeof Str>, description: string) => Type.Optional(Type.Array(item, { maxItems: 1000, description }));
const scopeFields = {
  from: Type.String({ format: 'date-time', description: 'window start (inclusive), ISO 8601' }),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'window end (exclusive), ISO 8601; default now' })),
  addresses: list(Str(100), 'remote addresses'),
  users: list(Str(64), 'logins'),
  orgs: list(Str(400), 'organisations (name or id): all their users'),
  tokens: list(Str(64), 'API token ids'),
};
const ScopeBody = Type.Object(scopeFields, { additionalProperties: false });
type ScopeFilters = Static<typeof ScopeBody>;

const Cell = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
const TableOut = Type.Object({
  name: Type.String(),
  columns: Type.Array(Type.String()),
  timeColumns: Type.Array(Type.String()),
  rows: Type.Array(Type.Record(Type.String(), Cell)),
  total: Type.Integer({ description: 'rows before the cut' }),
  cut: Type.Boolean({ description: 'true when rows were left off (limit)' }),
});
const ScopeOut = Type.Object({
  generatedAt: Type.String(),
  timeZone: Type.String({ description: 'the zone of every time in the tables' }),
  window: Type.Object({ from: Type.String(), to: Type.String() }),
  filters: Type.Object({
    ips: Type.Array(Type.String()),
    users: Type.Array(Type.String()),
    orgs: Type.Array(Type.String()),
    tokens: Type.Array(Type.String()),
  }),
  totals: Type.Record(Type.String(), Type.Integer()),
  actors: Type.Array(
    Type.Object({
      login: Type.Union([Type.String(), Type.Null()]),
      addresses: Type.Array(Type.String()),
      events: Type.Integer(),
      failedLogins: Type.Integer(),
    }),
  ),
  ledger: Type.Object({
    firstSeq: Type.Union([Type.Integer(), Type.Null()]),
    lastSeq: Type.Union([Type.Integer(), Type.Null()]),
    checkpoint: Type.Union([Type.Object({ seq: Type.Integer(), hash: Type.String(), keyId: Type.String(), time: Type.String() }), Type.Null()]),
  }),
  tables: Type.Object({ files: TableOut, partners: TableOut, subjects: TableOut }),
});

const DraftOut = Type.Object({
  orgId: Type.Union([Type.String(), Type.Null()]),
  org: Type.Union([Type.String(), Type.Null()]),
  to: Type.Array(Type.String()),
  subject: Type.String(),
  text: Type.String(),
  lang: Type.String(),
});

const ms = (v: string, name: string) => {
  const t = Date.parse(v);
  if (!Number.isFinite(t) || t < 0) throw new CoreError('INVALID_INPUT', `${name} must be an ISO 8601 time`);
  return t;
};
function scopeInput(b: ScopeFilters): ScopeInput {
  return {
    from: ms(b.from, 'from'),
    to: b.to === undefined ? Date.now() + 1 : ms(b.to, 'to'),
    ...(b.addresses?.length ? { ips: b.addresses } : {}),
    ...(b.users?.length ? { users: b.users } : {}),
    ...(b.orgs?.length ? { orgs: b.orgs } : {}),
    ...(b.tokens?.length ? { tokens: b.tokens } : {}),
  };
}
const tableJson = (t: Table) => ({ ...t, columns: [...t.columns], timeColumns: [...t.timeColumns], rows: t.rows.map((r) => ({ ...r })) });
const attachment = (reply: FastifyReply, type: string, name: string) =>
  reply.header('content-type', type).header('content-disposition', `attachment; filename="${name}"`).header('cache-control', 'no-store');

export async function incidentRoutes(app: FastifyInstance, deps: { core: Core; timeZone: string }): Promise<void> {
  const { core, timeZone } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const scopeOf = (req: Parameters<typeof principalOf>[0], body: ScopeFilters): Promise<IncidentScope> =>
    core.incident.scope(principalOf(req), scopeInput(body));

  r.post(
    '/api/v1/admin/incident/scope',
    {
      schema: {
        summary: 'Incident scope: what the given addresses, users, organisations or tokens did in a window, as tables',
        description:
          'Filters are ORed inside the window. Tables: files (reads, canary reads, writes, deletes), partners (per affected organisation), subjects (data subjects per organisation). Canary files are traps: they appear as kind canary-read and never count for a partner. Each table holds at most `limit` rows (default 500) and says when it was cut; downloads hold every row.',
        tags: ['incident'],
        querystring: Type.Object({ limit: Type.Optional(DigitsQuery('rows per table at most (default 500)')) }, { additionalProperties: false }),
        body: ScopeBody,
        response: withErrors({ 200: ScopeOut }),
      },
    },
    async (req) => {
      const s = await scopeOf(req, req.body);
      const limit = req.query.limit !== undefined ? Number(req.query.limit) : 500;
      const table = (name: (typeof TABLE_NAMES)[number]) => tableJson(scopeTable(s, name, { timeZone, limit }));
      return {
        generatedAt: s.generatedAt,
        timeZone,
        window: s.window,
        filters: { ips: [...s.filters.ips], users: [...s.filters.users], orgs: [...s.filters.orgs], tokens: [...s.filters.tokens] },
        totals: { ...s.totals },
        actors: s.actors.map((a) => ({ login: a.login, addresses: [...a.addresses], events: a.events, failedLogins: a.failedLogins })),
        ledger: {
          firstSeq: s.ledger.firstSeq,
          lastSeq: s.ledger.lastSeq,
          checkpoint: s.ledger.checkpoint
            ? { seq: s.ledger.checkpoint.seq, hash: s.ledger.checkpoint.hash, keyId: s.ledger.checkpoint.keyId, time: s.ledger.checkpoint.time }
            : null,
        },
        tables: { files: table('files'), partners: table('partners'), subjects: table('subjects') },
      };
    },
  );

  r.post(
    '/api/v1/admin/incident/scope/download',
    {
      schema: {
        summary: 'Download an incident scope table (files, partners, subjects) as CSV or JSON, or the whole scope (table=scope)',
        description:
          'Every row, uncut. CSV: UTF-8 with a byte order mark, formula cells neutralised, the time zone named in the header. table=scope&format=json is the same JSON as `sluice incident scope --json`.',
        tags: ['incident'],
        querystring: Type.Object(
          {
            table: Type.Union([...TABLE_NAMES.map((n) => Type.Literal(n)), Type.Literal('scope')]),
            format: Type.Union([Type.Literal('csv'), Type.Literal('json')]),
          },
          { additionalProperties: false },
        ),
        body: ScopeBody,
        response: withErrors({ 200: Type.String({ description: 'text/csv or application/json' }) }),
      },
    },
    async (req, reply) => {
      const s = await scopeOf(req, req.body);
      const { table, format } = req.query;
      const stamp = s.generatedAt.replace(/[:.]/g, '-');
      const name = `sluice-incident-${table}-${stamp}.${format}`;
      if (table === 'scope') {
        if (format === 'json') return attachment(reply, 'application/json; charset=utf-8', name).send(JSON.stringify(s, null, 2) + '\n');
        return attachment(reply, 'text/csv; charset=utf-8', name).send('\uFEFF' + scopeCsv(s));
      }
      const t = scopeTable(s, table, { timeZone });
      if (format === 'json')
        return attachment(reply, 'application/json; charset=utf-8', name).send(JSON.stringify({ timeZone, ...tableJson(t) }, null, 2) + '\n');
      return attachment(reply, 'text/csv; charset=utf-8', name).send(tableCsv(t, timeZone));
    },
  );

  r.post(
    '/api/v1/admin/incident/notify',
    {
      schema: {
        summary: 'Notification drafts: one message per affected partner, for review (nothing is sent)',
        description:
          'From the editable templates (DATA_DIR/templates/notify.LANG.txt). Canary files are never named as leaked partner data; a long file list is cut and says so. Sending stays with `sluice incident notify --send`.',
        tags: ['incident'],
        body: Type.Object({ ...scopeFields, lang: Type.Optional(Lang), sender: Type.Optional(Str(200, 'signature line')) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Object({ timeZone: Type.String(), drafts: Type.Array(DraftOut), withoutContact: Type.Array(Type.String()) }) }),
      },
    },
    async (req) => {
      const { lang, sender, ...filters } = req.body;
      const p = principalOf(req);
      const s = await core.incident.scope(p, scopeInput(filters));
      const res = await core.incident.notify(p, s, { lang: lang ?? 'de', ...(sender !== undefined ? { sender } : {}) });
      return {
        timeZone,
        drafts: res.drafts.map((d) => ({ orgId: d.orgId, org: d.org, to: [...d.to], subject: d.subject, text: d.text, lang: d.lang })),
        withoutContact: res.withoutContact,
      };
    },
  );

  r.post(
    '/api/v1/admin/incident/report',
    {
      schema: {
        summary: 'The GDPR Art. 33 notification skeleton, entirely in one language (lang=de|en)',
        description:
          'Markdown, times in the configured time zone with the zone named, canary reads listed as canaries apart from partner data, measures from the ledger. format=md answers the Markdown as an attachment.',
        tags: ['incident'],
        querystring: Type.Object(
          { lang: Type.Optional(Lang), format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('md')])) },
          { additionalProperties: false },
        ),
        body: ScopeBody,
        response: withErrors({ 200: Type.Object({ lang: Type.String(), timeZone: Type.String(), markdown: Type.String() }) }),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const lang = req.query.lang ?? 'de';
      const s = await core.incident.scope(p, scopeInput(req.body));
      const markdown = await core.incident.report(p, s, { lang });
      if (req.query.format === 'md') {
        return attachment(reply, 'text/markdown; charset=utf-8', `sluice-art33-${lang}-${s.generatedAt.replace(/[:.]/g, '-')}.md`).send(markdown);
      }
      return { lang, timeZone, markdown };
    },
  );
}
