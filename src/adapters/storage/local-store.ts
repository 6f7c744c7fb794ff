/**
 * BlobStore on a local directory.
 *
 * Layout (all directories mode 0700, all files mode 0600):
 *   <dir>/objects/<first two hex digits of key>/<key>   finished objects
 *   <dir>/tmp/<key>.<random>                            puts in progress, or leftovers of crashes
 *
 * Contracts (in addition to the BlobStore port):
 * - Every method validates its key against BLOB_KEY_RE before building any path from it; an
 *   invalid key is a CoreError INTERNAL. No other string reaches the filesystem.
 * - put writes a temporary file created exclusively (O_EXCL), pulls the next chunk only after the
 *   previous one is written (backpressure), fsyncs the file, renames it into place and fsyncs the
 *   shard directory. A reader therefore sees either nothing or the complete object. On any error
 *   or abort the temporary file is removed and the original error is rethrown unchanged; an abort
 *   rejects with the signal's reason when that is a CoreError, otherwise with CoreError ABORTED
 *   (reason as `cause`).
 * - Chunks yielded by the source are written before the next one is requested, except chunks
 *   smaller than STAGE_BYTES, which are copied into a staging buffer; so a source MAY reuse a
 *   chunk's memory once it has been asked for the next one.
 * - get opens the file first (missing → NOT_FOUND), then streams the requested inclusive range.
 *   `end` past the end is clamped; `start` at or past the end → RANGE_NOT_SATISFIABLE.
 * - sweepTemp deletes everything in tmp/. Call it when no put is running (at startup): a put
 *   whose temporary file is swept fails instead of completing.
 */
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, opendir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BLOB_KEY_RE, type BlobKey, type BlobStore, type ByteRange } from '../../ports/blob-store.js';
import { CoreError, notFound } from '../../core/errors.js';
import { abortError, assertBlobKey, assertChunk, closeIterator, nextOrAbort, resolveRange } from './common.js';

export interface LocalStoreOptions {
  /** Root directory of the store; created (mode 0700) on first use. */
  readonly dir: string;
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** Chunks below this size are coalesced in a staging buffer, so tiny chunks do not cost a syscall each. */
const STAGE_BYTES = 16 * 1024;
const STAGE_CAPACITY = 128 * 1024;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
/** Read size of get streams: several 64 KiB segments per read, fewer syscalls and copies upstream. */
const READ_CHUNK_BYTES = 256 * 1024;
const SHARD_RE = /^[0-9a-f]{2}$/;

export function createLocalStore(opts: LocalStoreOptions): BlobStore {
  const root = opts.dir;
  const objectsDir = join(root, 'objects');
  const tmpDir = join(root, 'tmp');

  // Only ever called with a validated key.
  const shardOf = (key: BlobKey): string => join(objectsDir, key.slice(0, 2));
  const pathOf = (key: BlobKey): string => join(shardOf(key), key);

  async function ensureDir(path: string): Promise<string | undefined> {
    return mkdir(path, { recursive: true, mode: DIR_MODE });
  }

  async function put(key: BlobKey, source: AsyncIterable<Uint8Array>, putOpts: { signal?: AbortSignal } = {}): Promise<{ size: number }> {
    assertBlobKey(key);
    const { signal } = putOpts;
    if (signal?.aborted) throw abortError(signal);

    const shard = shardOf(key);
    const finalPath = pathOf(key);
    await ensureDir(tmpDir);
    const createdShard = await ensureDir(shard);
    const tmpPath = join(tmpDir, `${key}.${randomBytes(8).toString('hex')}`);

    let fh: FileHandle | undefined;
    let it: AsyncIterator<Uint8Array> | undefined;
    let renamed = false;
    try {
      // 'wx' = O_WRONLY|O_CREAT|O_EXCL: never opens an existing file or follows a planted symlink.
      fh = await open(tmpPath, 'wx', FILE_MODE);
      const file = fh;
      const stage = Buffer.allocUnsafe(STAGE_CAPACITY);
      let staged = 0;
      let size = 0;

      it = source[Symbol.asyncIterator]();
      for (;;) {
        const r = await nextOrAbort(it, signal);
        if (r.done === true) break;
        const chunk = r.value;
        assertChunk(chunk);
        size += chunk.byteLength;
        if (chunk.byteLength < STAGE_BYTES && staged + chunk.byteLength <= STAGE_CAPACITY) {
          stage.set(chunk, staged);
          staged += chunk.byteLength;
          if (staged >= STAGE_CAPACITY - STAGE_BYTES) {
            await writeAll(file, [stage.subarray(0, staged)]);
            staged = 0;
          }
        } else {
          await writeAll(file, staged > 0 ? [stage.subarray(0, staged), chunk] : [chunk]);
          staged = 0;
        }
        if (signal?.aborted) throw abortError(signal);
      }
      if (staged > 0) await writeAll(file, [stage.subarray(0, staged)]);
      await file.sync();
      fh = undefined;
      await file.close();
      if (signal?.aborted) throw abortError(signal);

      await rename(tmpPath, finalPath);
      renamed = true;
      await fsyncDir(shard);
      if (createdShard !== undefined) {
        // New directories must be durable too, or the rename could be lost with them.
        await fsyncDir(objectsDir);
        if (createdShard === objectsDir || createdShard.length < objectsDir.length) await fsyncDir(root);
      }
      return { size };
    } catch (err) {
      closeIterator(it);
      if (fh !== undefined) await fh.close().catch(() => {});
      await rm(tmpPath, { force: true }).catch(() => {});
      // After the rename, only a failed directory fsync can land here: the object's durability is
      // unknown, the caller sees a failure, so it must not stay visible under `key`.
      if (renamed) await rm(finalPath, { force: true }).catch(() => {});
      throw err;
    }
  }

  async function get(key: BlobKey, range?: ByteRange): Promise<Readable> {
    assertBlobKey(key);
    let fh: FileHandle;
    try {
      fh = await open(pathOf(key), constants.O_RDONLY | O_NOFOLLOW);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound('blob not found');
      throw err;
    }
    try {
      const { size } = await fh.stat();
      const r = resolveRange(range, size);
      // The stream owns the handle from here on and closes it when it ends or is destroyed.
      const opts = { fd: fh, highWaterMark: READ_CHUNK_BYTES };
      return createReadStream('', r === null ? opts : { ...opts, start: r.start, end: r.end });
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  async function statKey(key: BlobKey): Promise<{ size: number } | null> {
    assertBlobKey(key);
    try {
      const st = await stat(pathOf(key));
      return { size: st.size };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  async function del(key: BlobKey): Promise<void> {
    assertBlobKey(key);
    try {
      await unlink(pathOf(key));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  async function* keys(): AsyncGenerator<BlobKey> {
    const shards = await openDirIfExists(objectsDir);
    if (shards === null) return;
    for await (const shard of shards) {
      if (!shard.isDirectory() || !SHARD_RE.test(shard.name)) continue;
      const entries = await openDirIfExists(join(objectsDir, shard.name));
      if (entries === null) continue;
      for await (const entry of entries) {
        const name = entry.name;
        if (entry.isFile() && BLOB_KEY_RE.test(name) && name.startsWith(shard.name)) yield name as BlobKey;
      }
    }
  }

  async function sweepTemp(): Promise<number> {
    const entries = await openDirIfExists(tmpDir);
    if (entries === null) return 0;
    let count = 0;
    for await (const entry of entries) {
      await rm(join(tmpDir, entry.name), { force: true, recursive: true });
      count++;
    }
    return count;
  }

  async function check(): Promise<void> {
    const probe = join(tmpDir, `.check-${randomBytes(8).toString('hex')}`);
    try {
      await ensureDir(objectsDir);
      await ensureDir(tmpDir);
      const fh = await open(probe, 'wx', FILE_MODE);
      try {
        await fh.write(Buffer.from('ok'));
      } finally {
        await fh.close();
      }
      await unlink(probe);
    } catch (err) {
      await rm(probe, { force: true }).catch(() => {});
      throw new CoreError('UNAVAILABLE', 'local blob store is not writable', { cause: err });
    }
  }

  return Object.freeze({ kind: 'local', put, get, stat: statKey, delete: del, keys, sweepTemp, check });
}

/** Writes every byte of `bufs`, continuing after short writes. */
async function writeAll(fh: FileHandle, bufs: Uint8Array[]): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.byteLength;
  while (total > 0) {
    const { bytesWritten } = bufs.length === 1 ? await fh.write(bufs[0]!) : await fh.writev(bufs);
    if (bytesWritten === total) return;
    if (bytesWritten <= 0) throw new Error('write made no progress');
    total -= bytesWritten;
    let skip = bytesWritten;
    while (skip > 0) {
      const first = bufs[0]!;
      if (skip >= first.byteLength) {
        skip -= first.byteLength;
        bufs.shift();
      } else {
        bufs[0] = first.subarray(skip);
        skip = 0;
      }
    }
  }
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function openDirIfExists(path: string) {
  try {
    return await opendir(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
