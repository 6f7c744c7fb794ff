import { v7 as uuidv7 } from 'uuid';
import { CoreError } from '../errors.js';
import { isAdmin, type Principal } from '../principal.js';
import { formatPath, isRoot, joinPath, nameKey, parentOf, ROOT, type VPath } from '../paths.js';
import { writeTx, type WriteScope } from '../tx.js';
import type { FolderRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { failed, guard, parseFor, refusedPath } from './guard.js';
import { findChildFolder, findFileIn, findFolder, folderInfo, pathHash, type EntryInfo } from './resolve.js';

export interface MkdirOptions {
  /** Create missing ancestors too (administrators only). */
  readonly parents?: boolean | undefined;
  /** Owning organisation id (administrators only); otherwise inherited from the parent. */
  readonly orgId?: string | null | undefined;
}

/** Inserts one folder row under `parent` inside a write transaction. */
export async function insertFolder(s: WriteScope, parent: FolderRow, name: string, orgId: string | null, by: string | null): Promise<FolderRow> {
  const key = nameKey(name);
  const path_key = parent.path_key + '/' + key;
  const row: FolderRow = {
    id: uuidv7(),
    parent_id: parent.id,
    name,
    name_key: key,
    path: (parent.path === '/' ? '' : parent.path) + '/' + name,
    path_key,
    path_hash: pathHash(path_key),
    org_id: orgId,
    created_at: s.now,
    created_by: by,
  };
  await s.trx.insertInto('folders').values(row).execute();
  return row;
}

export async function mkdir(deps: CoreDeps, p: Principal, path: string, opts: MkdirOptions = {}): Promise<EntryInfo> {
  const vp = await parseFor(deps, p, 'folder.create', path);
  if (isRoot(vp)) throw await refusedPath(deps, p, 'folder.create', path, new CoreError('ALREADY_EXISTS', 'the root folder always exists'), 'root folder');
  const parent = parentOf(vp);
  await guard(deps, p, 'folder.create', parent, vp);
  if ((opts.parents || opts.orgId !== undefined) && !isAdmin(p))
    throw new CoreError('PERMISSION_DENIED', 'only administrators may set an owner or create parents');
  try {
    return await writeTx(deps.db, deps.clock, async (s) => {
      let cur = (await findFolder(s.trx, ROOT))!;
      let curPath: VPath = ROOT;
      for (let i = 0; i < vp.segments.length; i++) {
        const seg = vp.segments[i]!;
        curPath = joinPath(curPath, seg);
        const last = i === vp.segments.length - 1;
        const next = await findChildFolder(s.trx, cur.id, seg);
        if (next && !last) {
          cur = next;
          continue;
        }
        if (next && last) throw new CoreError('ALREADY_EXISTS', 'a folder with this name exists');
        if (!last && !opts.parents) throw new CoreError('NOT_FOUND', 'parent folder not found');
        if (await findFileIn(s.trx, cur.id, seg)) throw new CoreError('ALREADY_EXISTS', 'a file with this name exists');
        const orgId = last && opts.orgId !== undefined ? opts.orgId : cur.org_id;
        cur = await insertFolder(s, cur, seg, orgId, p.userId);
        await s.audit({ action: 'folder.create', outcome: 'success', actor: p, orgId: cur.org_id, targetPath: formatPath(curPath) });
      }
      return folderInfo(cur);
    });
  } catch (e) {
    if (e instanceof CoreError && e.code !== 'INTERNAL') throw await failed(deps, p, 'folder.create', vp, e);
    throw e;
  }
}
