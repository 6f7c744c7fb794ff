import { CoreError } from '../errors.js';
import { baseName, formatPath, isAncestorOrSelf, nameKey, parentOf } from '../paths.js';
import { writeTx } from '../tx.js';
import type { BlobKey } from '../../ports/blob-store.js';
import type { CoreDeps } from '../deps.js';
import { decide } from '../access/decide.js';
import type { FileScope } from '../gate.js';
import { discardBlob, unlinkStored } from './blobs.js';
import { countFile, quotaRoom } from './usage.js';
import { fileInfo, findChildFolder, findFileIn, findFolder, folderInfo, keysOf, pathHash, type EntryInfo } from './resolve.js';

export interface RenameOptions {
  /** Replace an existing file at the destination (POSIX rename semantics). */
  readonly overwrite?: boolean | undefined;
}

/**
 * Renames or moves a file or folder. The gate checked 'delete' where it leaves (entry.rename-from,
 * the scope's path) and 'write' where it arrives (entry.rename-to, the scope's `to`) before
 * anything was looked up.
 */
export async function rename(deps: CoreDeps, sc: FileScope, opts: RenameOptions = {}): Promise<EntryInfo> {
  const { principal: p, path: src, view } = sc;
  const dst = sc.to;
  if (!dst) throw new Error('rename needs the scope of both paths');
  const srcParent = parentOf(src);
  const dstParent = parentOf(dst);
  const srcIsFolder = decide(p, view, 'folder.list', keysOf(src)).allow && !!(await findFolder(deps.db, src));
  if (srcIsFolder && isAncestorOrSelf(src, dst)) {
    if (keysOf(src).join('/') === keysOf(dst).join('/') && baseName(src) !== baseName(dst)) {
      // case-only rename of the same folder: allowed below
    } else {
      throw await sc.failed('entry.rename', src, new CoreError('INVALID_INPUT', 'a folder cannot be moved into itself'));
    }
  }
  const newName = baseName(dst);
  try {
    const res = await writeTx(deps.db, deps.clock, async (s) => {
      const sp = await findFolder(s.trx, srcParent);
      const dp = await findFolder(s.trx, dstParent);
      if (!sp) throw new CoreError('NOT_FOUND', 'not found');
      if (!dp) throw new CoreError('NOT_FOUND', 'destination folder not found');
      const sameEntry = (id: string | undefined, srcId: string) => id === srcId;
      if (srcIsFolder) {
        const f = await findChildFolder(s.trx, sp.id, baseName(src));
        if (!f) throw new CoreError('NOT_FOUND', 'not found');
        const clashF = await findChildFolder(s.trx, dp.id, newName);
        if (clashF && !sameEntry(clashF.id, f.id)) throw new CoreError('ALREADY_EXISTS', 'a folder with this name exists');
        if (await findFileIn(s.trx, dp.id, newName)) throw new CoreError('ALREADY_EXISTS', 'a file with this name exists');
        const newPath = (dp.path === '/' ? '' : dp.path) + '/' + newName;
        const newKey = dp.path_key + '/' + nameKey(newName);
        const oldKey = f.path_key;
        const oldPath = f.path;
        await s.trx
          .updateTable('folders')
          .set({ parent_id: dp.id, name: newName, name_key: nameKey(newName), path: newPath, path_key: newKey, path_hash: pathHash(newKey) })
          .where('id', '=', f.id)
          .execute();
        // Descendants: rewrite their stored paths under the new prefix.
        const desc = await s.trx
          .selectFrom('folders')
          .select(['id', 'path', 'path_key'])
          .where((eb) => eb(eb.fn('substr', [eb.ref('path_key'), eb.val(1), eb.val([...oldKey].length + 1)]), '=', oldKey + '/'))
          .execute();
        for (const d of desc) {
          const k = newKey + d.path_key.slice(oldKey.length);
          await s.trx
            .updateTable('folders')
            .set({ path: newPath + d.path.slice(oldPath.length), path_key: k, path_hash: pathHash(k) })
            .where('id', '=', d.id)
            .execute();
        }
        await s.audit({
          action: 'entry.rename',
          outcome: 'success',
          actor: p,
          orgId: f.org_id,
          targetPath: formatPath(src),
          detail: { to: newPath, type: 'folder', descendants: desc.length },
        });
        const moved = await s.trx.selectFrom('folders').selectAll().where('id', '=', f.id).executeTakeFirstOrThrow();
        return { info: folderInfo(moved), drop: undefined };
      }
      const file = await findFileIn(s.trx, sp.id, baseName(src));
      if (!file) throw new CoreError('NOT_FOUND', 'not found');
      if (await findChildFolder(s.trx, dp.id, newName)) throw new CoreError('ALREADY_EXISTS', 'a folder with this name exists');
      const clash = await findFileIn(s.trx, dp.id, newName);
      let drop: BlobKey | undefined;
      const replaces = !!clash && clash.id !== file.id;
      if (clash && replaces) {
        if (!opts.overwrite) throw new CoreError('ALREADY_EXISTS', 'a file with this name exists');
        await s.trx.deleteFrom('files').where('id', '=', clash.id).execute();
        await countFile(s.trx, clash.org_id, -Number(clash.size));
        drop = await unlinkStored(s.trx, s.now, deps.settings.nodeId, clash);
      }
      if (dp.org_id !== file.org_id) {
        // The file's bytes move to the destination's organisation and count against its quota.
        if (Number(file.size) > (await quotaRoom(s.trx, dp.org_id))) throw new CoreError('QUOTA_EXCEEDED', 'the organisation storage quota would be exceeded');
        await countFile(s.trx, file.org_id, -Number(file.size));
        await countFile(s.trx, dp.org_id, Number(file.size));
      }
      await s.trx
        .updateTable('files')
        .set({ folder_id: dp.id, name: newName, name_key: nameKey(newName), org_id: dp.org_id, modified_at: s.now })
        .where('id', '=', file.id)
        .execute();
      await s.audit({
        action: 'entry.rename',
        outcome: 'success',
        actor: p,
        orgId: file.org_id,
        targetPath: formatPath(src),
        fileId: file.id,
        sha256: file.sha256,
        detail: { to: formatPath(dst), type: 'file', ...(clash && replaces ? { replaced: clash.id } : {}) },
      });
      const moved = await s.trx.selectFrom('files').selectAll().where('id', '=', file.id).executeTakeFirstOrThrow();
      return { info: fileInfo(moved, dstParent), drop };
    });
    if (res.drop) await discardBlob(deps, res.drop);
    return res.info;
  } catch (e) {
    if (e instanceof CoreError && e.code !== 'INTERNAL') throw await sc.failed('entry.rename', src, e, { to: formatPath(dst) });
    throw e;
  }
}
