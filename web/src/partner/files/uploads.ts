/**
 * The upload queue: files (with their relative folder, for dropped folders) go to a target
 * folder, a few at a time, each with its progress; every one can be cancelled, or all at once.
 * Folders of a dropped tree are created first (mkdir; one that exists already is fine).
 *
 * Transport: transport.ts (tus 1.0 resumable uploads; progress from the browser's upload events).
 */
import { ApiError, post } from '../../api/client';
import { store } from '../../shell/store';
import { baseName, join, parentOf } from './paths';
import { uploadFile } from './transport';

export type UploadState = 'queued' | 'uploading' | 'done' | 'failed' | 'cancelled';

export interface UploadItem {
  readonly id: number;
  /** Path relative to the target folder ("report.pdf", "scans/a.tif"). */
  readonly relative: string;
  readonly target: string;
  readonly size: number;
  readonly sent: number;
  readonly state: UploadState;
  readonly error?: unknown;
  /** An interrupted upload of this file (a reload, a lost connection) was continued. */
  readonly resumed?: boolean;
}

export interface PendingFile {
  readonly file: File;
  readonly relative: string;
}

const CONCURRENCY = 3;

export const uploads = store<readonly UploadItem[]>([]);
const files = new Map<number, File>();
const aborts = new Map<number, AbortController>();
const createdFolders = new Set<string>();
let nextId = 1;
const listeners = new Set<(item: UploadItem) => void>();

/** Called whenever an upload finishes, fails or is cancelled (the files screen reloads its list). */
export function onUploadSettled(f: (item: UploadItem) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

function update(id: number, patch: Partial<UploadItem>): void {
  uploads.set(uploads.get().map((u) => (u.id === id ? { ...u, ...patch } : u)));
}

export function enqueue(target: string, pending: readonly PendingFile[]): void {
  const items: UploadItem[] = pending.map((p) => {
    const id = nextId++;
    files.set(id, p.file);
    return { id, relative: p.relative, target, size: p.file.size, sent: 0, state: 'queued' };
  });
  uploads.set([...uploads.get(), ...items]);
  pump();
}

export function cancel(id: number): void {
  const u = uploads.get().find((x) => x.id === id);
  if (!u || (u.state !== 'queued' && u.state !== 'uploading')) return;
  aborts.get(id)?.abort();
  settle(id, { state: 'cancelled' });
}

export function cancelAll(): void {
  for (const u of uploads.get()) cancel(u.id);
}

/** Removes finished, failed and cancelled uploads from the list. */
export function clearFinished(): void {
  uploads.set(uploads.get().filter((u) => u.state === 'queued' || u.state === 'uploading'));
}

export function totals(list: readonly UploadItem[]): { size: number; sent: number; active: number; done: number; failed: number } {
  let size = 0;
  let sent = 0;
  let active = 0;
  let done = 0;
  let failed = 0;
  for (const u of list) {
    if (u.state === 'cancelled') continue;
    size += u.size;
    sent += u.state === 'done' ? u.size : u.sent;
    if (u.state === 'queued' || u.state === 'uploading') active++;
    if (u.state === 'done') done++;
    if (u.state === 'failed') failed++;
  }
  return { size, sent, active, done, failed };
}

function settle(id: number, patch: Partial<UploadItem>): void {
  files.delete(id);
  aborts.delete(id);
  update(id, patch);
  const u = uploads.get().find((x) => x.id === id);
  if (u) for (const f of listeners) f(u);
  pump();
}

function pump(): void {
  const list = uploads.get();
  let running = list.filter((u) => u.state === 'uploading').length;
  for (const u of list) {
    if (running >= CONCURRENCY) break;
    if (u.state !== 'queued') continue;
    running++;
    void start(u);
  }
}

async function ensureFolders(target: string, relative: string): Promise<void> {
  const segs = relative.split('/').slice(0, -1);
  let at = target;
  for (const s of segs) {
    at = join(at, s);
    if (createdFolders.has(at)) continue;
    try {
      await post('/api/v1/fs-ops/mkdir', { path: at });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'ALREADY_EXISTS')) throw e;
    }
    createdFolders.add(at);
  }
}

async function start(u: UploadItem): Promise<void> {
  const file = files.get(u.id);
  if (!file) return;
  const ac = new AbortController();
  aborts.set(u.id, ac);
  update(u.id, { state: 'uploading' });
  try {
    await ensureFolders(u.target, u.relative);
    if (ac.signal.aborted) return;
    const target = join(u.target, u.relative);
    await uploadFile(parentOf(target), baseName(target), file, {
      signal: ac.signal,
      onProgress: (sent) => update(u.id, { sent }),
      onResume: () => update(u.id, { resumed: true }),
    });
    settle(u.id, { state: 'done', sent: u.size });
  } catch (e) {
    if (ac.signal.aborted) return; // cancel() has settled it
    settle(u.id, { state: 'failed', error: e });
  }
}

/** Files of a drop: plain files and whole folders (walked through the entries API). */
export async function filesOfDrop(dt: DataTransfer): Promise<PendingFile[]> {
  const entries = [...dt.items].map((i) => (i.kind === 'file' ? i.webkitGetAsEntry() : null)).filter((e): e is FileSystemEntry => e !== null);
  if (!entries.length) return [...dt.files].map((file) => ({ file, relative: file.name }));
  const out: PendingFile[] = [];
  const walk = async (e: FileSystemEntry, prefix: string): Promise<void> => {
    if (e.isFile) {
      const file = await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej));
      out.push({ file, relative: prefix + e.name });
    } else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const c of batch) await walk(c, `${prefix}${e.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

/** Files chosen with the file picker (a folder picker gives webkitRelativePath). */
export function filesOfInput(list: FileList | null): PendingFile[] {
  return [...(list ?? [])].map((file) => ({ file, relative: file.webkitRelativePath || file.name }));
}
