/**
 * The web app's static files (built by Vite into web/dist by scripts/prepare.mjs), served at `/`:
 *
 *   GET /                 index.html, `Cache-Control: no-cache` (it names the current hashed assets)
 *   GET /assets/NAME      hashed, immutable files (`Cache-Control: public, max-age=31536000, immutable`)
 *   GET /other/app/path   index.html again (the app's own routes, e.g. /files, /account) — only for
 *                         a browser navigation (Accept: text/html), never under /api/, and never for
 *                         a last segment with a dot in it (/.env, /favicon.ico answer 404 JSON)
 *
 * Every page carries APP_CSP (no inline script or style, no eval, no third-party origin, Trusted
 * Types). The files are read once at start-up and held in memory with a gzip copy (a few hundred
 * KiB); a missing build is not an error of the server: `/` then says how to build the app.
 * The app talks to the public REST API only (the same routes as any script, /api/openapi.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CoreError } from '../../core/errors.js';

/**
 * The policy of the app's pages. `require-trusted-types-for 'script'` makes every string that
 * would become script (innerHTML, script.src, eval) a TypeError; the app creates no policy at all
 * (`trusted-types 'none'`), as Preact renders through the DOM without HTML strings.
 */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "frame-src 'none'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

/** web/dist of the checkout, from src/protocols/http (tsx) and from dist/protocols/http (built). */
export const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  readonly body: Buffer;
  readonly gzip: Buffer | undefined;
  readonly type: string;
  readonly etag: string;
}

function load(file: string): StaticFile {
  const body = fs.readFileSync(file);
  const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 512;
  return {
    body,
    gzip: compressible ? zlib.gzipSync(body, { level: 9 }) : undefined,
    type,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

/** The built files: index.html and everything under assets/ (names as in the URL). */
export function loadWebApp(root: string): { index: StaticFile; assets: ReadonlyMap<string, StaticFile> } | undefined {
  const indexFile = path.join(root, 'index.html');
  if (!fs.existsSync(indexFile)) return undefined;
  const assets = new Map<string, StaticFile>();
  const dir = path.join(root, 'assets');
  if (fs.existsSync(dir)) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isFile()) assets.set(e.name, load(path.join(dir, e.name)));
  }
  return { index: load(indexFile), assets };
}

const acceptsGzip = (req: FastifyRequest) => /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));

function send(request: FastifyRequest, reply: FastifyReply, f: StaticFile, cache: string) {
  reply.header('content-security-policy', APP_CSP);
  reply.header('cache-control', cache);
  reply.header('content-type', f.type);
  reply.header('etag', f.etag);
  reply.header('vary', 'accept-encoding');
  // (The not-found handler answers the app's pages too: its 404 is not theirs.)
  reply.code(200);
  const inm = request.headers['if-none-match'];
  if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === f.etag)) return reply.code(304).send();
  if (f.gzip && acceptsGzip(request)) {
    reply.header('content-encoding', 'gzip');
    return reply.send(f.gzip);
  }
  return reply.send(f.body);
}

const notFound = () => new CoreError('NOT_FOUND', 'no such route');
/** A browser navigating to one of the app's own pages (not a script, not a file). */
function isAppNavigation(request: FastifyRequest): boolean {
  const url = (request.raw.url ?? '/').split('?')[0] ?? '/';
  if (url.startsWith('/api/') || url === '/api' || url.startsWith('/assets/')) return false;
  const last = url.slice(url.lastIndexOf('/') + 1);
  if (last.includes('.') || url.includes('//') || url.includes('%')) return false;
  return /\btext\/html\b/i.test(String(request.headers.accept ?? ''));
}

/** Answers a not-found request: index.html to a browser navigating to one of the app's pages, or undefined. */
export type AppFallback = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> | undefined;

/**
 * Registers / and /assets/*; returns the fallback for the not-found handler (server.ts), which
 * answers the app's own routes (client-side, e.g. /files, /account) so that they stay unmatched
 * routes for the log and the metrics, and everything else stays the JSON 404.
 */
export async function webAppRoutes(app: FastifyInstance, opts: { root?: string | undefined } = {}): Promise<AppFallback> {
  const root = opts.root ?? DEFAULT_WEB_ROOT;
  const built = loadWebApp(root);
  const config = { auth: 'none' as const };
  const schema = { hide: true };

  const index = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!built) {
      reply.header('content-type', 'text/plain; charset=utf-8');
      return reply.code(503).send('The web app is not built: run `npm run build:web` (npm ci does it), then restart the server.\n');
    }
    return send(request, reply, built.index, 'no-cache');
  };

  app.get('/', { config, schema }, index);
  app.get('/assets/*', { config, schema }, async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    const f = built?.assets.get(name);
    if (!f) throw notFound();
    return send(request, reply, f, 'public, max-age=31536000, immutable');
  });
  return (request, reply) => ((request.method === 'GET' || request.method === 'HEAD') && isAppNavigation(request) ? index(request, reply) : undefined);
}
