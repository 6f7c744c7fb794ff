import type { Principal } from '../principal.js';
import type { CoreDeps } from '../deps.js';
import { mkdir } from '../files/mkdir.js';
import type { EntryInfo } from '../files/resolve.js';
import { requireAdmin } from './require-admin.js';

export interface FolderSummary {
  readonly id: string;
  readonly path: string;
  readonly org: string | null;
  readonly createdAt: number;
}

export function createFolderAdmin(deps: CoreDeps, findOrg: (ref: string) => Promise<{ id: string }>) {
  return {
    /** Creates a folder and any missing parents; `org` sets the owning organisation (quota). */
    async create(p: Principal, path: string, opts: { org?: string | undefined } = {}): Promise<EntryInfo> {
      await requireAdmin(deps, p, 'admin.folder.create');
      const orgId = opts.org ? (await findOrg(opts.org)).id : undefined;
      return mkdir(deps, p, path, { parents: true, ...(orgId ? { orgId } : {}) });
    },
    async list(p: Principal, opts: { limit?: number; after?: string } = {}): Promise<FolderSummary[]> {
      await requireAdmin(deps, p, 'admin.folder.list');
      const limit = Math.min(Math.max(opts.limit ?? 10_000, 1), 100_000);
      let q = deps.db
        .selectFrom('folders')
        .leftJoin('orgs', 'orgs.id', 'folders.org_id')
        .select(['folders.id', 'folders.path', 'folders.path_key', 'folders.created_at', 'orgs.name as org'])
        .where('folders.parent_id', 'is not', null)
        .orderBy('folders.path_key')
        .limit(limit);
      if (opts.after !== undefined) q = q.where('folders.path_key', '>', opts.after);
      const rows = await q.execute();
      return rows.map((r) => ({ id: r.id, path: r.path, org: r.org, createdAt: Number(r.created_at) }));
    },
  };
}
