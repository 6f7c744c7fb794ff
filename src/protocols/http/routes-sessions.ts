/**
 * Web sessions:
 *   GET    /api/v1/me/sessions            → one's own live sessions (the current one marked)
 *   DELETE /api/v1/me/sessions/{id}       → end one of them (204; the current one clears the cookie)
 *   POST   /api/v1/auth/logout-everywhere → end all of one's sessions (204, clears the cookie)
 *   GET    /api/v1/admin/sessions[?login=] → everybody's live sessions (administrators)
 *   DELETE /api/v1/admin/sessions/{id}    → end anyone's session (administrators)
 * Times are milliseconds since the epoch. A session is named by its public id, never by its cookie.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core, SessionInfo } from '../../core/index.js';
import { principalOf, type CookieSettings } from './auth.js';
import { Str, withErrors } from './schemas.js';

export interface SessionRouteDeps {
  readonly core: Core;
  readonly cookie: CookieSettings;
}

const SessionOut = Type.Object(
  {
    id: Type.String({ description: 'ses_ and 32 hex digits' }),
    protocol: Type.Literal('web'),
    login: Type.String(),
    org: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.Number(),
    lastSeenAt: Type.Number({ description: 'last use, to within a minute' }),
    expiresAt: Type.Number({ description: 'absolute end (SLUICE_SESSION_MAX)' }),
    idleExpiresAt: Type.Number({ description: 'end if unused from now on (SLUICE_SESSION_IDLE)' }),
    remoteAddr: Type.Union([Type.String(), Type.Null()]),
    client: Type.Union([Type.String(), Type.Null()], { description: 'user agent at sign-in' }),
    current: Type.Boolean({ description: 'the session this request came with' }),
  },
  { additionalProperties: false },
);
const SessionList = Type.Object({ sessions: Type.Array(SessionOut) });
const IdParam = Type.Object({ id: Str(64, 'session id') });

const out = (s: SessionInfo) => ({ ...s });

export async function sessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): Promise<void> {
  const { core, cookie } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const clear = (reply: FastifyReply) => reply.clearCookie(cookie.name, { path: '/', httpOnly: true, sameSite: 'strict', secure: cookie.secure });

  r.get(
    '/api/v1/me/sessions',
    {
      schema: {
        summary: 'My live web sessions (most recently used first; the current one marked)',
        tags: ['auth'],
        response: withErrors({ 200: SessionList }),
      },
    },
    async (req) => ({ sessions: (await core.account.sessions.list(principalOf(req))).map(out) }),
  );

  r.delete(
    '/api/v1/me/sessions/:id',
    {
      schema: {
        summary: 'End one of my web sessions',
        description: "That browser is signed out at its next request. Another user's session id answers 404, as an unknown one does.",
        tags: ['auth'],
        params: IdParam,
        response: withErrors({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      await core.account.sessions.end(p, req.params.id);
      if (p.sessionId === req.params.id) clear(reply);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/api/v1/auth/logout-everywhere',
    {
      schema: {
        summary: 'Sign out everywhere: ends all my web sessions, this one included',
        description: 'API tokens are not touched (revoke them under /api/v1/tokens).',
        tags: ['auth'],
        response: withErrors({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      await core.account.sessions.endAll(principalOf(req));
      clear(reply);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/api/v1/admin/sessions',
    {
      schema: {
        summary: 'Live web sessions of all users (administrators)',
        tags: ['admin'],
        querystring: Type.Object({ login: Type.Optional(Str(64, 'only this user')) }, { additionalProperties: false }),
        response: withErrors({ 200: SessionList }),
      },
    },
    async (req) => ({ sessions: (await core.admin.sessions.list(principalOf(req), { login: req.query.login })).map(out) }),
  );

  r.delete(
    '/api/v1/admin/sessions/:id',
    {
      schema: {
        summary: "End a user's web session (administrators)",
        tags: ['admin'],
        params: IdParam,
        response: withErrors({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      await core.admin.sessions.end(p, req.params.id);
      if (p.sessionId === req.params.id) clear(reply);
      return reply.code(204).send(null);
    },
  );
}
