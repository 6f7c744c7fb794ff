/**
 * What goes into an archive of several files and folders (GET /api/v1/fs-ops/zip): the selected
 * paths, with every folder walked through listFolder, page by page. This decides nothing of its
 * own: each path is looked up with statPath and each folder page with listFolder, both gated and
 * recorded as they are for any client; a folder the principal lists without 'list' permission
 * shows only the way to its granted sub-folders, as it does over SFTP. The bytes of each file are
 * then read by the front end through openDownload (authorized, recorded, counted by the
 * budgets exactly like a download), one file at a time, as the archive is written.
 */
import { CoreError } from '../errors.js';
import type { Principal } from '../principal.js';
import type { CoreDeps } from '../deps.js';
import { listFolder } from './list.js';
import { statPath } from './stat.js';
import { enterPath } from '../gate.js';

/** An archive entry: a file (read later through openDownload) or an empty folder. */
export interface ArchiveEntry {
  readonly type: 'file' | 'folder';
  /** The entry's virtual path. */
  readonly path: string;
  /** Its name inside the archive: relative, '/'-separated, unique within the archive. */
  readonly name: string;
  readonly size: number;
  readonly modified: number;
}

/** At most this many entries in one archive. */
export const MAX_ARCHIVE_ENTRIES = 50_000;
export const MAX_ARCHIVE_PATHS = 1_000;

/**
 * The entries of an archive of `paths`, in order: each selected file under its own name, each
 * selected folder under its name with everything below it. Names that would repeat get " (2)",
 * " (3)" … before their extension. Throws (before anything is yielded for it) what statPath throws
 * for a path that cannot be seen; INVALID_INPUT past MAX_ARCHIVE_ENTRIES.
 */
export async function* archiveEntries(deps: CoreDeps, p: Principal, paths: readonly string[]): AsyncGenerator<ArchiveEntry> {
  if (paths.length === 0) throw new CoreError('INVALID_INPUT', 'name at least one path');
  if (paths.length > MAX_ARCHIVE_PATHS) throw new CoreError('INVALID_INPUT', `at most ${MAX_ARCHIVE_PATHS} paths`);
  const used = new Set<string>();
  let count = 0;
  const unique = (name: string): string => {
    let n = name;
    for (let i = 2; used.has(n.toLowerCase()); i++) {
      const dot = name.lastIndexOf('.');
      const slash = name.lastIndexOf('/');
      n = dot > slash + 1 ? `${name.slice(0, dot)} (${i})${name.slice(dot)}` : `${name} (${i})`;
    }
    used.add(n.toLowerCase());
    return n;
  };
  const counted = (e: ArchiveEntry): ArchiveEntry => {
    if (++count > MAX_ARCHIVE_ENTRIES) throw new CoreError('INVALID_INPUT', `an archive holds at most ${MAX_ARCHIVE_ENTRIES} entries`);
    return e;
  };

  for (const path of paths) {
    const info = await enterPath(deps, p, 'entry.stat', path).then((s) => statPath(deps, s));
    if (info.type === 'file') {
      yield counted({ type: 'file', path: info.path, name: unique(info.name), size: info.size, modified: info.modified });
      continue;
    }
    const top = unique(info.name === '' ? 'files' : info.name);
    // Depth first, folders in the order listFolder gives them (sub-folders first, by name).
    const stack: Array<{ path: string; name: string }> = [{ path: info.path, name: top }];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const subs: Array<{ path: string; name: string }> = [];
      let empty = true;
      let cursor: string | undefined;
      do {
        const page = await enterPath(deps, p, 'folder.list', dir.path).then((s) => listFolder(deps, s, cursor === undefined ? {} : { cursor }));
        for (const e of page.entries) {
          empty = false;
          const name = `${dir.name}/${e.name}`;
          if (e.type === 'folder') subs.push({ path: e.path, name });
          else {
            used.add(name.toLowerCase());
            yield counted({ type: 'file', path: e.path, name, size: e.size, modified: e.modified });
          }
        }
        cursor = page.next;
      } while (cursor !== undefined);
      if (empty) yield counted({ type: 'folder', path: dir.path, name: dir.name, size: 0, modified: info.modified });
      for (let i = subs.length - 1; i >= 0; i--) stack.push(subs[i]!);
    }
  }
}
