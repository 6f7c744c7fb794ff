/**
 * Security headers sent on every response. They are set when the request arrives (onRequest), so
 * error replies, 404s and streamed downloads carry them too; routes that need a different policy
 * (downloads, the API docs page) replace single headers.
 */
import type { FastifyReply } from 'fastify';

/** JSON API answers: nothing may be loaded, executed or framed. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";
/** Downloaded file content: never rendered by the browser as part of our origin. */
export const DOWNLOAD_CSP = "sandbox; default-src 'none'";
/** The Swagger UI page (/api/docs): its own scripts and styles only, no inline script. */
export const DOCS_CSP =
  "default-src 'self'; base-uri 'none'; connect-src 'self'; font-src 'self' data:; form-action 'none'; frame-ancestors 'none'; " +
  "img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'";

export function securityHeaders(tls: boolean): Readonly<Record<string, string>> {
  return Object.freeze({
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': API_CSP,
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-store',
    ...(tls ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
  });
}

export function applyHeaders(reply: FastifyReply, headers: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
}

/** The same headers for raw Node responses (client errors before Fastify routes anything). */
export function rawHeaderLines(headers: Readonly<Record<string, string>>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}
