/**
 * What one principal may reach: the grants to the user and to the user's organisation, each
 * with the folder's path key. Loaded once per operation (a grant change takes effect on the next
 * operation, on every node).
 */
import type { Db } from '../../ports/db-schema.js';
import { isAdmin, type Principal } from '../principal.js';
import { PERMISSIONS, type Permission, type PermSet } from './permissions.js';

export interface AccessGrant {
  readonly folderKey: readonly string[];
  readonly perms: PermSet;
}

export interface AccessView {
  readonly grants: readonly AccessGrant[];
  /** Union of the grants on the folder and its ancestors (inherited downward). */
  effective(folderKey: readonly string[]): PermSet;
  /** True if a granted folder lies strictly below this folder (it may then be seen, not entered). */
  leadsToGrant(folderKey: readonly string[]): boolean;
  /** Whether a child folder named childKey of folderKey is visible. */
  childVisible(folderKey: readonly string[], childKey: string): boolean;
}

const ALL: PermSet = new Set(PERMISSIONS);

const isPrefix = (pre: readonly string[], full: readonly string[]) => pre.length <= full.length && pre.every((s, i) => s === full[i]);

export function splitKey(pathKey: string): string[] {
  return pathKey === '' ? [] : pathKey.slice(1).split('/');
}

export function makeView(grants: readonly AccessGrant[], all = false): AccessView {
  return {
    grants,
    effective(folderKey) {
      if (all) return ALL;
      const out = new Set<Permission>();
      for (const g of grants) if (isPrefix(g.folderKey, folderKey)) g.perms.forEach((p) => out.add(p));
      return out;
    },
    leadsToGrant(folderKey) {
      return all || grants.some((g) => g.folderKey.length > folderKey.length && isPrefix(folderKey, g.folderKey));
    },
    childVisible(folderKey, childKey) {
      if (all) return true;
      const child = [...folderKey, childKey];
      return grants.some((g) => isPrefix(child, g.folderKey) || isPrefix(g.folderKey, child));
    },
  };
}

export async function loadView(db: Db, p: Principal): Promise<AccessView> {
  if (isAdmin(p)) return makeView([], true);
  if (!p.userId) return makeView([]);
  const rows = await db
    .selectFrom('grants')
    .innerJoin('folders', 'folders.id', 'grants.folder_id')
    .select(['folders.path_key', 'grants.permissions'])
    .where((eb) =>
      eb.or([
        eb.and([eb('grants.subject_type', '=', 'user'), eb('grants.subject_id', '=', p.userId as string)]),
        ...(p.orgId ? [eb.and([eb('grants.subject_type', '=', 'org'), eb('grants.subject_id', '=', p.orgId)])] : []),
      ]),
    )
    .execute();
  return makeView(
    rows.map((r) => ({
      folderKey: splitKey(r.path_key),
      perms: new Set(r.permissions.split(',').filter((x): x is Permission => (PERMISSIONS as readonly string[]).includes(x))),
    })),
  );
}
