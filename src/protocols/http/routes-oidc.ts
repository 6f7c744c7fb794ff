/**
 * Sign-in with the organisation's account (OpenID Connect, staff):
 *   GET /api/v1/auth/oidc           → { enabled } (whether the web app shows the button)
 *   GET /api/v1/auth/oidc/start     → 302 to the provider; a short-lived cookie binds the flow to this browser
 *   GET /api/v1/auth/oidc/callback  → the provider's redirect: session cookie, then on to the app
 * The flow cookie is SameSite=Lax (the provider's redirect back is a cross-site navigation) and
 * limited to /api/v1/auth/oidc. The callback answers a small page that moves on to `/` (a
 * SameSite=Strict session cookie set during a cross-site redirect chain would be held back by
 * the browser on a plain redirect); a refusal goes to `/?signin=refused`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { requestContext, type CookieSettings } from './auth.js';
import { withErrors } from './schemas.js';

export interface OidcRouteDeps {
  readonly core: Core;
  readonly cookie: CookieSettings;
  /** The redirect URI registered at the provider (from SLUICE_PUBLIC_URL). */
  readonly redirectUri: string;
}

const FLOW_PATH = '/api/v1/auth/oidc';

function moveOn(reply: FastifyReply, to: string) {
  reply.header('cache-control', 'no-store');
  reply.type('text/html; charset=utf-8');
  return reply.send(`<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${to}"><title>Sluice</title><a href="${to}">Sluice</a>`);
}

export async function oidcRoutes(app: FastifyInstance, deps: OidcRouteDeps): Promise<void> {
  const { core, cookie } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const flowCookie = cookie.secure ? '__Host-sluice_oidc' : 'sluice_oidc';
  // __Host- needs Path=/; without TLS the cookie is limited to the flow's routes.
  const flowOpts = { path: cookie.secure ? '/' : FLOW_PATH, httpOnly: true, sameSite: 'lax' as const, secure: cookie.secure };

  r.get(
    '/api/v1/auth/oidc',
    {
      config: { auth: 'none' },
      schema: {
        summary: "Whether sign-in with the organisation's account is configured",
        tags: ['auth'],
        security: [],
        response: withErrors({ 200: Type.Object({ enabled: Type.Boolean() }) }),
      },
    },
    async () => ({ enabled: core.auth.oidc.enabled() }),
  );

  r.get(
    '/api/v1/auth/oidc/start',
    {
      config: { auth: 'none' },
      schema: {
        summary: "Sign in with the organisation's account: redirects to the OpenID provider",
        tags: ['auth'],
        security: [],
        response: withErrors({ 302: Type.Null() }),
      },
    },
    async (_req, reply) => {
      const f = await core.auth.oidc.start();
      reply.setCookie(flowCookie, f.flowId, { ...flowOpts, maxAge: 600 });
      reply.header('cache-control', 'no-store');
      return reply.redirect(f.url, 302);
    },
  );

  r.get(
    '/api/v1/auth/oidc/callback',
    {
      config: { auth: 'none' },
      schema: {
        summary: 'Where the OpenID provider sends the browser back: sets the session cookie',
        description: 'Answers a small HTML page that moves on to the app (`/`, or `/?signin=refused` after any failure; the ledger has the reason).',
        tags: ['auth'],
        security: [],
        querystring: Type.Object({}, { additionalProperties: true }),
        response: { 200: Type.String({ description: 'text/html' }) },
      },
    },
    async (req, reply) => {
      const flow = req.cookies[flowCookie];
      reply.clearCookie(flowCookie, flowOpts);
      const q = req.url.indexOf('?');
      const callback = deps.redirectUri + (q >= 0 ? req.url.slice(q) : '');
      try {
        const p = await core.auth.oidc.finish(flow, callback, requestContext(req, 'web'));
        const s = await core.auth.startSession(p);
        reply.setCookie(cookie.name, s.sessionId, { path: '/', httpOnly: true, sameSite: 'strict', secure: cookie.secure, expires: new Date(s.expiresAt) });
        return moveOn(reply, '/');
      } catch (e) {
        if (e instanceof CoreError && (e.code === 'UNAUTHENTICATED' || e.code === 'LOCKED' || e.code === 'UNAVAILABLE'))
          return moveOn(reply, '/?signin=refused');
        throw e;
      }
    },
  );
}
