import { CoreError } from '../errors.js';
import type { Principal } from '../principal.js';
import { baseName, isRoot, parentOf, type VPath } from '../paths.js';
import type { CoreDeps } from '../deps.js';
import { decide } from '../access/decide.js';
import { loadView } from '../access/view.js';
import { assertPrincipal, guard, parseFor } from './guard.js';
import { fileInfo, findFileIn, findFolder, folderInfo, keysOf, type EntryInfo } from './resolve.js';

/** Metadata of a file or folder the principal may see; NOT_FOUND otherwise. */
export async function statPath(deps: CoreDeps, p: Principal, path: string | VPath): Promise<EntryInfo> {
  assertPrincipal(p);
  const vp = typeof path === 'string' ? await parseFor(deps, p, 'file.stat', path) : path;
  if (isRoot(vp)) {
    const root = await findFolder(deps.db, vp);
    return { ...folderInfo(root!), name: '', path: '/' };
  }
  // A folder at this path that the principal may see?
  const view = await loadView(deps.db, p);
  if (decide(p, view, 'folder.list', keysOf(vp)).allow) {
    const folder = await findFolder(deps.db, vp);
    if (folder) return folderInfo(folder);
  }
  const parent = parentOf(vp);
  await guard(deps, p, 'file.stat', parent, vp, view);
  const folder = await findFolder(deps.db, parent);
  const file = folder ? await findFileIn(deps.db, folder.id, baseName(vp)) : undefined;
  if (!file) throw new CoreError('NOT_FOUND', 'not found');
  return fileInfo(file, parent);
}
