/**
 * The ONE place where errors become SFTP statuses. SFTP version 3 knows only a handful of codes,
 * so several CoreError codes share one; the status message (the CoreError's message, which the
 * core guarantees is safe to show) tells them apart. INTERNAL and INTEGRITY answer a generic
 * "internal error"; their cause goes to the log only.
 */
import { CoreError, type ErrorCode } from '../../core/errors.js';
import { STATUS, type StatusCode } from './codec.js';

export const SFTP_STATUS: Readonly<Record<ErrorCode, StatusCode>> = Object.freeze({
  INVALID_INPUT: STATUS.FAILURE,
  INVALID_PATH: STATUS.FAILURE,
  UNAUTHENTICATED: STATUS.PERMISSION_DENIED,
  MFA_REQUIRED: STATUS.PERMISSION_DENIED,
  PASSKEY_REQUIRED: STATUS.PERMISSION_DENIED,
  PERMISSION_DENIED: STATUS.PERMISSION_DENIED,
  NOT_FOUND: STATUS.NO_SUCH_FILE,
  ALREADY_EXISTS: STATUS.FAILURE,
  CONFLICT: STATUS.FAILURE,
  NOT_A_FOLDER: STATUS.FAILURE,
  NOT_A_FILE: STATUS.FAILURE,
  FOLDER_NOT_EMPTY: STATUS.FAILURE,
  TOO_LARGE: STATUS.FAILURE,
  QUOTA_EXCEEDED: STATUS.FAILURE,
  RANGE_NOT_SATISFIABLE: STATUS.EOF,
  ABORTED: STATUS.FAILURE,
  RATE_LIMITED: STATUS.FAILURE,
  LOCKED: STATUS.PERMISSION_DENIED,
  UNAVAILABLE: STATUS.FAILURE,
  INTEGRITY: STATUS.FAILURE,
  INTERNAL: STATUS.FAILURE,
});

export interface SftpError {
  readonly status: StatusCode;
  readonly code: ErrorCode;
  readonly message: string;
}

/** Maps anything thrown while serving a request. Never throws. */
export function toSftpError(err: unknown): SftpError {
  if (err instanceof CoreError) {
    if (err.code === 'INTERNAL' || err.code === 'INTEGRITY') return { status: STATUS.FAILURE, code: err.code, message: 'internal error' };
    return { status: SFTP_STATUS[err.code] ?? STATUS.FAILURE, code: err.code, message: err.message };
  }
  return { status: STATUS.FAILURE, code: 'INTERNAL', message: 'internal error' };
}
