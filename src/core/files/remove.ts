import { CoreError } from '../errors.js';
import type { Principal } from '../principal.js';
import { baseName, formatPath, isRoot, parentOf } from '../paths.js';
import { writeTx } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import { decide } from '../access/decide.js';
import { loadView } from '../access/view.js';
import { failed, guard, parseFor, refusedPath } from './guard.js';
import { discardBlob, unlinkStored } from './blobs.js';
import { countFile } from './usage.js';
import { findChildFolder, findFileIn, findFolder, keysOf } from './resolve.js';

export interface RemoveOptions {
  /** Only remove if it is this kind (SFTP REMOVE vs RMDIR). */
  readonly only?: 'file' | 'folder' | undefined;
}

/** Removes a file, or an empty folder. */
export async function remove(deps: CoreDeps, p: Principal, path: string, opts: RemoveOptions = {}): Promise<void> {
  const vp = await parseFor(deps, p, opts.only === 'folder' ? 'folder.delete' : 'file.delete', path);
  if (isRoot(vp))
    throw await refusedPath(deps, p, 'folder.delete', path, new CoreError('PERMISSION_DENIED', 'the root folder cannot be removed'), 'root folder');
  const parent = parentOf(vp);
  const name = baseName(vp);
  // Which kind is it? Decide visibility first so nothing hidden is revealed.
  const view = await loadView(deps.db, p);
  const folderVisible = decide(p, view, 'folder.list', keysOf(vp)).allow;
  const parentRow = await findFolder(deps.db, parent);
  const folder = folderVisible && parentRow ? await findChildFolder(deps.db, parentRow.id, name) : undefined;
  const kind = folder ? 'folder' : 'file';
  const action = kind === 'folder' ? 'folder.delete' : 'file.delete';
  await guard(deps, p, action, parent, vp);
  if (opts.only && opts.only !== kind) {
    throw await failed(
      deps,
      p,
      action,
      vp,
      new CoreError(kind === 'folder' ? 'NOT_A_FILE' : 'NOT_A_FOLDER', kind === 'folder' ? 'not a file' : 'not a folder'),
    );
  }
  try {
    const blob = await writeTx(deps.db, deps.clock, async (s) => {
      if (folder) {
        const f = await findFolder(s.trx, vp);
        if (!f) throw new CoreError('NOT_FOUND', 'not found');
        const child = await s.trx.selectFrom('folders').select('id').where('parent_id', '=', f.id).limit(1).executeTakeFirst();
        const file = await s.trx.selectFrom('files').select('id').where('folder_id', '=', f.id).limit(1).executeTakeFirst();
        if (child || file) throw new CoreError('FOLDER_NOT_EMPTY', 'folder is not empty');
        await s.trx.deleteFrom('grants').where('folder_id', '=', f.id).execute();
        await s.trx.deleteFrom('folders').where('id', '=', f.id).execute();
        await s.audit({ action, outcome: 'success', actor: p, orgId: f.org_id, targetPath: formatPath(vp) });
        return undefined;
      }
      const pf = await findFolder(s.trx, parent);
      const file = pf ? await findFileIn(s.trx, pf.id, name) : undefined;
      if (!file) throw new CoreError('NOT_FOUND', 'not found');
      await s.trx.deleteFrom('files').where('id', '=', file.id).execute();
      await countFile(s.trx, file.org_id, -Number(file.size));
      const drop = await unlinkStored(s.trx, s.now, deps.settings.nodeId, file);
      await s.audit({
        action,
        outcome: 'success',
        actor: p,
        orgId: file.org_id,
        targetPath: formatPath(vp),
        fileId: file.id,
        sha256: file.sha256,
        bytes: Number(file.size),
      });
      return drop;
    });
    if (blob) await discardBlob(deps, blob);
  } catch (e) {
    if (e instanceof CoreError && e.code !== 'INTERNAL') throw await failed(deps, p, action, vp, e);
    throw e;
  }
}
