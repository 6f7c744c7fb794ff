import { CoreError } from '../errors.js';
import { formatPath, type VPath } from '../paths.js';
import { recordEvent } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import type { AccessView } from '../access/view.js';
import type { FileScope } from '../gate.js';
import { listsContents } from '../access/decide.js';
import { FILE_INFO_COLUMNS, FOLDER_INFO_COLUMNS, fileInfo, findFolder, folderInfo, keysOf, type EntryInfo } from './resolve.js';

export interface ListOptions {
  readonly cursor?: string | undefined;
  readonly limit?: number | undefined;
}
export interface ListPage {
  readonly path: string;
  readonly entries: readonly EntryInfo[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  readonly next?: string;
}

export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 5000;

interface Cursor {
  t: 'd' | 'f';
  k: string;
}
function decodeCursor(c: string | undefined): Cursor | undefined {
  if (c === undefined || c === '') return undefined;
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && ((v as Cursor).t === 'd' || (v as Cursor).t === 'f') && typeof (v as Cursor).k === 'string') return v as Cursor;
  } catch {
    /* fall through */
  }
  throw new CoreError('INVALID_INPUT', 'invalid cursor');
}
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

/**
 * Lists a folder: sub-folders first, then files, each sorted by name key, in pages.
 * Without 'list' permission on the folder only the sub-folders that lead to a granted folder are
 * shown (the way there), and no files.
 */
export async function listFolder(deps: CoreDeps, s: FileScope, opts: ListOptions = {}): Promise<ListPage> {
  const { principal: p, path: vp, view } = s;
  const folder = await findFolder(deps.db, vp);
  if (!folder) {
    throw new CoreError('NOT_FOUND', 'folder not found');
  }
  const cursor = decodeCursor(opts.cursor);
  const page = await pageOf(deps, vp, view, folder.id, cursor, Math.min(Math.max(1, Math.floor(opts.limit ?? DEFAULT_PAGE)), MAX_PAGE));
  // Every page is recorded, the names it showed counted: a listing continued with a cursor (which a
  // client can forge) is as visible in the ledger as its first page. Continuation pages commit
  // without waiting for the disk, so paging through a huge folder does not cost a flush per page.
  await recordEvent(
    deps.db,
    deps.clock,
    {
      action: 'folder.list',
      outcome: 'success',
      actor: p,
      targetPath: page.path,
      detail: { entries: page.entries.length, ...(cursor ? { continued: true } : {}), ...(page.next ? { more: true } : {}) },
    },
    cursor ? { durable: false } : undefined,
  );
  return page;
}

async function pageOf(deps: CoreDeps, vp: VPath, view: AccessView, folderId: string, cursor: Cursor | undefined, limit: number): Promise<ListPage> {
  const keys = keysOf(vp);
  const seeAll = listsContents(view, keys);
  const entries: EntryInfo[] = [];

  if (!cursor || cursor.t === 'd') {
    // Only the columns an entry shows: a page of 5,000 full rows took three times as long to read.
    let q = deps.db
      .selectFrom('folders')
      .select([...FOLDER_INFO_COLUMNS, 'name_key'])
      .where('parent_id', '=', folderId)
      .orderBy('name_key')
      .limit(limit + 1);
    if (cursor) q = q.where('name_key', '>', cursor.k);
    const rows = await q.execute();
    for (const r of rows.slice(0, limit)) if (seeAll || view.childVisible(keys, r.name_key)) entries.push(folderInfo(r));
    if (rows.length > limit) {
      const last = rows[limit - 1]!;
      return { path: formatPath(vp), entries, next: encodeCursor({ t: 'd', k: last.name_key }) };
    }
  }
  if (seeAll) {
    const room = limit - entries.length;
    if (room <= 0) return { path: formatPath(vp), entries, next: encodeCursor({ t: 'f', k: '' }) };
    let q = deps.db
      .selectFrom('files')
      .select([...FILE_INFO_COLUMNS, 'name_key'])
      .where('folder_id', '=', folderId)
      .orderBy('name_key')
      .limit(room + 1);
    if (cursor?.t === 'f' && cursor.k !== '') q = q.where('name_key', '>', cursor.k);
    const rows = await q.execute();
    for (const r of rows.slice(0, room)) entries.push(fileInfo(r, vp));
    if (rows.length > room) {
      return { path: formatPath(vp), entries, next: encodeCursor({ t: 'f', k: rows[room - 1]!.name_key }) };
    }
  }
  return { path: formatPath(vp), entries };
}
