/**
 * The HTTP front end: REST API, web sign-in, the web app's static files, health, metrics and API
 * docs, on Fastify.
 *
 * It receives the core object and nothing else (architecture rule 1): no database handle, no
 * blob store. Everything it does with data goes through `core`, which authorizes every call.
 *
 * buildHttpServer() returns a ready-to-listen Fastify instance (the caller listens):
 * - TLS when config.tlsCert/tlsKey are set; Node's header limit 16 KiB; timeouts below.
 * - JSON bodies up to config.maxJsonBodyBytes, parsed with prototype/constructor poisoning as
 *   errors, validated by strict schemas (no coercion, no silently dropped properties). Uploads
 *   (PUT /api/v1/fs/...) are never parsed or buffered: the raw request stream goes to the core.
 * - One JSON log line per request (method, route template, status, ms, bytes) and no other
 *   request logging; headers (Authorization, Cookie) are never logged.
 * - Every error, including Fastify's and Node's own (bad URL, malformed request, headers too
 *   large), is { error: { code, message } } (errors.ts).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookiePlugin from '@fastify/cookie';
import type { Logger } from 'pino';
import { oidcRedirectUri, type Config } from '../../config/config.js';
import type { Core } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { authHook, cookieSettings } from './auth.js';
import { errorBody, HttpLayerError, sendError, toHttpError } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { adminRoutes } from './routes-admin.js';
import { authRoutes } from './routes-auth.js';
import { fsRoutes } from './routes-fs.js';
import { tusRoutes } from './routes-tus.js';
import { archiveRoutes } from './routes-archive.js';
import { opsRoutes } from './routes-ops.js';
import { sessionRoutes } from './routes-sessions.js';
import { passkeyRoutes } from './routes-passkeys.js';
import { oidcRoutes } from './routes-oidc.js';
import { ledgerRoutes } from './routes-ledger.js';
import { incidentRoutes } from './routes-incident.js';
import { accessRoutes } from './routes-access.js';
import { policyRoutes } from './routes-policy.js';
import { EntrySchema, ErrorSchema } from './schemas.js';
import { applyHeaders, rawHeaderLines, securityHeaders } from './security-headers.js';
import { hostCheck } from './host-check.js';
import { webAppRoutes, type AppFallback } from './web-app.js';
import { addressList, limitConnectionsPerIp } from './connection-limits.js';
import { duplicatedSingleton } from './singleton-headers.js';
import { textGuard } from './text-guard.js';
import { collectYoung } from '../../runtime/young-gc.js';

/** How often an idle young-generation collection runs (see "Memory at rest" below). */
const IDLE_GC_MS = 5_000;

export { createMetrics, type Metrics } from './metrics.js';

export interface HttpServerOptions {
  readonly core: Core;
  readonly config: Config;
  readonly log: Logger;
  /** Shared metrics (e.g. with the SFTP server); a fresh registry when absent. */
  readonly metrics?: Metrics | undefined;
  /** The built web app (index.html, assets/); web/dist of the checkout when absent. */
  readonly webRoot?: string | undefined;
}

/**
 * Limits and timeouts (attack corpus §3 "HTTP protocol and web", items 20-21; issue 14 §3), from
 * the configuration (SLUICE_HTTP_*; defaults in config.ts):
 * - maxHeaderSize: request line + headers; a larger header block answers 431.
 * - headersTimeout: the whole header block must arrive within this time (slowloris); Node checks
 *   it every `connectionsCheckingInterval`, which is therefore short.
 * - requestTimeout: a whole request, body included; 0 (the default): none, since an upload of
 *   many GiB legitimately takes long — slow or stalled bodies are cut by the idle timeout instead.
 * - idleTimeout: a socket with no traffic in either direction for this long is closed (slow POST,
 *   slow read, a connection that never sends a request).
 * - keepAliveTimeout: an idle keep-alive connection is closed after this.
 * - maxConnections (the listener) and maxConnectionsPerIp (connection-limits.ts).
 */
export function httpLimits(config: Config) {
  return Object.freeze({
    maxHeaderSize: config.httpMaxHeaderSize,
    headersTimeoutMs: config.httpHeadersTimeout,
    requestTimeoutMs: config.httpRequestTimeout,
    idleTimeoutMs: config.httpIdleTimeout,
    keepAliveTimeoutMs: config.httpKeepAliveTimeout,
    maxConnections: config.httpMaxConnections,
    maxConnectionsPerIp: config.httpMaxConnectionsPerIp,
    /** How often Node looks for requests over their headers or request timeout. */
    connectionsCheckingIntervalMs: Math.max(100, Math.min(1000, Math.floor(config.httpHeadersTimeout / 4))),
    /** Longest path parameter (org names, key fingerprints); file paths are not route params. */
    maxParamLength: 1_000,
  });
}

export async function buildHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const { core, config } = opts;
  const log = opts.log.child({ component: 'http' });
  const metrics = opts.metrics ?? createMetrics();
  const tls = config.tlsCert !== undefined && config.tlsKey !== undefined;
  // The browser talks HTTPS when we terminate TLS or a declared TLS proxy does.
  const httpsForBrowser = tls || config.httpTlsProxy;
  const headers = securityHeaders(httpsForBrowser);
  const cookie = cookieSettings(httpsForBrowser);
  const countError = (code: string) => metrics.errors.inc({ code });
  const hostAllowed = hostCheck(config.publicUrl, config.allowedHosts);
  const HTTP_LIMITS = httpLimits(config);
  let closing = false;

  const serverFactory = (handler: http.RequestListener): http.Server => {
    // Host is required for HTTP/1.1 (RFC 9112), but checked below so the refusal is JSON too.
    const nodeOpts = {
      maxHeaderSize: HTTP_LIMITS.maxHeaderSize,
      requireHostHeader: false,
      connectionsCheckingInterval: HTTP_LIMITS.connectionsCheckingIntervalMs,
    };
    const server: http.Server = tls
      ? (https.createServer({ ...nodeOpts, cert: fs.readFileSync(config.tlsCert!), key: fs.readFileSync(config.tlsKey!) }, handler) as unknown as http.Server)
      : http.createServer(nodeOpts, handler);
    server.headersTimeout = HTTP_LIMITS.headersTimeoutMs;
    server.requestTimeout = HTTP_LIMITS.requestTimeoutMs;
    server.keepAliveTimeout = HTTP_LIMITS.keepAliveTimeoutMs;
    server.setTimeout(HTTP_LIMITS.idleTimeoutMs);
    server.maxConnections = HTTP_LIMITS.maxConnections;
    limitConnectionsPerIp(server, {
      maxPerIp: HTTP_LIMITS.maxConnectionsPerIp,
      exempt: addressList(parseTrustProxy(config.trustProxy) || []),
      tls,
      headers,
    });
    // Expect: 100-continue is answered by us, after authentication and (for uploads) after the
    // core accepted the declared size: a refused upload is never sent.
    server.on('checkContinue', (req, res) => server.emit('request', req, res));
    return server;
  };

  const app = Fastify({
    serverFactory,
    loggerInstance: log as FastifyBaseLogger,
    // Fastify's own request lines are off; onResponse below writes one line per request.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxJsonBodyBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    trustProxy: parseTrustProxy(config.trustProxy),
    return503OnClosing: false,
    exposeHeadRoutes: true,
    routerOptions: { maxParamLength: HTTP_LIMITS.maxParamLength, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, caseSensitive: true },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
      clientError(err, socket, headers);
    },
    frameworkErrors(error: Error, request: FastifyRequest, reply: FastifyReply) {
      applyHeaders(reply, headers);
      sendError(request, reply, error, log, countError);
    },
  });

  app.decorateRequest('principal', null);
  app.addSchema(ErrorSchema);
  app.addSchema(EntrySchema);
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, log, countError));
  // The web app's own pages (web-app.ts) are not routes of the server: a browser navigating to one
  // gets index.html; anything else unmatched is the JSON 404.
  const web: { fallback?: AppFallback } = {};
  app.setNotFoundHandler(
    (request, reply) => web.fallback?.(request, reply) ?? sendError(request, reply, new CoreError('NOT_FOUND', 'no such route'), log, countError),
  );
  // Only JSON is parsed (uploads have their own scope); text/plain JSON is a CSRF vector.
  app.removeContentTypeParser('text/plain');

  // Routes of the docs UI authenticate nobody; every other route is 'required' unless it says so.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/api/docs')) route.config = { ...(route.config ?? {}), auth: 'none' };
  });

  app.addHook('onRequest', async (request, reply) => {
    applyHeaders(reply, headers);
    reply.header('x-request-id', request.id);
    if (closing) throw new CoreError('UNAVAILABLE', 'server is shutting down');
    const raw = request.raw;
    if (raw.httpVersionMajor === 1 && raw.httpVersionMinor >= 1 && !raw.headers.host) throw new CoreError('INVALID_INPUT', 'a Host header is required');
    const twice = duplicatedSingleton(raw.rawHeaders);
    if (twice !== undefined) {
      reply.header('connection', 'close');
      throw new CoreError('INVALID_INPUT', `the ${twice} header may appear only once`);
    }
    // DNS rebinding: a name that is not ours (host-check.ts). Behind a trusted proxy, its X-Forwarded-Host.
    if (!hostAllowed(raw.headers.host === undefined ? undefined : request.host)) {
      reply.header('connection', 'close');
      throw new HttpLayerError(421, 'INVALID_INPUT', 'this server does not answer for that host name');
    }
    // Only chunked is implemented (RFC 9112 §6.1: any other coding answers 501); Node's parser
    // refuses most such requests itself (clientError below answers those 501 as well).
    const te = raw.headers['transfer-encoding'];
    if (te !== undefined && te.split(',').some((c) => c.trim().toLowerCase() !== 'chunked')) {
      reply.header('connection', 'close');
      throw new HttpLayerError(501, 'INVALID_INPUT', 'Transfer-Encoding is not supported: only chunked is');
    }
    // No request body is ever decompressed (decompression bombs, attack corpus SERVU-4).
    const enc = request.headers['content-encoding'];
    if (enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
      throw new HttpLayerError(415, 'INVALID_INPUT', 'Content-Encoding is not supported: send the body as it is (identity)');
    }
  });
  await app.register(cookiePlugin, { hook: 'onRequest' });
  app.addHook('onRequest', authHook({ core, cookie, publicUrl: config.publicUrl }));
  app.addHook('onRequest', async (request, reply) => {
    // Authenticated (or public): a client waiting for 100 Continue may send its JSON body now.
    // Upload routes answer it themselves once the core accepted the upload.
    if (!request.routeOptions.config?.upload && /^\s*100-continue\s*$/i.test(request.headers.expect ?? '') && !reply.raw.headersSent) {
      reply.raw.writeContinue();
    }
  });

  app.addHook('preValidation', textGuard);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.is404 ? '(unmatched)' : (request.routeOptions.url ?? '(unmatched)');
    const status = String(reply.statusCode);
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequests.inc({ method: request.method, route, status });
    metrics.httpDuration.observe({ method: request.method, route, status }, seconds);
    const len = Number(reply.getHeader('content-length'));
    log.info(
      {
        reqId: request.id,
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        bytes: Number.isFinite(len) ? len : undefined,
        ...(request.principal ? { user: request.principal.login } : {}),
        ...(reply.raw.writableFinished ? {} : { aborted: true }),
      },
      'request',
    );
  });

  app.addHook('preClose', async () => {
    closing = true;
  });

  // Memory at rest: start-up allocates fast and V8 grows its young generation to the maximum
  // (2 × 16 MB) for it, then keeps those pages resident, about a fifth of the idle footprint. V8
  // gives them back when it collects the young generation while little is being allocated, which
  // an idle server never does by itself; so one young collection runs every IDLE_GC_MS (a
  // millisecond or so; during a transfer V8 simply keeps the space it uses).
  if (collectYoung !== undefined) {
    const timer = setInterval(collectYoung, IDLE_GC_MS);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }

  await registerOpenApi(app, { version: packageVersion() });
  await opsRoutes(app, { core, config, metrics });
  await authRoutes(app, { core, cookie, publicUrl: config.publicUrl });
  await fsRoutes(app, { core, metrics, log });
  await tusRoutes(app, { core, metrics });
  await archiveRoutes(app, { core });
  await adminRoutes(app, { core });
  await sessionRoutes(app, { core, cookie });
  await ledgerRoutes(app, { core });
  await incidentRoutes(app, { core, timeZone: config.timeZone });
  await accessRoutes(app, { core });
  await policyRoutes(app, { core });
  await passkeyRoutes(app, { core, cookie, publicUrl: config.publicUrl });
  await oidcRoutes(app, { core, cookie, redirectUri: oidcRedirectUri(config) });
  web.fallback = await webAppRoutes(app, { root: opts.webRoot });

  await app.ready();
  return app;
}

function parseTrustProxy(v: string | undefined): string[] | false {
  const list = (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length ? list : false;
}

/** Malformed HTTP that never became a request (Node's parser refused it). */
function clientError(err: NodeJS.ErrnoException, socket: Socket, headers: Readonly<Record<string, string>>): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let e: { code: string; message: string } = { code: 'INVALID_INPUT', message: 'malformed HTTP request' };
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    e = { code: 'INVALID_INPUT', message: 'request headers too large' };
  } else if (err.code === 'HPE_INVALID_TRANSFER_ENCODING' && !/content-length/i.test(err.message)) {
    // A coding other than chunked (Transfer-Encoding with Content-Length is smuggling: 400).
    status = 501;
    e = { code: 'INVALID_INPUT', message: 'Transfer-Encoding is not supported: only chunked is' };
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') {
    status = 408;
    e = toHttpError(Object.assign(new Error('timeout'), { statusCode: 408 }));
  }
  const body = JSON.stringify(errorBody({ status, code: e.code as never, message: e.message }));
  if (answered.has(socket)) return;
  answered.add(socket);
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Bad Request'}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'connection: close\r\n' +
        rawHeaderLines(headers) +
        '\r\n' +
        body,
    );
  }
  // Lingering close: keep reading (and discarding) what the client still sends for a moment, so
  // the answer is not lost to a TCP reset caused by unread data.
  socket.on('data', () => undefined);
  socket.resume();
  setTimeout(() => socket.destroy(), 2_000).unref();
}

const answered = new WeakSet<Socket>();

let version: string | undefined;
/** The version in the project's package.json (works from src/ and from the built dist/). */
function packageVersion(): string {
  if (version) return version;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'sluice' && typeof pkg.version === 'string') return (version = pkg.version);
    } catch {}
    dir = path.dirname(dir);
  }
  return (version = '0.0.0');
}
