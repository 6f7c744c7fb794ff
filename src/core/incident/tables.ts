/**
 * An incident scope as three tables for people and spreadsheets: files (every read, canary read,
 * write and delete), partners (one row per affected organisation) and data subjects (per
 * organisation: how many, which categories, how many files carry no count). Pure: it formats a
 * scope the caller already holds and reads nothing.
 *
 * Times are ISO 8601 in the configured time zone with its offset, and the CSV header names the
 * zone; canary reads are rows of kind `canary-read` and never count for a partner; a table cut
 * for display says so (`total`, `cut`). CSV cells go through csvCell (formula injection).
 */
import { csvCell } from './format.js';
import { readerFormat } from './locale.js';
import type { FileActivity, IncidentScope } from './scope.js';

export type Cell = string | number | boolean | null;
export type TableName = 'files' | 'partners' | 'subjects';
export const TABLE_NAMES: readonly TableName[] = ['files', 'partners', 'subjects'];

export interface Table {
  readonly name: TableName;
  readonly columns: readonly string[];
  /** Columns holding times (their CSV header names the zone). */
  readonly timeColumns: readonly string[];
  readonly rows: readonly Record<string, Cell>[];
  /** Rows before any cut. */
  readonly total: number;
  /** True when rows were left off (limit). */
  readonly cut: boolean;
}

const COLUMNS: Record<TableName, readonly string[]> = {
  files: [
    'kind',
    'path',
    'organisation',
    'extent',
    'bytes',
    'first',
    'last',
    'by',
    'addresses',
    'protocols',
    'sha256',
    'fileId',
    'dataSubjects',
    'dataCategories',
    'events',
  ],
  partners: ['organisation', 'ik', 'contacts', 'filesRead', 'filesReadCompletely', 'bytesRead', 'filesWritten', 'filesDeleted', 'dataSubjects'],
  subjects: ['organisation', 'ik', 'dataSubjects', 'dataCategories', 'filesRead', 'filesWithoutCount'],
};
const TIME_COLUMNS: Record<TableName, readonly string[]> = { files: ['first', 'last'], partners: [], subjects: [] };

export function scopeTable(scope: IncidentScope, name: TableName, opts: { timeZone?: string | undefined; limit?: number } = {}): Table {
  const fmt = readerFormat('en', opts.timeZone ?? 'UTC');
  let rows: Record<string, Cell>[];
  if (name === 'files') {
    const row = (kind: string, f: FileActivity): Record<string, Cell> => ({
      kind,
      path: f.path,
      organisation: f.org,
      extent: f.extent ?? null,
      bytes: f.bytes,
      first: fmt.isoLocal(f.times[0]),
      last: fmt.isoLocal(f.times[1]),
      by: f.by.join(' '),
      addresses: f.addresses.join(' '),
      protocols: f.protocols.join(' '),
      sha256: f.sha256,
      fileId: f.fileId,
      dataSubjects: f.dataSubjects,
      dataCategories: f.dataCategories.join(' '),
      events: f.events.join(' '),
    });
    rows = [
      ...scope.reads.map((f) => row('read', f)),
      ...(scope.canaryReads ?? []).map((f) => row('canary-read', f)),
      ...scope.writes.map((f) => row('write', f)),
      ...scope.deletes.map((f) => row('delete', f)),
    ];
  } else {
    const orgs = scope.organisations.filter((o) => o.orgId !== null);
    rows =
      name === 'partners'
        ? orgs.map((o) => ({
            organisation: o.org,
            ik: o.ik,
            contacts: o.contacts.map((c) => c.email).join(' '),
            filesRead: o.filesRead,
            filesReadCompletely: o.filesReadCompletely,
            bytesRead: o.bytesRead,
            filesWritten: o.filesWritten,
            filesDeleted: o.filesDeleted,
            dataSubjects: o.dataSubjects,
          }))
        : orgs
            .filter((o) => o.filesRead > 0)
            .map((o) => ({
              organisation: o.org,
              ik: o.ik,
              dataSubjects: o.dataSubjects,
              dataCategories: o.dataCategories.join(' '),
              filesRead: o.filesRead,
              filesWithoutCount: scope.reads.filter((r) => r.orgId === o.orgId && r.dataSubjects === null).length,
            }));
  }
  const limit = opts.limit ?? Infinity;
  return {
    name,
    columns: COLUMNS[name],
    timeColumns: TIME_COLUMNS[name],
    rows: rows.slice(0, limit),
    total: rows.length,
    cut: rows.length > limit,
  };
}

/** A table as CSV (UTF-8 with a byte order mark, CRLF); the header names the time zone of time columns. */
export function tableCsv(t: Table, timeZone = 'UTC'): string {
  const head = t.columns.map((c) => (t.timeColumns.includes(c) ? `${c} (${timeZone})` : c));
  const lines = [head.map(csvCell).join(','), ...t.rows.map((r) => t.columns.map((c) => csvCell(r[c])).join(','))];
  if (t.cut) lines.push(csvCell(`… ${t.total - t.rows.length} more rows (cut at ${t.rows.length})`));
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}
