/**
 * The authorization decision, in one place. Every core file operation calls authorize() before
 * any side effect.
 *
 * Contract:
 * - decide() returns a value, never throws, and denies every action it does not know.
 * - Where the principal may not see the target, the reason is 'hidden' and the caller MUST answer
 *   NOT_FOUND — indistinguishable from a target that does not exist.
 * - Administrators and the system principal are allowed everything.
 * - 'manage' on a folder implies every other permission there.
 */
import { CoreError } from '../errors.js';
import { isAdmin, type Principal } from '../principal.js';
import { ACTIONS, isFileAction, type FileAction } from '../actions.js';
import type { AccessView } from './view.js';

export type { FileAction } from '../actions.js';

export type Decision = { readonly allow: true } | { readonly allow: false; readonly reason: 'hidden' | 'forbidden' | 'unknown-action' };

/**
 * @param folderKey segments (name keys) of the folder that contains / is the target.
 */
export function decide(p: Principal, view: AccessView, action: FileAction, folderKey: readonly string[]): Decision {
  if (!isFileAction(action)) return { allow: false, reason: 'unknown-action' };
  if (isAdmin(p)) return { allow: true };
  const perms = view.effective(folderKey);
  // Everyone may look at the root; what it shows is filtered (list.ts).
  if (folderKey.length === 0 && action === 'folder.list') return { allow: true };
  if (perms.size === 0 && !view.leadsToGrant(folderKey)) return { allow: false, reason: 'hidden' };
  const need = ACTIONS[action].needs;
  if (perms.has('manage')) return { allow: true };
  if (need === 'visible') return { allow: true }; // filtered, not denied: see list.ts
  if (need === 'list-or-read') return perms.has('list') || perms.has('read') ? { allow: true } : { allow: false, reason: 'hidden' };
  if (perms.has(need)) return { allow: true };
  // A folder seen only because a granted folder lies below it: its contents stay hidden.
  return perms.size === 0 ? { allow: false, reason: 'hidden' } : { allow: false, reason: 'forbidden' };
}

/** Throws the CoreError that a denial maps to: NOT_FOUND when hidden, PERMISSION_DENIED otherwise. */
export function denialError(d: Decision, what = 'not found'): CoreError {
  if (d.allow) throw new Error('denialError called with an allow decision');
  return d.reason === 'forbidden' ? new CoreError('PERMISSION_DENIED', 'permission denied') : new CoreError('NOT_FOUND', what);
}
