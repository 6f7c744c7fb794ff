/**
 * Administration over REST (administrators; the core enforces it on every call) and API tokens
 * (a user manages their own, administrators everyone's).
 *
 *   GET/POST        /api/v1/admin/orgs                 GET/PATCH /api/v1/admin/orgs/:ref (id or name)
 *   GET(?org=)/POST /api/v1/admin/users                GET/PATCH /api/v1/admin/users/:login
 *   GET/POST        /api/v1/admin/users/:login/keys    DELETE    /api/v1/admin/users/:login/keys/:id
 *   GET/POST/DELETE /api/v1/admin/users/:login/mfa     POST      /api/v1/admin/users/:login/mfa/{confirm,recovery-codes}
 *   GET/POST        /api/v1/admin/folders
 *   GET(?path=&subject=)/PUT/DELETE /api/v1/admin/grants
 *   GET             /api/v1/admin/audit/verify
 *   POST/GET(?login=) /api/v1/tokens                   DELETE    /api/v1/tokens/:id
 *
 * Timestamps are ISO 8601 strings on the wire (milliseconds in the core).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LOCKDOWN_MODES, SWITCHABLE, type Core, type Grant, type LockdownState, type Org, type SshKey, type TokenInfo, type User } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf } from './auth.js';
import { entryJson } from './routes-fs.js';
import {
  DigitsQuery,
  LedgerEventSchema,
  MfaCodeBody,
  MfaEnrolmentSchema,
  MfaRecoveryCodesSchema,
  MfaStatusSchema,
  mfaEnrolmentOut,
  mfaStatusOut,
  Nullable,
  PathString,
  Str,
  Timestamp,
  withErrors,
} from './schemas.js';

const isoOrNull = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const NullableTimestamp = Nullable(Timestamp);

/** ISO 8601 date-time (or null) from the wire → milliseconds for the core. */
function msFrom(field: string, v: string | null | undefined): number | null | undefined {
  if (v === undefined || v === null) return v;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms) || ms <= 0) throw new CoreError('INVALID_INPUT', `${field} must be an ISO 8601 date-time`);
  return ms;
}

// --- organisations -----------------------------------------------------------------------------
const ContactSchema = Type.Object({ name: Type.Optional(Str(200)), email: Str(254), role: Type.Optional(Str(100)) }, { additionalProperties: false });
const OrgFields = {
  name: Str(400, 'organisation name (unique, case-insensitive)'),
  ik: Type.Optional(Type.String({ pattern: '^[0-9]{9}$', description: 'Institutionskennzeichen (9 digits)' })),
  betriebsnummer: Type.Optional(Type.String({ pattern: '^[0-9]{8}$' })),
  contacts: Type.Optional(Type.Array(ContactSchema, { maxItems: 50 })),
  quotaBytes: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))),
  budgetFiles: Type.Optional(
    Nullable(
      Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'files the organisation may download per budget window (null: default)' }),
    ),
  ),
  budgetBytes: Type.Optional(
    Nullable(
      Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'bytes the organisation may download per budget window (null: default)' }),
    ),
  ),
};
const OrgCreate = Type.Object(OrgFields, { additionalProperties: false });
const OrgPatch = Type.Object(
  {
    name: Type.Optional(OrgFields.name),
    ik: OrgFields.ik,
    betriebsnummer: OrgFields.betriebsnummer,
    contacts: OrgFields.contacts,
    quotaBytes: OrgFields.quotaBytes,
    budgetFiles: OrgFields.budgetFiles,
    budgetBytes: OrgFields.budgetBytes,
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
  },
  { additionalProperties: false },
);
const OrgOut = Type.Object({
  id: Type.String(),
  name: Type.String(),
  ik: Nullable(Type.String()),
  betriebsnummer: Nullable(Type.String()),
  contacts: Type.Array(Type.Object({ name: Type.Optional(Type.String()), email: Type.String(), role: Type.Optional(Type.String()) })),
  quotaBytes: Nullable(Type.Integer()),
  usedBytes: Type.Integer({ description: "bytes of the organisation's files, what its quota counts" }),
  budgetFiles: Nullable(Type.Integer()),
  budgetBytes: Nullable(Type.Integer()),
  status: Type.String(),
  createdAt: Timestamp,
});
const orgJson = (o: Org) => ({
  ...o,
  contacts: o.contacts.map((c) => ({ email: c.email, ...(c.name !== undefined ? { name: c.name } : {}), ...(c.role !== undefined ? { role: c.role } : {}) })),
  createdAt: new Date(o.createdAt).toISOString(),
});

// --- users -------------------------------------------------------------------------------------
const Role = Type.Union([Type.Literal('partner'), Type.Literal('staff'), Type.Literal('admin')]);
const UserCreate = Type.Object(
  {
    login: Str(256),
    org: Type.Optional(Str(400)),
    role: Type.Optional(Role),
    password: Type.Optional(Str(1024)),
    generatePassword: Type.Optional(Type.Boolean({ description: 'without password: generate one and return it once' })),
    displayName: Type.Optional(Str(200)),
    email: Type.Optional(Str(254)),
    expiresAt: Type.Optional(NullableTimestamp),
    decoy: Type.Optional(Type.Boolean({ description: 'a trap account: no credential works, every sign-in attempt raises DECOY_LOGIN' })),
  },
  { additionalProperties: false },
);
const UserPatch = Type.Object(
  {
    role: Type.Optional(Role),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
    password: Type.Optional(Str(1024)),
    displayName: Type.Optional(Nullable(Str(200))),
    email: Type.Optional(Nullable(Str(254))),
    expiresAt: Type.Optional(NullableTimestamp),
    unlock: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
const UserOut = Type.Object({
  id: Type.String(),
  login: Type.String(),
  orgId: Nullable(Type.String()),
  org: Nullable(Type.String()),
  role: Type.String(),
  status: Type.String(),
  displayName: Nullable(Type.String()),
  email: Nullable(Type.String()),
  lastLoginAt: NullableTimestamp,
  lockedUntil: NullableTimestamp,
  expiresAt: NullableTimestamp,
  createdAt: Timestamp,
});
const userJson = (u: User) => ({
  ...u,
  lastLoginAt: isoOrNull(u.lastLoginAt),
  lockedUntil: isoOrNull(u.lockedUntil),
  expiresAt: isoOrNull(u.expiresAt),
  createdAt: new Date(u.createdAt).toISOString(),
});

// --- keys, folders, grants, tokens ---------------------------------------------------------------
const KeyOut = Type.Object({ id: Type.String(), algorithm: Type.String(), fingerprint: Type.String(), comment: Nullable(Type.String()), createdAt: Timestamp });
const keyJson = (k: SshKey) => ({ ...k, createdAt: new Date(k.createdAt).toISOString() });

const FolderOut = Type.Object({ id: Type.String(), path: Type.String(), org: Nullable(Type.String()), createdAt: Timestamp });
const GrantOut = Type.Object({
  id: Type.String(),
  path: Type.String(),
  subject: Type.String(),
  subjectType: Type.String(),
  permissions: Type.String(),
  createdAt: Timestamp,
});
const grantJson = (g: Grant) => ({ ...g, createdAt: new Date(g.createdAt).toISOString() });
const Subject = Str(500, 'LOGIN, user:LOGIN or org:NAME');
const Permissions = Type.Union([Str(200, 'comma list of list,read,write,delete,manage (or all)'), Type.Array(Str(20), { maxItems: 10 })]);

const TokenOut = Type.Object({
  id: Type.String(),
  login: Type.String(),
  name: Nullable(Type.String()),
  createdAt: Timestamp,
  expiresAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
  lastUsedAt: NullableTimestamp,
});
const tokenJson = (t: TokenInfo) => ({
  ...t,
  createdAt: new Date(t.createdAt).toISOString(),
  expiresAt: isoOrNull(t.expiresAt),
  revokedAt: isoOrNull(t.revokedAt),
  lastUsedAt: isoOrNull(t.lastUsedAt),
});

const RefParam = Type.Object({ ref: Str(400) });
const LoginParam = Type.Object({ login: Str(256) });

export async function adminRoutes(app: FastifyInstance, deps: { core: Core }): Promise<void> {
  const { core } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = core.admin;

  // Organisations
  r.get(
    '/api/v1/admin/orgs',
    {
      schema: {
        summary: 'List organisations',
        description: 'With `q`: those whose name contains it, or whose IK number or Betriebsnummer is exactly it.',
        tags: ['admin'],
        querystring: Type.Object({ q: Type.Optional(Str(200)) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Array(OrgOut) }),
      },
    },
    async (req) => (await admin.orgs.list(principalOf(req), { q: req.query.q })).map(orgJson),
  );
  r.post(
    '/api/v1/admin/orgs',
    { schema: { summary: 'Create an organisation', tags: ['admin'], body: OrgCreate, response: withErrors({ 201: OrgOut }) } },
    async (req, reply) => reply.code(201).send(orgJson(await admin.orgs.create(principalOf(req), req.body))),
  );
  r.get(
    '/api/v1/admin/orgs/:ref',
    { schema: { summary: 'One organisation (by id or name)', tags: ['admin'], params: RefParam, response: withErrors({ 200: OrgOut }) } },
    async (req) => orgJson(await admin.orgs.get(principalOf(req), req.params.ref)),
  );
  r.patch(
    '/api/v1/admin/orgs/:ref',
    {
      schema: {
        summary: 'Change an organisation (name, numbers, contacts, quota, status)',
        tags: ['admin'],
        params: RefParam,
        body: OrgPatch,
        response: withErrors({ 200: OrgOut }),
      },
    },
    async (req) => orgJson(await admin.orgs.update(principalOf(req), req.params.ref, req.body)),
  );

  // Users
  r.get(
    '/api/v1/admin/users',
    {
      schema: {
        summary: 'List users',
        tags: ['admin'],
        querystring: Type.Object({ org: Type.Optional(Str(400)) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Array(UserOut) }),
      },
    },
    async (req) => (await admin.users.list(principalOf(req), req.query.org !== undefined ? { org: req.query.org } : {})).map(userJson),
  );
  r.post(
    '/api/v1/admin/users',
    {
      schema: {
        summary: 'Create a user',
        description:
          'Partners and staff need an organisation. Without a password the user can sign in only with an SSH key, unless generatePassword is set: then a password is generated and returned once.',
        tags: ['admin'],
        body: UserCreate,
        response: withErrors({ 201: Type.Object({ user: UserOut, password: Type.Optional(Type.String()) }) }),
      },
    },
    async (req, reply) => {
      const { generatePassword, expiresAt, ...rest } = req.body;
      const input = { ...rest, ...(expiresAt !== undefined ? { expiresAt: msFrom('expiresAt', expiresAt) } : {}) };
      const res = await admin.users.create(principalOf(req), input, { generatePassword: generatePassword === true });
      return reply.code(201).send({ user: userJson(res.user), ...(res.password ? { password: res.password } : {}) });
    },
  );
  r.get(
    '/api/v1/admin/users/:login',
    { schema: { summary: 'One user', tags: ['admin'], params: LoginParam, response: withErrors({ 200: UserOut }) } },
    async (req) => userJson(await admin.users.get(principalOf(req), req.params.login)),
  );
  r.patch(
    '/api/v1/admin/users/:login',
    {
      schema: {
        summary: 'Change a user (role, status, password, names, expiry, unlock)',
        description: 'Disabling a user or setting a password ends their web sessions.',
        tags: ['admin'],
        params: LoginParam,
        body: UserPatch,
        response: withErrors({ 200: UserOut }),
      },
    },
    async (req) => {
      const { expiresAt, ...rest } = req.body;
      const patch = { ...rest, ...(expiresAt !== undefined ? { expiresAt: msFrom('expiresAt', expiresAt) } : {}) };
      return userJson(await admin.users.update(principalOf(req), req.params.login, patch));
    },
  );

  // SSH keys
  r.get(
    '/api/v1/admin/users/:login/keys',
    { schema: { summary: "A user's SSH public keys", tags: ['admin'], params: LoginParam, response: withErrors({ 200: Type.Array(KeyOut) }) } },
    async (req) => (await admin.keys.list(principalOf(req), req.params.login)).map(keyJson),
  );
  r.post(
    '/api/v1/admin/users/:login/keys',
    {
      schema: {
        summary: 'Add an SSH public key (OpenSSH line)',
        tags: ['admin'],
        params: LoginParam,
        body: Type.Object({ publicKey: Str(16_384, 'one OpenSSH public key line: "ssh-ed25519 AAAA… comment"') }, { additionalProperties: false }),
        response: withErrors({ 201: KeyOut }),
      },
    },
    async (req, reply) => reply.code(201).send(keyJson(await admin.keys.add(principalOf(req), req.params.login, req.body.publicKey))),
  );
  r.delete(
    '/api/v1/admin/users/:login/keys/:id',
    {
      schema: {
        summary: 'Remove an SSH key (by id or fingerprint)',
        tags: ['admin'],
        params: Type.Object({ login: Str(256), id: Str(200) }),
        response: withErrors({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      await admin.keys.remove(principalOf(req), req.params.login, req.params.id);
      return reply.code(204).send(null);
    },
  );

  // Two-factor sign-in of a user (the same core calls as `sluice user mfa …`)
  r.get(
    '/api/v1/admin/users/:login/mfa',
    {
      schema: {
        summary: "A user's two-factor sign-in: off, pending or active",
        tags: ['admin'],
        params: LoginParam,
        response: withErrors({ 200: MfaStatusSchema }),
      },
    },
    async (req) => mfaStatusOut(await admin.mfa.status(principalOf(req), req.params.login)),
  );
  r.post(
    '/api/v1/admin/users/:login/mfa',
    {
      schema: {
        summary: 'Enrol a user in two-factor sign-in: a new TOTP secret, shown once',
        description:
          'The user is pending (sign-in unchanged) until POST …/mfa/confirm with a first code from their authenticator. Starting again replaces a pending secret; refused (409) while active.',
        tags: ['admin'],
        params: LoginParam,
        response: withErrors({ 201: MfaEnrolmentSchema }),
      },
    },
    async (req, reply) => {
      const e = await admin.mfa.enable(principalOf(req), req.params.login);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send(mfaEnrolmentOut(e));
    },
  );
  r.post(
    '/api/v1/admin/users/:login/mfa/confirm',
    {
      schema: {
        summary: "Confirm a user's enrolment with a first code: from now on their sign-in needs a code",
        description: "Ends the user's web sessions.",
        tags: ['admin'],
        params: LoginParam,
        body: MfaCodeBody,
        response: withErrors({ 200: MfaStatusSchema }),
      },
    },
    async (req) => mfaStatusOut(await admin.mfa.confirm(principalOf(req), req.params.login, req.body.code)),
  );
  r.post(
    '/api/v1/admin/users/:login/mfa/recovery-codes',
    {
      schema: {
        summary: 'New recovery codes for a user (shown once; only while two-factor sign-in is active)',
        tags: ['admin'],
        params: LoginParam,
        response: withErrors({ 201: MfaRecoveryCodesSchema }),
      },
    },
    async (req, reply) => {
      const c = await admin.mfa.recoveryCodes(principalOf(req), req.params.login);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ login: c.login, codes: [...c.codes] });
    },
  );
  r.delete(
    '/api/v1/admin/users/:login/mfa',
    {
      schema: {
        summary: "Turn a user's two-factor sign-in off (secret and recovery codes are forgotten)",
        tags: ['admin'],
        params: LoginParam,
        response: withErrors({ 200: MfaStatusSchema }),
      },
    },
    async (req) => mfaStatusOut(await admin.mfa.disable(principalOf(req), req.params.login)),
  );

  // Folders
  r.get(
    '/api/v1/admin/folders',
    {
      schema: {
        summary: 'List all folders',
        tags: ['admin'],
        querystring: Type.Object(
          { limit: Type.Optional(DigitsQuery('at most this many (default 10000)')), after: Type.Optional(Str(8192)) },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: Type.Array(FolderOut) }),
      },
    },
    async (req) => {
      const q = req.query;
      const list = await admin.folders.list(principalOf(req), {
        ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      });
      return list.map((f) => ({ ...f, createdAt: new Date(f.createdAt).toISOString() }));
    },
  );
  r.post(
    '/api/v1/admin/folders',
    {
      schema: {
        summary: 'Create a folder (and missing parents)',
        description: 'org sets the owning organisation, whose quota the folder counts against.',
        tags: ['admin'],
        body: Type.Object({ path: PathString, org: Type.Optional(Str(400)) }, { additionalProperties: false }),
        response: withErrors({ 201: Type.Ref('Entry') }),
      },
    },
    async (req, reply) =>
      reply.code(201).send(entryJson(await admin.folders.create(principalOf(req), req.body.path, req.body.org !== undefined ? { org: req.body.org } : {}))),
  );

  // Grants
  r.get(
    '/api/v1/admin/grants',
    {
      schema: {
        summary: 'List grants',
        tags: ['admin'],
        querystring: Type.Object({ path: Type.Optional(PathString), subject: Type.Optional(Subject) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Array(GrantOut) }),
      },
    },
    async (req) => {
      const q = req.query;
      return (
        await admin.grants.list(principalOf(req), {
          ...(q.path !== undefined ? { path: q.path } : {}),
          ...(q.subject !== undefined ? { subject: q.subject } : {}),
        })
      ).map(grantJson);
    },
  );
  r.put(
    '/api/v1/admin/grants',
    {
      schema: {
        summary: 'Set (replace) the permissions of a user or organisation on a folder',
        tags: ['admin'],
        body: Type.Object({ subject: Subject, path: PathString, permissions: Permissions }, { additionalProperties: false }),
        response: withErrors({ 200: GrantOut }),
      },
    },
    async (req) => grantJson(await admin.grants.set(principalOf(req), req.body.subject, req.body.path, req.body.permissions)),
  );
  r.delete(
    '/api/v1/admin/grants',
    {
      schema: {
        summary: 'Revoke a grant',
        description: 'subject and path in the query string (or, equivalently, as a JSON body { subject, path }).',
        tags: ['admin'],
        querystring: Type.Object({ path: Type.Optional(PathString), subject: Type.Optional(Subject) }, { additionalProperties: false }),
        response: withErrors({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      const b = grantBody(req.body);
      const subject = req.query.subject ?? b?.subject;
      const path = req.query.path ?? b?.path;
      if (subject === undefined || path === undefined) throw new CoreError('INVALID_INPUT', 'name the subject and the path of the grant to revoke');
      await admin.grants.revoke(principalOf(req), subject, path);
      return reply.code(204).send(null);
    },
  );

  // Ledger
  r.get(
    '/api/v1/admin/audit/verify',
    {
      schema: {
        summary: 'Verify the whole audit ledger',
        tags: ['admin'],
        response: withErrors({
          200: Type.Object({
            ok: Type.Boolean(),
            events: Type.Integer(),
            headSeq: Type.Integer(),
            problem: Type.Optional(Type.Object({ seq: Type.Integer(), reason: Type.String() })),
          }),
        }),
      },
    },
    async (req) => core.audit.verify(principalOf(req)),
  );
  r.get(
    '/api/v1/admin/audit/events',
    {
      schema: {
        summary: 'Ledger events, oldest first, filtered (the query is recorded too)',
        tags: ['admin'],
        querystring: Type.Object(
          {
            from: Type.Optional(Type.String({ format: 'date-time', description: 'window start (inclusive), ISO 8601' })),
            to: Type.Optional(Type.String({ format: 'date-time', description: 'window end (exclusive), ISO 8601' })),
            login: Type.Optional(Str(64)),
            fileId: Type.Optional(Str(64)),
            remoteAddr: Type.Optional(Str(100)),
            action: Type.Optional(Str(64)),
            afterSeq: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'return events after this sequence number (paging)' })),
            limit: Type.Optional(DigitsQuery('at most this many events (≤ 10000, default 1000)')),
          },
          { additionalProperties: false },
        ),
        response: withErrors({
          200: Type.Array(LedgerEventSchema),
        }),
      },
    },
    async (req) => {
      const q = req.query;
      const time = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const ms = Date.parse(v);
        if (!Number.isFinite(ms)) throw new CoreError('INVALID_INPUT', `${name} must be an ISO 8601 time`);
        return ms;
      };
      const from = time(q.from, 'from');
      const to = time(q.to, 'to');
      return core.audit.events(principalOf(req), {
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(q.login !== undefined ? { login: q.login } : {}),
        ...(q.fileId !== undefined ? { fileId: q.fileId } : {}),
        ...(q.remoteAddr !== undefined ? { remoteAddr: q.remoteAddr } : {}),
        ...(q.action !== undefined ? { action: q.action } : {}),
        ...(q.afterSeq !== undefined ? { afterSeq: Number(q.afterSeq) } : {}),
        ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
      });
    },
  );

  // Canaries
  const CanaryOut = Type.Object({
    fileId: Type.String(),
    path: Nullable(Type.String()),
    plantedAt: Timestamp,
    plantedBy: Nullable(Type.String()),
    note: Nullable(Type.String()),
  });
  r.get('/api/v1/admin/canaries', { schema: { summary: 'Canary files', tags: ['admin'], response: withErrors({ 200: Type.Array(CanaryOut) }) } }, async (req) =>
    (await core.canaries.list(principalOf(req))).map((c) => ({ ...c, plantedAt: new Date(c.plantedAt).toISOString() })),
  );
  r.post(
    '/api/v1/admin/canaries',
    {
      schema: {
        summary: "Mark a file as a canary, or plant a fictitious one (plant: true); any read alerts and trips the reader's budget",
        tags: ['admin'],
        body: Type.Object({ path: PathString, plant: Type.Optional(Type.Boolean()), note: Type.Optional(Str(500)) }, { additionalProperties: false }),
        response: withErrors({ 201: Type.Object({ fileId: Type.String() }) }),
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          req.body.plant
            ? await core.canaries.plant(principalOf(req), req.body.path, req.body.note)
            : await core.canaries.mark(principalOf(req), req.body.path, req.body.note),
        ),
  );

  // Download budgets
  const TripOut = Type.Object({
    id: Type.String(),
    scope: Type.String(),
    trippedAt: Timestamp,
    liftedAt: NullableTimestamp,
    liftedBy: Nullable(Type.String()),
    detail: Type.Record(Type.String(), Type.Unknown()),
  });
  r.get(
    '/api/v1/admin/budgets',
    {
      schema: {
        summary: 'Tripped download budgets (open ones; ?all=true for lifted ones too)',
        tags: ['admin'],
        querystring: Type.Object({ all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Array(TripOut) }),
      },
    },
    async (req) =>
      (await core.budgets.trips(principalOf(req), { all: req.query.all === 'true' })).map((t) => ({
        ...t,
        trippedAt: new Date(t.trippedAt).toISOString(),
        liftedAt: isoOrNull(t.liftedAt),
      })),
  );
  r.post(
    '/api/v1/admin/budgets/lift',
    {
      schema: {
        summary: 'Lift a tripped budget (scope: user:LOGIN, org:NAME, global, or a trip id)',
        tags: ['admin'],
        body: Type.Object({ scope: Str(200) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Object({ lifted: Type.Integer() }) }),
      },
    },
    async (req) => ({ lifted: await core.budgets.lift(principalOf(req), req.body.scope) }),
  );

  // Lockdown and kill switches
  const LockdownOut = Type.Object({
    mode: Type.String(),
    reason: Nullable(Type.String()),
    since: NullableTimestamp,
    by: Nullable(Type.String()),
    disabled: Type.Array(Type.String()),
  });
  const lockdownJson = (l: LockdownState) => ({ ...l, since: isoOrNull(l.since), disabled: [...l.disabled] });
  r.get(
    '/api/v1/admin/lockdown',
    { schema: { summary: 'Lockdown state and protocols switched off', tags: ['admin'], response: withErrors({ 200: LockdownOut }) } },
    async (req) => lockdownJson(await core.lockdown.status(principalOf(req))),
  );
  r.put(
    '/api/v1/admin/lockdown',
    {
      schema: {
        summary: 'Lock down (closed, read-only, ingest-only) or end it (off); every node within about a second',
        tags: ['admin'],
        body: Type.Object({ mode: Type.Union(LOCKDOWN_MODES.map((m) => Type.Literal(m))), reason: Type.Optional(Str(500)) }, { additionalProperties: false }),
        response: withErrors({ 200: LockdownOut }),
      },
    },
    async (req) => lockdownJson(await core.lockdown.set(principalOf(req), req.body)),
  );
  r.put(
    '/api/v1/admin/protocols/:name',
    {
      schema: {
        summary: 'Switch a protocol (http, web, sftp) on or off for partners and staff',
        tags: ['admin'],
        params: Type.Object({ name: Type.Union(SWITCHABLE.map((m) => Type.Literal(m))) }),
        body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
        response: withErrors({ 200: LockdownOut }),
      },
    },
    async (req) => lockdownJson(await core.lockdown.setProtocol(principalOf(req), req.params.name, req.body.enabled)),
  );

  // Tokens
  r.post(
    '/api/v1/tokens',
    {
      schema: {
        summary: 'Create an API token (the secret is shown once)',
        description: 'login defaults to the caller; only administrators create tokens for others. expiresIn is in seconds (default 90 days, at most 2 years).',
        tags: ['tokens'],
        body: Type.Object(
          { login: Type.Optional(Str(256)), name: Type.Optional(Str(100)), expiresIn: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 * 365 * 86_400 })) },
          { additionalProperties: false },
        ),
        response: withErrors({ 201: Type.Object({ token: Type.String(), ...TokenOut.properties }) }),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const res = await admin.tokens.create(principalOf(req), b.login, {
        ...(b.name !== undefined ? { name: b.name } : {}),
        ...(b.expiresIn !== undefined ? { expiresInMs: b.expiresIn * 1000 } : {}),
      });
      return reply.code(201).send({ token: res.token, ...tokenJson(res.info) });
    },
  );
  r.get(
    '/api/v1/tokens',
    {
      schema: {
        summary: 'List API tokens (never their secrets)',
        tags: ['tokens'],
        querystring: Type.Object({ login: Type.Optional(Str(256)) }, { additionalProperties: false }),
        response: withErrors({ 200: Type.Array(TokenOut) }),
      },
    },
    async (req) => (await admin.tokens.list(principalOf(req), req.query.login)).map(tokenJson),
  );
  r.delete(
    '/api/v1/tokens/:id',
    { schema: { summary: 'Revoke an API token', tags: ['tokens'], params: Type.Object({ id: Str(100) }), response: withErrors({ 204: Type.Null() }) } },
    async (req, reply) => {
      await admin.tokens.revoke(principalOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );
}

/** The optional JSON body of DELETE /admin/grants: exactly { subject, path }, strings. */
function grantBody(body: unknown): { subject: string; path: string } | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) throw new CoreError('INVALID_INPUT', 'body must be { "subject", "path" }');
  const keys = Object.keys(body);
  const b = body as Record<string, unknown>;
  if (
    keys.some((k) => k !== 'subject' && k !== 'path') ||
    typeof b.subject !== 'string' ||
    typeof b.path !== 'string' ||
    b.subject.length > 500 ||
    b.path.length > 4096
  ) {
    throw new CoreError('INVALID_INPUT', 'body must be { "subject": string, "path": string }');
  }
  return { subject: b.subject, path: b.path };
}
