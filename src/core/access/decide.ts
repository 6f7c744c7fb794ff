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
import { ACTIONS, isAction, isFileAction, type Action, type FileAction } from '../actions.js';
import type { AccessView } from './view.js';

export type { FileAction } from '../actions.js';

export type Decision = { readonly allow: true } | { readonly allow: false; readonly reason: 'hidden' | 'forbidden' | 'unknown-action' };

/**
 * A file action (the folder permissions of the table). The gate (gate.ts) calls it with the
 * folder the table names (`on`: the target itself or its parent).
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

/**
 * Whether a listing of this folder shows its files and every sub-folder (not only the way to a
 * granted folder below): 'list' there, or 'manage' (which implies every permission);
 * administrators' views hold every permission everywhere.
 */
export function listsContents(view: AccessView, folderKey: readonly string[]): boolean {
  const perms = view.effective(folderKey);
  return perms.has('list') || perms.has('manage');
}

/** What a non-file action is about: the user it concerns (one's own or another's), when it names one. */
export interface ActionTarget {
  /** The user the action concerns, as the caller named it (login or id); absent: oneself. */
  readonly user?: string | undefined;
  /** The owner of the thing found (a token, a passkey), once looked up: the user id. */
  readonly ownerId?: string | null | undefined;
}

export type ActionDecision =
  { readonly allow: true } | { readonly allow: false; readonly reason: 'forbidden' | 'hidden' | 'unknown-action'; readonly why: string };

const canonical = (ref: string) => ref.trim().toLowerCase();
const isSelf = (p: Principal, ref: string) => p.userId !== null && (ref === p.userId || canonical(ref) === p.login);

/**
 * Every action that is not on a folder: what the table's `needs` asks of the principal.
 * 'self-or-admin' with an `ownerId` (the thing was found) answers 'hidden' for what is not one's
 * own, so nobody learns that another user's token or passkey exists.
 */
export function decideAction(p: Principal, action: Action, target: ActionTarget = {}): ActionDecision {
  if (!isAction(action)) return { allow: false, reason: 'unknown-action', why: 'unknown action' };
  const need = ACTIONS[action].needs;
  switch (need) {
    case 'admin':
      return isAdmin(p) ? { allow: true } : { allow: false, reason: 'forbidden', why: 'not an administrator' };
    case 'system':
      return p.kind === 'system' ? { allow: true } : { allow: false, reason: 'forbidden', why: 'only the local system principal' };
    case 'user':
      return { allow: true };
    case 'web-session':
      return p.kind === 'user' && p.userId && p.method === 'session' ? { allow: true } : { allow: false, reason: 'forbidden', why: 'needs a web session' };
    case 'self-or-admin':
      if (isAdmin(p)) return { allow: true };
      if (target.ownerId !== undefined)
        return target.ownerId !== null && target.ownerId === p.userId ? { allow: true } : { allow: false, reason: 'hidden', why: "not one's own" };
      if (target.user === undefined || isSelf(p, target.user)) return p.userId ? { allow: true } : { allow: false, reason: 'forbidden', why: 'not a user' };
      return { allow: false, reason: 'forbidden', why: 'not an administrator' };
    default:
      // Folder permissions are decided by decide(); 'none' is recorded, never requested.
      return { allow: false, reason: 'unknown-action', why: need === 'none' ? 'not an operation' : 'a file action' };
  }
}

/** Throws the CoreError that a denial maps to: NOT_FOUND when hidden, PERMISSION_DENIED otherwise. */
export function denialError(d: Decision, what = 'not found'): CoreError {
  if (d.allow) throw new Error('denialError called with an allow decision');
  return d.reason === 'forbidden' ? new CoreError('PERMISSION_DENIED', 'permission denied') : new CoreError('NOT_FOUND', what);
}
