import { v7 as uuidv7 } from 'uuid';
import { CoreError } from '../errors.js';
import { formatPath, joinPath, nameKey, ROOT, type VPath } from '../paths.js';
import { writeTx, type WriteScope } from '../tx.js';
import type { FolderRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { isScope, type FileScope, type Scope } from '../gate.js';
import { findChildFolder, findFileIn, findFolder, folderInfo, pathHash, type EntryInfo } from './resolve.js';

/** What only an administrator's folder creation may ask for: it comes with that scope. */
export interface MkdirOptions {
  /** The scope of admin.folder.create: without it the options below are refused. */
  readonly by: Scope<'admin.folder.create'>;
  /** Create missing ancestors too. */
  readonly parents?: boolean | undefined;
  /** Owning organisation id; otherwise inherited from the parent. */
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

export async function mkdir(deps: CoreDeps, sc: FileScope, opts?: MkdirOptions): Promise<EntryInfo> {
  const { principal: p, path: vp } = sc;
  // The options are a capability of the administrators' operation, not a second permission check.
  if (opts && !isScope(opts.by, 'admin.folder.create')) throw new Error('mkdir options need the scope of admin.folder.create');
  const parents = opts?.parents === true;
  const orgIdOpt = opts?.orgId;
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
        if (!last && !parents) throw new CoreError('NOT_FOUND', 'parent folder not found');
        if (await findFileIn(s.trx, cur.id, seg)) throw new CoreError('ALREADY_EXISTS', 'a file with this name exists');
        const orgId = last && orgIdOpt !== undefined ? orgIdOpt : cur.org_id;
        cur = await insertFolder(s, cur, seg, orgId, p.userId);
        await s.audit({ action: 'folder.create', outcome: 'success', actor: p, orgId: cur.org_id, targetPath: formatPath(curPath) });
      }
      return folderInfo(cur);
    });
  } catch (e) {
    if (e instanceof CoreError && e.code !== 'INTERNAL') throw await sc.failed('folder.create', vp, e);
    throw e;
  }
}
