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
import { formatPath, type VPath } from '../paths.js';
import { keysOf } from './resolve.js';
import type { CoreDeps } from '../deps.js';
import { lockdownOf, opKindOf } from '../ops/lockdown.js';

/** MUST be the first statement of every core operation that takes a principal. */
export function assertPrincipal(p: Principal): void {
  if (!isMinted(p)) throw new CoreError('UNAUTHENTICATED', 'not authenticated');
}

export async function guard(deps: CoreDeps, p: Principal, action: FileAction, folder: VPath, target: VPath | string): Promise<AccessView> {
  assertPrincipal(p);
  try {
    await lockdownOf(deps).check(p, opKindOf(action));
  } catch (e) {
    await recordEvent(deps.db, deps.clock, { action, outcome: 'denied', actor: p, targetPath: typeof target === 'string' ? target : formatPath(target), detail: { reason: 'lockdown' } });
    throw e;
  }
  const view = await loadView(deps.db, p);
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
export async function failed(deps: CoreDeps, p: Principal, action: string, target: VPath, err: CoreError, extra: Record<string, unknown> = {}): Promise<CoreError> {
  await recordEvent(deps.db, deps.clock, {
    action,
    outcome: 'failure',
    actor: p,
    targetPath: formatPath(target),
    detail: { code: err.code, ...extra },
  }).catch((e) => deps.log.error({ err: e }, 'could not record a failed operation'));
  return err;
}
