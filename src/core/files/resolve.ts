/**
 * Looks up folders and files by parsed virtual path. Folders are found by the hash of their
 * path key (one indexed lookup); files by (folder, name key). Callers MUST have authorized the
 * operation (or decided what to hide) before they reveal anything found here.
 */
import { createHash } from 'node:crypto';
import type { Db, FileRow, FolderRow } from '../../ports/db-schema.js';
import type { Transaction } from 'kysely';
import type { Database } from '../../ports/db-schema.js';
import { formatPath, nameKey, type VPath } from '../paths.js';

type Q = Db | Transaction<Database>;

export const keysOf = (p: VPath): string[] => p.segments.map(nameKey);
export const pathKeyOf = (keys: readonly string[]): string => keys.map((k) => '/' + k).join('');
export const pathHash = (pathKey: string): string => createHash('sha256').update(pathKey).digest('hex');

export function findFolder(q: Q, p: VPath): Promise<FolderRow | undefined> {
  return q
    .selectFrom('folders')
    .selectAll()
    .where('path_hash', '=', pathHash(pathKeyOf(keysOf(p))))
    .executeTakeFirst();
}

export function findFileIn(q: Q, folderId: string, name: string): Promise<FileRow | undefined> {
  return q.selectFrom('files').selectAll().where('folder_id', '=', folderId).where('name_key', '=', nameKey(name)).executeTakeFirst();
}

export function findChildFolder(q: Q, folderId: string, name: string): Promise<FolderRow | undefined> {
  return q.selectFrom('folders').selectAll().where('parent_id', '=', folderId).where('name_key', '=', nameKey(name)).executeTakeFirst();
}

export interface EntryInfo {
  readonly type: 'file' | 'folder';
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string | null;
  readonly modified: number;
  readonly id: string;
}

/** The columns fileInfo reads (a listing selects only these). */
export const FILE_INFO_COLUMNS = ['id', 'name', 'size', 'sha256', 'modified_at'] as const;
/** The columns folderInfo reads. */
export const FOLDER_INFO_COLUMNS = ['id', 'name', 'path', 'created_at'] as const;

export function fileInfo(f: Pick<FileRow, (typeof FILE_INFO_COLUMNS)[number]>, folderPath: VPath): EntryInfo {
  const base = formatPath(folderPath);
  return {
    type: 'file',
    name: f.name,
    path: (base === '/' ? '' : base) + '/' + f.name,
    size: Number(f.size),
    sha256: f.sha256,
    modified: Number(f.modified_at),
    id: f.id,
  };
}

export function folderInfo(f: Pick<FolderRow, (typeof FOLDER_INFO_COLUMNS)[number]>): EntryInfo {
  return { type: 'folder', name: f.name, path: f.path, size: 0, sha256: null, modified: Number(f.created_at), id: f.id };
}
