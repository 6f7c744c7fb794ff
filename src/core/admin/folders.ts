import { enterPath, type Scope } from '../gate.js';
import type { CoreDeps } from '../deps.js';
import { mkdir } from '../files/mkdir.js';
import type { EntryInfo } from '../files/resolve.js';

export interface FolderSummary {
  readonly id: string;
  readonly path: string;
  readonly org: string | null;
  readonly createdAt: number;
}

export function createFolderAdmin(deps: CoreDeps, findOrg: (ref: string) => Promise<{ id: string }>) {
  return {
    /** Creates a folder and any missing parents; `org` sets the owning organisation (quota). */
    async create(sc: Scope<'admin.folder.create'>, path: string, opts: { org?: string | undefined } = {}): Promise<EntryInfo> {
      const p = sc.principal;
      const orgId = opts.org ? (await findOrg(opts.org)).id : undefined;
      // The folder itself passes the gate like any other (an administrator's view allows it).
      return mkdir(deps, await enterPath(deps, p, 'folder.create', path), { by: sc, parents: true, ...(orgId ? { orgId } : {}) });
    },
    async list(sc: Scope<'admin.folder.list'>, opts: { limit?: number; after?: string } = {}): Promise<FolderSummary[]> {
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
