/**
 * The one error type that crosses the core boundary, and the vocabulary ports promise (a store
 * throws NOT_FOUND, INTEGRITY…): it lives here so adapters need not import the core. Front ends map `code` to their protocol in
 * one table each (HTTP status, SFTP status). `message` is safe to show to the client: it MUST NOT
 * contain stack traces, SQL, server paths or secrets. `cause` stays inside the process (logs).
 */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'INVALID_PATH',
  'UNAUTHENTICATED',
  /** The password was right; the account also needs a verification code (two-factor sign-in). */
  'MFA_REQUIRED',
  /** The account must sign in with a passkey (an administrator's policy for its role or organisation). */
  'PASSKEY_REQUIRED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'CONFLICT',
  'NOT_A_FOLDER',
  'NOT_A_FILE',
  'FOLDER_NOT_EMPTY',
  'TOO_LARGE',
  'QUOTA_EXCEEDED',
  'RANGE_NOT_SATISFIABLE',
  'ABORTED',
  'RATE_LIMITED',
  'LOCKED',
  'UNAVAILABLE',
  'INTEGRITY',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class CoreError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CoreError';
    this.code = code;
    this.details = opts.details ? Object.freeze({ ...opts.details }) : undefined;
  }
}

export const isCoreError = (e: unknown): e is CoreError => e instanceof CoreError;

/** Wraps anything thrown below the core into an INTERNAL CoreError with a generic message. */
export function toCoreError(e: unknown): CoreError {
  if (e instanceof CoreError) return e;
  return new CoreError('INTERNAL', 'internal error', { cause: e });
}

export const notFound = (what = 'not found') => new CoreError('NOT_FOUND', what);
export const invalid = (message: string, details?: Record<string, unknown>) => new CoreError('INVALID_INPUT', message, details ? { details } : {});
