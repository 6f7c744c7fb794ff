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
 * - put writes a temporary file created exclusively (O_EXCL), fsyncs it, renames it into place and
 *   fsyncs the shard directory. A reader therefore sees either nothing or the complete object. On
 *   any error or abort the temporary file is removed and the original error is rethrown
 *   unchanged; an abort rejects with the signal's reason when that is a CoreError, otherwise with
 *   CoreError ABORTED (reason as `cause`).
 * - Writes are pipelined: chunks are gathered into batches of about WRITE_BATCH_BYTES (small
 *   chunks copied into a staging buffer, larger ones by reference) and written at their offsets,
 *   with up to MAX_WRITES_IN_FLIGHT batches being written while the next chunks are pulled. So put
 *   TAKES OWNERSHIP of every chunk it is given: a source MUST NOT modify a chunk once it has
 *   yielded it. Memory per put stays bounded (one batch being gathered, the batches in flight).
 *   A chunk that is an IO buffer (common.ts) is given back with recycleIoBuffer once written.
 * - Durability is spread over the upload: after every SYNC_EVERY_BYTES handed to the kernel a
 *   background fdatasync starts (at most MAX_BACKGROUND_SYNCS at a time in the process, so syncs do
 *   not fill the thread pool), so the disk writes while the client is still sending and the final
 *   fsync only has the tail left. The final fsync before the rename is never skipped, and a failed
 *   background sync fails the put (after a failed fsync Linux may report the next one as clean).
 * - get opens the file first (missing → NOT_FOUND), then streams the requested inclusive range,
 *   reading ahead: up to READS_IN_FLIGHT reads of IO_CHUNK_BYTES are in flight while earlier
 *   chunks are consumed. Every chunk starts an IO buffer (common.ts) the store never touches again
 *   once pushed: it belongs to the consumer, which may transfer or recycle it. `end` past the end is clamped;
 *   `start` at or past the end → RANGE_NOT_SATISFIABLE. A file that turns out shorter than it was
 *   when opened simply ends early (the encrypted store above detects the truncation).
 * - sweepTemp deletes everything in tmp/. Call it when no put is running (at startup): a put
 *   whose temporary file is swept fails instead of completing.
 */
import { constants } from 'node:fs';
import { mkdir, open, opendir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BLOB_KEY_RE, type BlobKey, type BlobStore, type ByteRange } from '../../ports/blob-store.js';
import { CoreError, notFound } from '../../ports/errors.js';
import { abortError, assertBlobKey, assertChunk, closeIterator, IO_CHUNK_BYTES, nextOrAbort, recycleIoBuffer, resolveRange, takeIoBuffer } from './common.js';

export interface LocalStoreOptions {
  /** Root directory of the store; created (mode 0700) on first use. */
  readonly dir: string;
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const MiB = 1024 * 1024;
/** Writes are gathered into batches of about this size: fewer syscalls and thread-pool round trips. */
const WRITE_BATCH_BYTES = MiB;
/** A batch is written once it has this many separate chunks, whatever its size (iovec count). */
const WRITE_BATCH_MAX_CHUNKS = 64;
/** Chunks below this size are copied into a staging buffer rather than written by reference. */
const STAGE_BELOW = 4 * 1024;
const STAGE_CAPACITY = 64 * 1024;
/**
 * Batches being written at once per put. Writes to the page cache are quick; a few in flight keep
 * the producer from waiting on each one without taking the whole libuv thread pool (4 threads).
 */
const MAX_WRITES_IN_FLIGHT = 2;
/** A background fdatasync starts after this many bytes were handed to the kernel since the last one. */
const SYNC_EVERY_BYTES = 32 * MiB;
/** Background fdatasyncs running at once in the process (each holds a thread-pool thread). */
const MAX_BACKGROUND_SYNCS = 1;
let backgroundSyncs = 0;
/** Reads a get stream keeps in flight ahead of its consumer. */
const READS_IN_FLIGHT = 2;
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
    let writer: PipelinedWriter | undefined;
    let renamed = false;
    try {
      // 'wx' = O_WRONLY|O_CREAT|O_EXCL: never opens an existing file or follows a planted symlink.
      fh = await open(tmpPath, 'wx', FILE_MODE);
      const file = fh;
      writer = new PipelinedWriter(file);
      let size = 0;

      it = source[Symbol.asyncIterator]();
      for (;;) {
        const r = await nextOrAbort(it, signal);
        if (r.done === true) break;
        const chunk = r.value;
        assertChunk(chunk);
        size += chunk.byteLength;
        await writer.add(chunk);
        if (signal?.aborted) throw abortError(signal);
      }
      await writer.finish();
      writer = undefined;
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
      // Writes still in flight must land (or fail) before the file is closed and removed.
      if (writer !== undefined) await writer.settle();
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
      return new RangeReader(fh, r === null ? 0 : r.start, r === null ? size : r.end + 1);
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

  async function sweepTemp(keys?: readonly BlobKey[]): Promise<number> {
    // A put's temporary file is `<key>.<random hex>` (put above).
    const only = keys === undefined ? undefined : new Set(keys.map((k) => (assertBlobKey(k), k)));
    const entries = await openDirIfExists(tmpDir);
    if (entries === null) return 0;
    let count = 0;
    for await (const entry of entries) {
      if (only !== undefined && !only.has(entry.name.slice(0, entry.name.indexOf('.')) as BlobKey)) continue;
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

/**
 * The write side of put: gathers chunks into batches and writes them at their offsets, a few at a
 * time, with background fdatasyncs along the way. `add` resolves once the chunk is accepted (it may
 * wait for a write slot); the first failure of any write or sync is thrown by the next `add` or by
 * `finish`. After a failure, `settle` waits for everything still in flight.
 */
class PipelinedWriter {
  readonly #fh: FileHandle;
  readonly #inflight = new Set<Promise<void>>();
  #failure: { err: unknown } | undefined;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #stage: Buffer | undefined;
  #staged = 0;
  #offset = 0;
  #sinceSync = 0;
  #syncing: Promise<void> | undefined;

  constructor(fh: FileHandle) {
    this.#fh = fh;
  }

  async add(chunk: Uint8Array): Promise<void> {
    this.#check();
    const len = chunk.byteLength;
    if (len === 0) return;
    if (len < STAGE_BELOW) {
      if (this.#stage !== undefined && this.#staged + len > this.#stage.length) this.#closeStage();
      this.#stage ??= Buffer.allocUnsafe(STAGE_CAPACITY);
      this.#stage.set(chunk, this.#staged);
      this.#staged += len;
      this.#batchBytes += len;
      recycleIoBuffer(chunk);
    } else {
      this.#closeStage();
      this.#batch.push(chunk);
      this.#batchBytes += len;
    }
    const parts = this.#batch.length + (this.#staged > 0 ? 1 : 0);
    if (this.#batchBytes >= WRITE_BATCH_BYTES || parts >= WRITE_BATCH_MAX_CHUNKS) await this.#flush();
  }

  /** Writes what is left, waits for every write and background sync; throws the first failure. */
  async finish(): Promise<void> {
    this.#check();
    await this.#flush();
    await this.settle();
    this.#check();
  }

  /** Waits until no write or sync is in flight (never throws). */
  async settle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure.err;
  }

  #closeStage(): void {
    if (this.#stage === undefined || this.#staged === 0) return;
    // The batch keeps a view of the stage: the next small chunk gets a new stage.
    this.#batch.push(this.#stage.subarray(0, this.#staged));
    this.#stage = undefined;
    this.#staged = 0;
  }

  async #flush(): Promise<void> {
    this.#closeStage();
    if (this.#batchBytes === 0) return;
    const bufs = this.#batch;
    const len = this.#batchBytes;
    const at = this.#offset;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#offset += len;
    while (this.#writes() >= MAX_WRITES_IN_FLIGHT) await Promise.race(this.#inflight);
    this.#check();
    this.#track(writeAllAt(this.#fh, [...bufs], at).then(() => bufs.forEach(recycleIoBuffer)));
    this.#sinceSync += len;
    if (this.#sinceSync >= SYNC_EVERY_BYTES && this.#syncing === undefined && backgroundSyncs < MAX_BACKGROUND_SYNCS) {
      this.#sinceSync = 0;
      backgroundSyncs++;
      const sync = this.#fh.datasync().finally(() => {
        backgroundSyncs--;
        this.#syncing = undefined;
      });
      this.#syncing = sync;
      this.#track(sync);
    }
  }

  #writes(): number {
    return this.#inflight.size - (this.#syncing === undefined ? 0 : 1);
  }

  #track(p: Promise<void>): void {
    const t: Promise<void> = p.then(
      () => {
        this.#inflight.delete(t);
      },
      (err: unknown) => {
        this.#inflight.delete(t);
        this.#failure ??= { err };
      },
    );
    this.#inflight.add(t);
  }
}

/** Writes every byte of `bufs` at `position`, continuing after short writes. */
async function writeAllAt(fh: FileHandle, bufs: Uint8Array[], position: number): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.byteLength;
  let at = position;
  while (total > 0) {
    const { bytesWritten } = bufs.length === 1 ? await fh.write(bufs[0]!, 0, bufs[0]!.byteLength, at) : await fh.writev(bufs, at);
    if (bytesWritten === total) return;
    if (bytesWritten <= 0) throw new Error('write made no progress');
    total -= bytesWritten;
    at += bytesWritten;
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

/**
 * A byte range [start, end) of an open file as a stream of IO_CHUNK_BYTES chunks, with up to
 * READS_IN_FLIGHT positional reads ahead of the consumer. Chunks are pushed in file order. Owns
 * the handle: closes it when the stream ends, fails or is destroyed (FileHandle.close waits for
 * reads still in flight, so the descriptor is never reused under them).
 */
class RangeReader extends Readable {
  readonly #fh: FileHandle;
  readonly #end: number;
  #next: number;
  readonly #slots: Array<{ buf: Buffer; got: number }> = [];
  #stopped = false;

  constructor(fh: FileHandle, start: number, end: number) {
    super({ highWaterMark: IO_CHUNK_BYTES });
    this.#fh = fh;
    this.#next = start;
    this.#end = end;
    if (start >= end) this.push(null);
  }

  override _read(): void {
    while (!this.#stopped && this.#slots.length < READS_IN_FLIGHT && this.#next < this.#end) {
      const len = Math.min(IO_CHUNK_BYTES, this.#end - this.#next);
      // Chunk-sized reads go into IO buffers (the consumer may transfer or recycle them); small ones
      // (a header, a short range) into buffers of their own size.
      const slot = { buf: len >= IO_CHUNK_BYTES / 4 ? takeIoBuffer().subarray(0, len) : Buffer.allocUnsafe(len), got: -1 };
      const at = this.#next;
      this.#next += len;
      this.#slots.push(slot);
      readFullAt(this.#fh, slot.buf, at).then(
        (got) => {
          slot.got = got;
          this.#deliver();
        },
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    }
  }

  #deliver(): void {
    let more = true;
    while (!this.#stopped && this.#slots[0] !== undefined && this.#slots[0].got >= 0) {
      const { buf, got } = this.#slots.shift()!;
      if (got > 0) more = this.push(got === buf.length ? buf : buf.subarray(0, got));
      if (got < buf.length) {
        // The file is shorter than when it was opened: end here; whoever knows the size will notice.
        this.#stopped = true;
        this.#slots.length = 0;
        this.push(null);
        return;
      }
    }
    if (this.#stopped) return;
    if (this.#slots.length === 0 && this.#next >= this.#end) {
      this.#stopped = true;
      this.push(null);
    } else if (more) this._read();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#stopped = true;
    this.#slots.length = 0;
    this.#fh.close().then(
      () => cb(err),
      (closeErr: unknown) => cb(err ?? (closeErr instanceof Error ? closeErr : new Error(String(closeErr)))),
    );
  }
}

/** Reads into all of `buf` from `position`; fewer bytes only at the end of the file. */
async function readFullAt(fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
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
