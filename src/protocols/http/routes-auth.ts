/**
 * Web sign-in:
 *   POST /api/v1/auth/login  { login, password } → 200 { user: { login, role, org } } + session cookie
 *   POST /api/v1/auth/logout → 204 (ends the session, clears the cookie)
 *   GET  /api/v1/auth/me     → 200 { user: { login, role, org }, method }
 *
 * The cookie is HttpOnly, SameSite=Strict, Path=/, and Secure with the __Host- prefix whenever
 * the browser talks HTTPS (TLS here or at a proxy). A new session id is issued at every login,
 * so a value planted before login never becomes a session (fixation).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf, requestContext, sameOrigin, type CookieSettings } from './auth.js';
import { Str, UserSummarySchema, withErrors } from './schemas.js';

export interface AuthRouteDeps {
  readonly core: Core;
  readonly cookie: CookieSettings;
  readonly publicUrl: string | undefined;
}

export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  const { core, cookie } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  const clear = (reply: FastifyReply) => reply.clearCookie(cookie.name, { path: '/', httpOnly: true, sameSite: 'strict', secure: cookie.secure });

  r.route({
    method: 'POST',
    url: '/api/v1/auth/login',
    config: { auth: 'none' },
    schema: {
      summary: 'Sign in (web app): sets the session cookie',
      description: 'Wrong login, wrong password, disabled, expired or locked-out users all answer the same 401.',
      tags: ['auth'],
      security: [],
      body: Type.Object({ login: Str(256), password: Str(1024) }, { additionalProperties: false }),
      response: withErrors({ 200: Type.Object({ user: UserSummarySchema }) }),
    },
    handler: async (request, reply) => {
      // Login CSRF: a browser on another site must not sign the victim into our site.
      if (request.headers.origin !== undefined && !sameOrigin(request, deps.publicUrl)) {
        throw new CoreError('PERMISSION_DENIED', 'cross-site sign-in refused');
      }
      const p = await core.auth.password(request.body.login, request.body.password, requestContext(request, 'web'));
      const s = await core.auth.startSession(p);
      reply.setCookie(cookie.name, s.sessionId, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: cookie.secure,
        expires: new Date(s.expiresAt),
      });
      return { user: await core.account.me(p) };
    },
  });

  r.route({
    method: 'POST',
    url: '/api/v1/auth/logout',
    config: { auth: 'optional' },
    schema: {
      summary: 'Sign out: ends the session and clears the cookie',
      tags: ['auth'],
      response: withErrors({ 204: Type.Null() }),
    },
    handler: async (request, reply) => {
      const sid = request.cookies[cookie.name];
      if (request.principal && request.principal.method === 'session' && sid !== undefined) {
        await core.auth.endSession(sid, request.principal);
      }
      clear(reply);
      return reply.code(204).send(null);
    },
  });

  r.route({
    method: 'GET',
    url: '/api/v1/auth/me',
    schema: {
      summary: 'Who am I',
      tags: ['auth'],
      response: withErrors({ 200: Type.Object({ user: UserSummarySchema, method: Type.String({ description: 'token or session' }) }) }),
    },
    handler: async (request) => {
      const p = principalOf(request);
      return { user: await core.account.me(p), method: p.method };
    },
  });
}
