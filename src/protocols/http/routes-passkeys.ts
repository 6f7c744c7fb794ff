/**
 * Passkeys (WebAuthn):
 *   POST /api/v1/auth/passkey/options         → options for a sign-in without a password
 *   POST /api/v1/auth/passkey/second-options  { login, password } → options for the passkey after the password
 *   POST /api/v1/auth/passkey                 { ceremonyId, response } → 200 { user } + session cookie
 *   GET  /api/v1/me/passkeys; POST /api/v1/me/passkeys/options; POST /api/v1/me/passkeys { ceremonyId, response, name? };
 *   PATCH/DELETE /api/v1/me/passkeys/{id}     → one's own passkeys (changes need a web session)
 *   GET /api/v1/admin/users/{login}/passkeys; DELETE /api/v1/admin/users/{login}/passkeys/{id} (administrators)
 * `options` go to navigator.credentials (through @simplewebauthn/browser), its answer comes back
 * as `response` with the `ceremonyId` of the options.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core, PasskeyInfo } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf, requestContext, sameOrigin, type CookieSettings } from './auth.js';
import { Str, UserSummarySchema, withErrors } from './schemas.js';

export interface PasskeyRouteDeps {
  readonly core: Core;
  readonly cookie: CookieSettings;
  readonly publicUrl: string | undefined;
}

const PasskeyOut = Type.Object(
  {
    id: Type.String({ description: 'credential id (base64url)' }),
    login: Type.String(),
    name: Type.String(),
    createdAt: Type.Number(),
    lastUsedAt: Type.Union([Type.Number(), Type.Null()]),
    backedUp: Type.Boolean({ description: 'synced passkey (the authenticator says it is backed up)' }),
  },
  { additionalProperties: false },
);
const CeremonyOut = Type.Object({
  ceremonyId: Type.String({ description: 'send it back with the answer; good once, for 5 minutes' }),
  options: Type.Object({}, { additionalProperties: true, description: 'PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON' }),
});
const Answer = Type.Object(
  {
    ceremonyId: Str(64),
    response: Type.Object({}, { additionalProperties: true, description: "the authenticator's answer as JSON (@simplewebauthn/browser)" }),
  },
  { additionalProperties: false },
);
const IdParam = Type.Object({ id: Str(1400, 'credential id') });
const out = (k: PasskeyInfo) => ({ ...k });

export async function passkeyRoutes(app: FastifyInstance, deps: PasskeyRouteDeps): Promise<void> {
  const { core, cookie } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const crossSite = (origin: string | undefined, ok: boolean) => {
    if (origin !== undefined && !ok) throw new CoreError('PERMISSION_DENIED', 'cross-site sign-in refused');
  };

  r.post(
    '/api/v1/auth/passkey/options',
    {
      config: { auth: 'none' },
      schema: { summary: 'Start a sign-in with a passkey, without a password', tags: ['auth'], security: [], response: withErrors({ 200: CeremonyOut }) },
    },
    async (req, reply) => {
      crossSite(req.headers.origin, sameOrigin(req, deps.publicUrl));
      reply.header('cache-control', 'no-store');
      return core.auth.passkeyOptions();
    },
  );

  r.post(
    '/api/v1/auth/passkey/second-options',
    {
      config: { auth: 'none' },
      schema: {
        summary: 'Start the passkey step after the password (the answer to 401 MFA_REQUIRED with details.passkey)',
        description: "Verifies the password like POST /api/v1/auth/login (same 401 for every failure), then asks for one of that account's passkeys.",
        tags: ['auth'],
        security: [],
        body: Type.Object({ login: Str(256), password: Str(1024) }, { additionalProperties: false }),
        response: withErrors({ 200: CeremonyOut }),
      },
    },
    async (req, reply) => {
      crossSite(req.headers.origin, sameOrigin(req, deps.publicUrl));
      reply.header('cache-control', 'no-store');
      return core.auth.passkeySecondOptions(req.body.login, req.body.password, requestContext(req, 'web'));
    },
  );

  r.post(
    '/api/v1/auth/passkey',
    {
      config: { auth: 'none' },
      schema: {
        summary: 'Finish a passkey sign-in (either kind): sets the session cookie',
        description: 'Every failure answers the same 401 UNAUTHENTICATED; the ledger has the reason.',
        tags: ['auth'],
        security: [],
        body: Answer,
        response: withErrors({ 200: Type.Object({ user: UserSummarySchema }) }),
      },
    },
    async (req, reply) => {
      crossSite(req.headers.origin, sameOrigin(req, deps.publicUrl));
      const p = await core.auth.passkey(req.body.ceremonyId, req.body.response, requestContext(req, 'web'));
      const s = await core.auth.startSession(p);
      reply.setCookie(cookie.name, s.sessionId, { path: '/', httpOnly: true, sameSite: 'strict', secure: cookie.secure, expires: new Date(s.expiresAt) });
      return { user: await core.account.me(p) };
    },
  );

  r.get(
    '/api/v1/me/passkeys',
    { schema: { summary: 'My passkeys', tags: ['auth'], response: withErrors({ 200: Type.Object({ passkeys: Type.Array(PasskeyOut) }) }) } },
    async (req) => ({ passkeys: (await core.account.passkeys.list(principalOf(req))).map(out) }),
  );

  r.post(
    '/api/v1/me/passkeys/options',
    {
      schema: {
        summary: 'Start registering a passkey (web session only)',
        tags: ['auth'],
        response: withErrors({ 200: CeremonyOut }),
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return core.account.passkeys.registrationOptions(principalOf(req));
    },
  );

  r.post(
    '/api/v1/me/passkeys',
    {
      schema: {
        summary: "Finish registering a passkey with the authenticator's answer",
        description: 'A refused answer (wrong origin, used or expired ceremony, a credential already registered) is 400; start again.',
        tags: ['auth'],
        body: Type.Object(
          { ceremonyId: Str(64), response: Type.Object({}, { additionalProperties: true }), name: Type.Optional(Str(100, 'label, e.g. "Laptop"')) },
          { additionalProperties: false },
        ),
        response: withErrors({ 201: PasskeyOut }),
      },
    },
    async (req, reply) => {
      const k = await core.account.passkeys.register(principalOf(req), req.body.ceremonyId, req.body.response, req.body.name);
      return reply.code(201).send(out(k));
    },
  );

  r.patch(
    '/api/v1/me/passkeys/:id',
    {
      schema: {
        summary: 'Rename one of my passkeys',
        tags: ['auth'],
        params: IdParam,
        body: Type.Object({ name: Str(100) }, { additionalProperties: false }),
        response: withErrors({ 200: PasskeyOut }),
      },
    },
    async (req) => out(await core.account.passkeys.rename(principalOf(req), req.params.id, req.body.name)),
  );

  r.delete(
    '/api/v1/me/passkeys/:id',
    { schema: { summary: 'Remove one of my passkeys', tags: ['auth'], params: IdParam, response: withErrors({ 204: Type.Null() }) } },
    async (req, reply) => {
      await core.account.passkeys.remove(principalOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/api/v1/admin/users/:login/passkeys',
    {
      schema: {
        summary: "A user's passkeys (administrators)",
        tags: ['admin'],
        params: Type.Object({ login: Str(256) }),
        response: withErrors({ 200: Type.Object({ passkeys: Type.Array(PasskeyOut) }) }),
      },
    },
    async (req) => ({ passkeys: (await core.admin.passkeys.list(principalOf(req), req.params.login)).map(out) }),
  );

  r.delete(
    '/api/v1/admin/users/:login/passkeys/:id',
    {
      schema: {
        summary: "Remove a user's passkey (administrators)",
        tags: ['admin'],
        params: Type.Object({ login: Str(256), id: Str(1400) }),
        response: withErrors({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      await core.admin.passkeys.remove(principalOf(req), req.params.login, req.params.id);
      return reply.code(204).send(null);
    },
  );
}
