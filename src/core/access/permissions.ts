import { CoreError } from '../errors.js';

export const PERMISSIONS = ['list', 'read', 'write', 'delete', 'manage'] as const;
export type Permission = (typeof PERMISSIONS)[number];
export type PermSet = ReadonlySet<Permission>;

/** Parses "list,read,write" (any order, duplicates allowed); unknown words are an error. */
export function parsePermissions(input: string | readonly string[]): Permission[] {
  const words = (typeof input === 'string' ? input.split(',') : input).map((w) => w.trim().toLowerCase()).filter(Boolean);
  if (words.length === 0) throw new CoreError('INVALID_INPUT', `permissions must name at least one of ${PERMISSIONS.join(',')}`);
  const out = new Set<Permission>();
  for (const w of words) {
    if (w === 'all') PERMISSIONS.forEach((p) => out.add(p));
    else if ((PERMISSIONS as readonly string[]).includes(w)) out.add(w as Permission);
    else throw new CoreError('INVALID_INPUT', `unknown permission "${w.slice(0, 40)}"; use ${PERMISSIONS.join(',')}`);
  }
  return PERMISSIONS.filter((p) => out.has(p));
}

export const formatPermissions = (perms: Iterable<Permission>): string => {
  const s = new Set(perms);
  return PERMISSIONS.filter((p) => s.has(p)).join(',');
};
