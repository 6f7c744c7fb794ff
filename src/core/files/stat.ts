import { CoreError } from '../errors.js';
import { baseName, isRoot, parentOf } from '../paths.js';
import type { CoreDeps } from '../deps.js';
import type { FileScope } from '../gate.js';
import { fileInfo, findFileIn, findFolder, folderInfo, type EntryInfo } from './resolve.js';

/**
 * Metadata of a file or folder the principal may see; NOT_FOUND otherwise. The gate let the path
 * through as visible (entry.stat): a folder there is shown; a file needs 'list' or 'read' on its
 * folder as well (file.stat), asked of the gate once we know it is one.
 */
export async function statPath(deps: CoreDeps, s: FileScope): Promise<EntryInfo> {
  const vp = s.path;
  if (isRoot(vp)) {
    const root = await findFolder(deps.db, vp);
    return { ...folderInfo(root!), name: '', path: '/' };
  }
  const folder = await findFolder(deps.db, vp);
  if (folder) return folderInfo(folder);
  await s.authorize('file.stat', vp);
  const parent = parentOf(vp);
  const pf = await findFolder(deps.db, parent);
  const file = pf ? await findFileIn(deps.db, pf.id, baseName(vp)) : undefined;
  if (!file) throw new CoreError('NOT_FOUND', 'not found');
  return fileInfo(file, parent);
}
