/**
 * From the raw request target to the string the core's path parser judges, and Range headers.
 *
 * The HTTP layer only undoes its transport encoding: it percent-decodes the raw URL path ONCE and
 * decodes the bytes as UTF-8. It never splits, joins or normalises ('.', '..', slashes): that is
 * the core's parser's job (core/paths.ts), and it rejects '..'. What cannot be handed on safely is
 * refused here with INVALID_PATH:
 *   - an encoded slash or backslash (%2F, %5C): a separator hidden from the router, which the core
 *     would see as a real one after decoding;
 *   - an encoded NUL (%00);
 *   - a '%' not followed by two hex digits;
 *   - bytes that are not valid UTF-8 (overlong forms such as %C0%AF included).
 */
import { CoreError } from '../../core/errors.js';

const badPath = (message: string) => new CoreError('INVALID_PATH', message);

const FORBIDDEN_ESCAPE = /%(?:2f|5c|00)/i;
const BAD_ESCAPE = /%(?![0-9a-fA-F]{2})/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Percent-decodes once and decodes UTF-8 strictly. `raw` is the path part of the request target. */
export function decodeRawPath(raw: string): string {
  if (BAD_ESCAPE.test(raw)) throw badPath('invalid percent-encoding in path');
  if (FORBIDDEN_ESCAPE.test(raw)) throw badPath('encoded slash, backslash or NUL in path');
  // The request target is handed to us as latin1 (one char per byte); a raw byte >= 0x80 is kept
  // as that byte and must form valid UTF-8 together with its neighbours.
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 /* % */) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c > 0xff) {
      throw badPath('invalid character in path');
    } else {
      bytes.push(c);
    }
  }
  let s: string;
  try {
    s = utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw badPath('path is not valid UTF-8');
  }
  if (s.includes('\u0000')) throw badPath('NUL in path');
  return s;
}

export interface FsTarget {
  /** The decoded path ('/acme/inbox/x' or '/acme/inbox/'), as the core will parse it. */
  readonly path: string;
  /** The request path ended with '/': the client means a folder. */
  readonly trailingSlash: boolean;
  /** The raw query string (without '?'), or ''. */
  readonly query: string;
}

/**
 * Splits the raw request URL of a /api/v1/fs route. `prefix` is '/api/v1/fs'. The router has
 * matched the route already; anything that does not literally start with the prefix (the router
 * decoded something in it) is refused.
 */
export function fsTarget(rawUrl: string, prefix: string): FsTarget {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q + 1);
  if (rawPath !== prefix && !rawPath.startsWith(prefix + '/')) throw badPath('malformed file URL');
  const rest = rawPath.slice(prefix.length) || '/';
  const path = decodeRawPath(rest);
  return { path, trailingSlash: rest.endsWith('/'), query };
}

// ------------------------------------------------------------------------------------------------
// Range: bytes=a-b | bytes=a- | bytes=-n (one range only).
// ------------------------------------------------------------------------------------------------

export type RangeRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'range'; readonly start: number; readonly end?: number }
  | { readonly kind: 'suffix'; readonly length: number }
  | { readonly kind: 'unsatisfiable' };

const MAX_DIGITS = 16; // 2^53 has 16 digits

/**
 * Parses a Range header. Multiple ranges, other units and malformed values are IGNORED (the whole
 * file is served with 200, as RFC 9110 allows); numbers too large to be exact, and 'bytes=-0', are
 * unsatisfiable (416).
 */
export function parseRange(header: string | undefined): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'none' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'none' };
  if (a.length > MAX_DIGITS || b.length > MAX_DIGITS) {
    // A start beyond any possible size cannot be satisfied; a huge end is simply "to the end".
    if (a.length > MAX_DIGITS) return { kind: 'unsatisfiable' };
    if (a === '') return { kind: 'suffix', length: Number.MAX_SAFE_INTEGER };
    return { kind: 'range', start: Number(a) };
  }
  if (a === '') {
    const n = Number(b);
    return n === 0 ? { kind: 'unsatisfiable' } : { kind: 'suffix', length: n };
  }
  const start = Number(a);
  if (!Number.isSafeInteger(start)) return { kind: 'unsatisfiable' };
  if (b === '') return { kind: 'range', start };
  const end = Number(b);
  if (end < start) return { kind: 'none' }; // syntactically invalid: ignored
  return { kind: 'range', start, end: Math.min(end, Number.MAX_SAFE_INTEGER) };
}

/** The strong entity tag of a file: its SHA-256. */
export const etagOf = (sha256: string) => `"${sha256}"`;

/** If-None-Match: true when one of the listed tags (weak comparison) or '*' matches. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
