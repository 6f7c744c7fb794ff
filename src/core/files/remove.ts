import { CoreError } from '../errors.js';
import { baseName, formatPath, parentOf } from '../paths.js';
import { writeTx } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import { decide } from '../access/decide.js';
import type { FileScope } from '../gate.js';
import { discardBlob, unlinkStored } from './blobs.js';
import { countFile } from './usage.js';
import { findChildFolder, findFileIn, findFolder, keysOf } from './resolve.js';

export interface RemoveOptions {
  /** Only remove if it is this kind (SFTP REMOVE vs RMDIR). */
  readonly only?: 'file' | 'folder' | undefined;
}

/**
 * Removes a file, or an empty folder. The gate decided 'delete' on the containing folder (the
 * same for either kind: file.delete, or folder.delete when only a folder may go), before
 * anything was looked up.
 */
export async function remove(deps: CoreDeps, sc: FileScope, opts: RemoveOptions = {}): Promise<void> {
  const { principal: p, path: vp, view } = sc;
  const parent = parentOf(vp);
  const name = baseName(vp);
  const parentRow = await findFolder(deps.db, parent);
  const folder = decide(p, view, 'folder.list', keysOf(vp)).allow && parentRow ? await findChildFolder(deps.db, parentRow.id, name) : undefined;
  const kind = folder ? 'folder' : 'file';
  const action = kind === 'folder' ? 'folder.delete' : 'file.delete';
  if (opts.only && opts.only !== kind) {
    throw await sc.failed(action, vp, new CoreError(kind === 'folder' ? 'NOT_A_FILE' : 'NOT_A_FOLDER', kind === 'folder' ? 'not a file' : 'not a folder'));
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
    if (e instanceof CoreError && e.code !== 'INTERNAL') throw await sc.failed(action, vp, e);
    throw e;
  }
}
