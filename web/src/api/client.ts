/**
 * The app's only way to the server: the public REST API (/api/openapi.json), same origin, with
 * the session cookie (HttpOnly, SameSite=Strict). Browsers send `Origin` with every non-GET
 * request, which the server checks on cookie-authenticated changes (CSRF).
 *
 * Every failure becomes an ApiError with the API's stable code (`NETWORK` when no answer came);
 * messages for people come from the catalogue (i18n/errors.ts), never from the server's English.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

type Handler = (e: ApiError) => void;
let onUnauthenticated: Handler | undefined;

/** Called when a request that needed a session answers 401 UNAUTHENTICATED (the session ended). */
export function whenUnauthenticated(h: Handler | undefined): void {
  onUnauthenticated = h;
}

/** Turns an error answer's body into an ApiError. */
export function errorFrom(status: number, text: string): ApiError {
  let e: { code?: unknown; message?: unknown; details?: unknown } | undefined;
  try {
    e = (JSON.parse(text) as { error?: typeof e }).error;
  } catch {}
  const code = typeof e?.code === 'string' ? e.code : status >= 500 ? 'INTERNAL' : 'INVALID_INPUT';
  const details = e?.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {};
  return new ApiError(status, code, typeof e?.message === 'string' ? e.message : `HTTP ${status}`, details);
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  /** Do not report 401 as an ended session (sign-in steps, the first "who am I"). */
  readonly quiet401?: boolean;
}

export async function api<T>(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'no answer from the server');
  }
  const text = await r.text();
  if (!r.ok) {
    const err = errorFrom(r.status, text);
    if (err.code === 'UNAUTHENTICATED' && !opts.quiet401) onUnauthenticated?.(err);
    throw err;
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string, opts?: CallOptions) => api<T>('GET', path, undefined, opts);
export const post = <T>(path: string, body?: unknown, opts?: CallOptions) => api<T>('POST', path, body, opts);
export const patch = <T>(path: string, body: unknown, opts?: CallOptions) => api<T>('PATCH', path, body, opts);
export const del = <T = void>(path: string, body?: unknown, opts?: CallOptions) => api<T>('DELETE', path, body, opts);

/** `/api/v1/fs` URL of a virtual path, every segment percent-encoded (`/` stays). */
export function fsUrl(path: string, folder = false): string {
  const segs = path.split('/').filter(Boolean).map(encodeURIComponent);
  return `/api/v1/fs/${segs.join('/')}${folder && segs.length ? '/' : ''}`;
}

/** Query string from a record, without undefined values. */
export function query(q: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
