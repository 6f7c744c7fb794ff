/**
 * The one authorization step every file operation takes before any side effect: apply the
 * lockdown and kill switches, load what the principal may reach, decide, and on denial record it in the ledger and throw (NOT_FOUND for
 * what the principal may not see, PERMISSION_DENIED for what they see but may not do).
 */
import { CoreError } from '../errors.js';
import { decide, denialError, type FileAction } from '../access/decide.js';
import { loadView, type AccessView } from '../access/view.js';
import { isMinted, type Principal } from '../principal.js';
import { recordEvent } from '../tx.js';
import { formatPath, parsePath, type VPath } from '../paths.js';
import { keysOf } from './resolve.js';
import type { CoreDeps } from '../deps.js';
import { lockdownOf } from '../ops/lockdown.js';
import { lockdownKindOf, type Action } from '../actions.js';

/** MUST be the first statement of every core operation that takes a principal. */
export function assertPrincipal(p: Principal): void {
  if (!isMinted(p)) throw new CoreError('UNAUTHENTICATED', 'not authenticated');
}

/**
 * Parses a client path for `action`. A path the parser rejects is an attempt like any other: it
 * is recorded in the ledger as denied (reason 'invalid path', the raw input in printable form)
 * before the INVALID_PATH error is rethrown.
 * MUST be how every core operation that takes a client path turns it into a VPath, so that no
 * attempt (traversal probes included) leaves the ledger without a trace.
 */
export async function parseFor(deps: CoreDeps, p: Principal, action: FileAction, raw: string, opts?: { resolveDots?: boolean }): Promise<VPath> {
  assertPrincipal(p);
  try {
    return parsePath(raw, opts);
  } catch (e) {
    if (e instanceof CoreError) throw await refusedPath(deps, p, action, raw, e);
    throw e;
  }
}

/**
 * Records an attempt refused for its path (by the parser, or by a front end that could not even
 * decode it) and returns the error to throw. The raw input is stored escaped (see printable):
 * a NUL or a lone surrogate would not survive PostgreSQL text, and the stored value must hash as
 * the ledger hashed it.
 */
export async function refusedPath(deps: CoreDeps, p: Principal, action: FileAction, raw: string, err: CoreError, reason = 'invalid path'): Promise<CoreError> {
  assertPrincipal(p);
  await recordEvent(deps.db, deps.clock, {
    action,
    outcome: 'denied',
    actor: p,
    targetPath: printable(raw),
    detail: { reason, code: err.code, message: err.message },
  });
  return err;
}

const MAX_RAW = 512;
/**
 * A client-supplied string as it may be stored and shown: control characters (C0, DEL, C1) and
 * unpaired surrogates become \u{…} escapes, so neither a log line nor a CSV row can be forged
 * from it; longer than 512 characters is cut.
 */
export function printable(raw: string): string {
  const cut = raw.length > MAX_RAW ? raw.slice(0, MAX_RAW) : raw;
  const out = cut.replace(
    /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u{${c.charCodeAt(0).toString(16)}}`,
  );
  return cut === raw ? out : out + '…';
}

/**
 * `view`: the principal's view already loaded by this same operation (never one kept from an
 * earlier operation: a grant change takes effect on the next operation).
 */
export async function guard(deps: CoreDeps, p: Principal, action: FileAction, folder: VPath, target: VPath | string, view?: AccessView): Promise<AccessView> {
  assertPrincipal(p);
  try {
    await lockdownOf(deps).check(p, lockdownKindOf(action) ?? 'modify');
  } catch (e) {
    await recordEvent(deps.db, deps.clock, {
      action,
      outcome: 'denied',
      actor: p,
      targetPath: typeof target === 'string' ? target : formatPath(target),
      detail: { reason: 'lockdown' },
    });
    throw e;
  }
  view ??= await loadView(deps.db, p);
  const d = decide(p, view, action, keysOf(folder));
  if (!d.allow) {
    await recordEvent(deps.db, deps.clock, {
      action,
      outcome: 'denied',
      actor: p,
      targetPath: typeof target === 'string' ? target : formatPath(target),
      detail: { reason: d.reason },
    });
    throw denialError(d);
  }
  return view;
}

/** Records a failed operation (after authorization passed) and returns the error to throw. */
export async function failed(
  deps: CoreDeps,
  p: Principal,
  action: Action,
  target: VPath,
  err: CoreError,
  extra: Record<string, unknown> = {},
): Promise<CoreError> {
  await recordEvent(deps.db, deps.clock, {
    action,
    outcome: 'failure',
    actor: p,
    targetPath: formatPath(target),
    detail: { code: err.code, ...extra },
  }).catch((e) => deps.log.error({ err: e }, 'could not record a failed operation'));
  return err;
}
