/**
 * Downloads. The read is recorded in the ledger and committed BEFORE the blob is opened, so no
 * byte leaves without a record; a second event records how many bytes were actually handed out
 * when the stream ends or is closed early.
 */
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CoreError } from '../errors.js';
import { baseName, parentOf } from '../paths.js';
import { recordEvent } from '../tx.js';
import type { ByteRange } from '../../ports/blob-store.js';
import { readStored } from './blobs.js';
import type { CoreDeps } from '../deps.js';
import type { FileScope } from '../gate.js';
import { budgetsOf } from '../ops/budgets.js';
import { canariesOf } from '../ops/canaries.js';
import { fileInfo, findChildFolder, findFileIn, findFolder, type EntryInfo } from './resolve.js';

export interface DownloadRequest {
  /** Inclusive byte range; `end` beyond the last byte is clamped, as HTTP does. */
  readonly range?: { readonly start: number; readonly end?: number | undefined } | undefined;
}

export interface Download {
  readonly file: EntryInfo;
  /** The range actually served (whole file when no range was asked for). */
  readonly range: ByteRange | null;
  readonly length: number;
  readonly stream: Readable;
  /** Resolves once the end of the download (bytes handed out) is recorded in the ledger (a lazy commit: up to LAZY_MS after the stream ends, or with the next write). */
  readonly finished: Promise<void>;
}

export async function openDownload(deps: CoreDeps, sc: FileScope, req: DownloadRequest = {}): Promise<Download> {
  const { principal: p, path: vp } = sc;
  const parent = parentOf(vp);
  const folder = await findFolder(deps.db, parent);
  const file = folder ? await findFileIn(deps.db, folder.id, baseName(vp)) : undefined;
  if (!file) {
    if (folder && (await findChildFolder(deps.db, folder.id, baseName(vp)))) throw new CoreError('NOT_A_FILE', 'not a file');
    throw new CoreError('NOT_FOUND', 'not found');
  }
  const size = Number(file.size);
  let range: ByteRange | null = null;
  if (req.range) {
    const { start } = req.range;
    const end = Math.min(req.range.end ?? size - 1, size - 1);
    if (!Number.isSafeInteger(start) || start < 0 || start >= size || end < start) {
      throw await sc.failed('file.read', vp, new CoreError('RANGE_NOT_SATISFIABLE', 'range not satisfiable', { details: { size } }));
    }
    range = { start, end };
  }
  const length = range ? range.end - range.start + 1 : size;
  const info = fileInfo(file, parent);
  // Budget check, usage and the read event in one transaction, committed before any byte.
  const seq = await budgetsOf(deps).recordRead(p, length, !range || range.start === 0, {
    action: 'file.read',
    outcome: 'success',
    actor: p,
    orgId: file.org_id,
    targetPath: info.path,
    fileId: file.id,
    sha256: file.sha256,
    bytes: length,
    detail: range ? { range: [range.start, range.end], size } : { size },
  });
  await canariesOf(deps).onRead(p, file.id, info.path);
  /**
   * The end of the read: how many bytes went out. Relaxed: the read itself was committed durably
   * before the first byte; this only adds how many bytes left, and waiting for the disk here would
   * hold up the next request. Lazy when nobody waits for it: it rides with the next write (the
   * next file's read, in a series of downloads) instead of a transaction of its own.
   */
  const recordEnd = (ok: boolean, bytes: number, detail: Record<string, unknown>, lazy: boolean): Promise<unknown> =>
    recordEvent(
      deps.db,
      deps.clock,
      { action: 'file.read.end', outcome: ok ? 'success' : 'failure', actor: p, orgId: file.org_id, targetPath: info.path, fileId: file.id, bytes, detail },
      { durable: false, lazy },
    ).catch((e: unknown) => deps.log.error({ err: e }, 'could not record the end of a download'));
  let source: Readable;
  try {
    source = await readStored(deps, file, range ?? undefined);
  } catch (e) {
    // The read is in the ledger already: its end says that nothing left (an integrity failure, a
    // store that failed), so every file.read has its file.read.end.
    await recordEnd(false, 0, { read: seq, complete: false, error: e instanceof CoreError ? e.code : 'INTERNAL' }, false);
    throw e;
  }
  let sent = 0;
  // Counts in the transform itself: a 'data' listener would switch the stream to flowing mode
  // before the front end reads it.
  // A lockdown, a kill switch, a revoked principal or grant also stop downloads already running:
  // the scope re-checks every RUNNING_CHECK_MS against cached state, so it costs nothing per chunk.
  const out = new Transform({
    highWaterMark: 256 * 1024,
    transform(c: Buffer, _enc, cb) {
      sent += c.length;
      const due = sc.recheck();
      if (!due) return cb(null, c);
      due.then(
        () => cb(null, c),
        (e: unknown) => cb(e as Error),
      );
    },
  });
  let done = false;
  let settle!: () => void;
  const finished = new Promise<void>((r) => (settle = r));
  const finish = (ok: boolean) => {
    if (done) return;
    done = true;
    void recordEnd(ok && sent === length, sent, { read: seq, complete: sent === length }, true).finally(settle);
  };
  pipeline(source, out).then(
    () => finish(true),
    (e) => {
      if (e instanceof CoreError && e.code === 'INTEGRITY') deps.log.error({ fileId: file.id }, 'stored file failed its integrity check');
      finish(false);
    },
  );
  out.on('close', () => finish(out.readableEnded));
  return { file: info, range, length, stream: out, finished };
}
