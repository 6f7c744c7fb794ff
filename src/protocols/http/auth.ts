/**
 * Who is asking. Every route says in its config how it authenticates:
 *   auth: 'required' (the default for every route that does not say otherwise),
 *         'optional' (logout: ends a session if there is one), 'none' (health, docs, login).
 *
 * Credentials, in this order:
 *   1. `Authorization: Bearer TOKEN` → core.auth.token   (protocol 'http'; no CSRF check needed,
 *      a browser never attaches it by itself);
 *   2. the session cookie              → core.auth.session (protocol 'web').
 * Any other Authorization scheme is refused (401), never silently ignored.
 *
 * CSRF: a cookie-authenticated request that is not GET/HEAD/OPTIONS MUST carry an Origin whose
 * host is the request's own host (or the configured public URL's origin); otherwise 403 before
 * anything happens. Login refuses a foreign Origin too (login CSRF).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core, Principal, RequestContext } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';

export type AuthMode = 'required' | 'optional' | 'none';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook; null when the route needs none or none was given. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** The route streams the request body itself (uploads): 100-continue is sent by its handler. */
    upload?: boolean;
  }
}

export interface CookieSettings {
  readonly name: string;
  readonly secure: boolean;
}

/** `__Host-sluice_session` (Secure, no Domain, Path=/) whenever the browser talks HTTPS. */
export function cookieSettings(secure: boolean): CookieSettings {
  return { name: secure ? '__Host-sluice_session' : 'sluice_session', secure };
}

export function requestContext(request: FastifyRequest, protocol: 'http' | 'web'): RequestContext {
  const ua = request.headers['user-agent'];
  return { protocol, remoteAddr: request.ip, client: typeof ua === 'string' ? ua.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) : undefined };
}

const unauthenticated = (message = 'authentication required') => new CoreError('UNAUTHENTICATED', message);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether `origin` is our own: same host as the request, or the configured public URL. */
export function sameOrigin(request: FastifyRequest, publicUrl: string | undefined): boolean {
  const origin = request.headers.origin;
  if (typeof origin !== 'string' || origin === 'null') return false;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (o.protocol !== 'https:' && o.protocol !== 'http:') return false;
  if (publicUrl) {
    try {
      if (new URL(publicUrl).origin === o.origin) return true;
    } catch {}
  }
  const host = request.host; // Host (or X-Forwarded-Host when the proxy is trusted)
  return typeof host === 'string' && host.toLowerCase() === o.host.toLowerCase();
}

export function csrfCheck(request: FastifyRequest, publicUrl: string | undefined): void {
  if (SAFE_METHODS.has(request.method)) return;
  if (!sameOrigin(request, publicUrl)) {
    throw new CoreError('PERMISSION_DENIED', 'cross-site request refused: a cookie-authenticated change needs a same-origin Origin header');
  }
}

export interface AuthDeps {
  readonly core: Core;
  readonly cookie: CookieSettings;
  readonly publicUrl: string | undefined;
}

/** The onRequest hook: sets request.principal or throws UNAUTHENTICATED / PERMISSION_DENIED (CSRF). */
export function authHook(deps: AuthDeps) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    request.principal = null;
    if (request.is404) return;
    const mode: AuthMode = request.routeOptions.config?.auth ?? 'required';
    if (mode === 'none') return;
    try {
      request.principal = await resolvePrincipal(request, deps);
    } catch (e) {
      if (mode === 'optional' && e instanceof CoreError && e.code === 'UNAUTHENTICATED') return;
      throw e;
    }
    if (!request.principal && mode === 'required') throw unauthenticated();
  };
}

async function resolvePrincipal(request: FastifyRequest, deps: AuthDeps): Promise<Principal | null> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
    if (!m || m[1] === undefined) throw unauthenticated('use "Authorization: Bearer TOKEN"');
    return deps.core.auth.token(m[1], requestContext(request, 'http'));
  }
  const sid = request.cookies?.[deps.cookie.name];
  if (sid === undefined) return null;
  const p = await deps.core.auth.session(sid, requestContext(request, 'web'));
  csrfCheck(request, deps.publicUrl);
  return p;
}

/** The principal of an authenticated route (the hook guarantees it; this narrows the type). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthenticated();
  return request.principal;
}
