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
import type { Permission } from './permissions.js';
import type { AccessView } from './view.js';

export type FileAction =
  'folder.list' | 'folder.create' | 'folder.delete' | 'file.stat' | 'file.read' | 'file.write' | 'file.delete' | 'entry.rename-from' | 'entry.rename-to';

export type Decision = { readonly allow: true } | { readonly allow: false; readonly reason: 'hidden' | 'forbidden' | 'unknown-action' };

/** Which permission on the containing folder each action needs. */
const NEEDS: Readonly<Record<FileAction, Permission | null>> = {
  'folder.list': null, // filtered, not denied: see list.ts
  'folder.create': 'write',
  'folder.delete': 'delete',
  'file.stat': null, // list or read
  'file.read': 'read',
  'file.write': 'write',
  'file.delete': 'delete',
  'entry.rename-from': 'delete',
  'entry.rename-to': 'write',
};

/**
 * @param folderKey segments (name keys) of the folder that contains / is the target.
 */
export function decide(p: Principal, view: AccessView, action: FileAction, folderKey: readonly string[]): Decision {
  if (!Object.prototype.hasOwnProperty.call(NEEDS, action)) return { allow: false, reason: 'unknown-action' };
  if (isAdmin(p)) return { allow: true };
  const perms = view.effective(folderKey);
  // Everyone may look at the root; what it shows is filtered (list.ts).
  if (folderKey.length === 0 && action === 'folder.list') return { allow: true };
  if (perms.size === 0 && !view.leadsToGrant(folderKey)) return { allow: false, reason: 'hidden' };
  const need = NEEDS[action];
  if (perms.has('manage')) return { allow: true };
  if (need === null) {
    if (action === 'file.stat') return perms.has('list') || perms.has('read') ? { allow: true } : { allow: false, reason: 'hidden' };
    return { allow: true };
  }
  if (perms.has(need)) return { allow: true };
  // A folder seen only because a granted folder lies below it: its contents stay hidden.
  return perms.size === 0 ? { allow: false, reason: 'hidden' } : { allow: false, reason: 'forbidden' };
}

/** Throws the CoreError that a denial maps to: NOT_FOUND when hidden, PERMISSION_DENIED otherwise. */
export function denialError(d: Decision, what = 'not found'): CoreError {
  if (d.allow) throw new Error('denialError called with an allow decision');
  return d.reason === 'forbidden' ? new CoreError('PERMISSION_DENIED', 'permission denied') : new CoreError('NOT_FOUND', what);
}
