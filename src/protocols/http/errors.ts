/**
 * The ONE place where errors become HTTP responses.
 *
 * - STATUS maps every CoreError code to its HTTP status (the table the architecture asks for).
 * - fromFastify() turns Fastify's own errors (validation, body too large, bad JSON, prototype
 *   poisoning, unsupported media type, bad URL, ...) into the same { error: { code, message } }
 *   shape, with fixed messages: nothing the client sent is echoed back, and no stack trace, SQL
 *   text or server path can reach a response.
 * - INTERNAL/INTEGRITY (and anything unexpected) answer 500 "internal error"; the cause is logged.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { CoreError, type ErrorCode } from '../../core/errors.js';

export const STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_INPUT: 400,
  INVALID_PATH: 400,
  // The client gave up or sent less than it declared: a client-side error.
  ABORTED: 400,
  UNAUTHENTICATED: 401,
  MFA_REQUIRED: 401,
  PASSKEY_REQUIRED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  NOT_A_FOLDER: 409,
  NOT_A_FILE: 409,
  FOLDER_NOT_EMPTY: 409,
  TOO_LARGE: 413,
  QUOTA_EXCEEDED: 413,
  RANGE_NOT_SATISFIABLE: 416,
  LOCKED: 423,
  RATE_LIMITED: 429,
  INTEGRITY: 500,
  INTERNAL: 500,
  UNAVAILABLE: 503,
});

/** What goes on the wire. `status` may differ from STATUS[code] only for transport-level errors (415, 431, ...). */
export interface HttpError {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  /** Headers that belong to this error (WWW-Authenticate, Content-Range). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** An error raised by the HTTP layer itself with a transport status outside the table (415 ...). */
export class HttpLayerError extends CoreError {
  readonly status: number;
  constructor(status: number, code: ErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

const GENERIC_500 = 'internal error';

/** Details that are safe to show (numbers and short strings only). */
function safeDetails(d: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | undefined {
  if (!d) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 200)) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

function fromCore(e: CoreError): HttpError {
  const status = e instanceof HttpLayerError ? e.status : (STATUS[e.code] ?? 500);
  // 501 (a Transfer-Encoding we do not implement) is the client's doing: its message is safe.
  if (status >= 500 && e.code !== 'UNAVAILABLE' && !(e instanceof HttpLayerError && status === 501))
    return { status, code: e.code === 'INTEGRITY' ? 'INTEGRITY' : 'INTERNAL', message: GENERIC_500 };
  const headers: Record<string, string> = {};
  if (e.code === 'UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer realm="sluice"';
  if (e.code === 'RANGE_NOT_SATISFIABLE' && typeof e.details?.size === 'number') headers['content-range'] = `bytes */${e.details.size}`;
  const details = safeDetails(e.details);
  return { status, code: e.code, message: e.message, ...(details ? { details } : {}), ...(Object.keys(headers).length ? { headers } : {}) };
}

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  validationContext?: unknown;
  message?: unknown;
  name?: unknown;
}

/** Fastify's and Node's errors, by code, with fixed messages. */
const FASTIFY: Readonly<Record<string, { status: number; code: ErrorCode; message: string }>> = Object.freeze({
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'TOO_LARGE', message: 'request body too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'INVALID_INPUT', message: 'unsupported media type; send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_INPUT', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_INPUT', message: 'empty JSON body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_INPUT', message: 'invalid JSON body' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, code: 'INVALID_INPUT', message: 'unsupported media type' },
  FST_ERR_BAD_URL: { status: 400, code: 'INVALID_PATH', message: 'malformed URL' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'INVALID_PATH', message: 'URL too long' },
  FST_ERR_NOT_FOUND: { status: 404, code: 'NOT_FOUND', message: 'no such route' },
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: { status: 400, code: 'INVALID_INPUT', message: 'missing Content-Type' },
  FST_ERR_FAILED_ERROR_SERIALIZATION: { status: 500, code: 'INTERNAL', message: GENERIC_500 },
  ERR_INVALID_CHAR: { status: 400, code: 'INVALID_INPUT', message: 'a header value would contain an invalid character' },
  ERR_HTTP_INVALID_HEADER_VALUE: { status: 400, code: 'INVALID_INPUT', message: 'a header value would contain an invalid character' },
});

/** Messages by status for 4xx errors that carry no known code (secure-json-parse, body parsers). */
function byStatus(status: number): { code: ErrorCode; message: string } {
  switch (status) {
    case 400:
      return { code: 'INVALID_INPUT', message: 'bad request' };
    case 401:
      return { code: 'UNAUTHENTICATED', message: 'authentication required' };
    case 403:
      return { code: 'PERMISSION_DENIED', message: 'permission denied' };
    case 404:
      return { code: 'NOT_FOUND', message: 'not found' };
    case 405:
      return { code: 'INVALID_INPUT', message: 'method not allowed' };
    case 406:
      return { code: 'INVALID_INPUT', message: 'not acceptable' };
    case 408:
      return { code: 'ABORTED', message: 'request timeout' };
    case 409:
      return { code: 'CONFLICT', message: 'conflict' };
    case 411:
      return { code: 'INVALID_INPUT', message: 'length required' };
    case 413:
      return { code: 'TOO_LARGE', message: 'request body too large' };
    case 414:
      return { code: 'INVALID_INPUT', message: 'URL too long' };
    case 415:
      return { code: 'INVALID_INPUT', message: 'unsupported media type' };
    case 416:
      return { code: 'RANGE_NOT_SATISFIABLE', message: 'range not satisfiable' };
    case 429:
      return { code: 'RATE_LIMITED', message: 'too many requests' };
    case 431:
      return { code: 'INVALID_INPUT', message: 'request headers too large' };
    default:
      return { code: 'INVALID_INPUT', message: 'bad request' };
  }
}

/** Turns a Fastify validation error into a short message naming the field, never the value. */
function validationMessage(e: FastifyLikeError): string {
  const v = Array.isArray(e.validation)
    ? (e.validation[0] as { instancePath?: unknown; message?: unknown; keyword?: unknown; params?: Record<string, unknown> } | undefined)
    : undefined;
  const where = typeof e.validationContext === 'string' ? e.validationContext : 'request';
  if (!v) return `invalid ${where}`;
  const field = typeof v.instancePath === 'string' && v.instancePath ? v.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
  let what = typeof v.message === 'string' ? v.message : 'is invalid';
  if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
    what = `must not have the property "${String(v.params.additionalProperty)
      .slice(0, 64)
      .replace(/[^\x20-\x7e]/g, '?')}"`;
  }
  return `${where}${field ? '.' + field.slice(0, 100) : ''} ${what}`.slice(0, 300);
}

/** Maps anything thrown in a request to the error that is sent. Never throws. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof CoreError) return fromCore(err);
  const e = (err ?? {}) as FastifyLikeError;
  if (e.validation) return { status: 400, code: 'INVALID_INPUT', message: validationMessage(e) };
  const code = typeof e.code === 'string' ? e.code : '';
  const known = FASTIFY[code];
  if (known) return { ...known };
  // Prototype poisoning and JSON syntax errors from the body parser carry statusCode 400.
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    if (e.name === 'SyntaxError') {
      const msg =
        typeof e.message === 'string' && /prototype|constructor/i.test(e.message)
          ? 'JSON body contains a forbidden property (__proto__ or constructor.prototype)'
          : 'invalid JSON body';
      return { status: 400, code: 'INVALID_INPUT', message: msg };
    }
    return { status, ...byStatus(status) };
  }
  return { status: 500, code: 'INTERNAL', message: GENERIC_500 };
}

export function errorBody(h: HttpError): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
  return { error: { code: h.code, message: h.message, ...(h.details ? { details: { ...h.details } } : {}) } };
}

/**
 * Sends an error reply (used by the error handler, the 404 handler and framework errors).
 * When the request still has an unread body (an upload refused early) the connection is closed
 * after the answer, so the rest of the body is never read.
 */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown, log: Logger, onCode?: (code: ErrorCode) => void): FastifyReply {
  const h = toHttpError(err);
  if (h.status >= 500) {
    // The cause stays in the log (never in the response). UNAVAILABLE is expected (readiness).
    const level = h.code === 'UNAVAILABLE' ? 'warn' : 'error';
    log[level]({ err, reqId: request.id, method: request.method, route: request.routeOptions?.url }, 'request failed');
  }
  onCode?.(h.code);
  if (reply.sent || reply.raw.headersSent) {
    // Headers are out (a download failed mid-stream): all we can do is cut the connection.
    reply.raw.destroy();
    return reply;
  }
  // A download's headers (Content-Disposition, ETag, ...) do not belong on an error.
  for (const name of ['content-disposition', 'etag', 'accept-ranges', 'content-range', 'content-length', 'last-modified']) reply.removeHeader(name);
  for (const [k, v] of Object.entries(h.headers ?? {})) reply.header(k, v);
  if (!request.raw.complete && bodyExpected(request)) reply.header('connection', 'close');
  reply.header('content-type', 'application/json; charset=utf-8');
  return reply.code(h.status).send(errorBody(h));
}

function bodyExpected(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}
