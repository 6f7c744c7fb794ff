/**
 * Small helpers shared by the storage adapters: key validation, range resolution, abort handling.
 * Nothing here is part of a port; adapters outside storage/ should not import it.
 */
import { BLOB_KEY_RE, type BlobKey, type ByteRange } from '../../ports/blob-store.js';
import { CoreError } from '../../ports/errors.js';
import { collectFull } from '../../runtime/young-gc.js';

/**
 * Second line of defence (architecture rule 2): every store method validates its key before the
 * key is used for anything, in particular before a path or an object name is built from it.
 * The offending value is deliberately not echoed into the message.
 */
export function assertBlobKey(key: unknown): asserts key is BlobKey {
  if (typeof key !== 'string' || !BLOB_KEY_RE.test(key)) {
    throw new CoreError('INTERNAL', 'invalid blob key');
  }
}

/**
 * Resolves an optional inclusive range against an object of `size` bytes, as HTTP does: `end`
 * past the last byte is clamped; a range that starts at or past the end (or any range on an empty
 * object) is not satisfiable. Malformed ranges (negative, fractional, start > end) are a bug in the
 * caller and are reported as INTERNAL.
 */
export function resolveRange(range: ByteRange | undefined, size: number): { start: number; end: number } | null {
  if (range === undefined) return null;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new CoreError('INTERNAL', 'invalid byte range');
  }
  if (start >= size) throw new CoreError('RANGE_NOT_SATISFIABLE', 'range not satisfiable');
  return { start, end: Math.min(end, size - 1) };
}

/** The error a put rejects with when its signal fires: the reason if it is a CoreError, else ABORTED. */
export function abortError(signal: AbortSignal): CoreError {
  const reason: unknown = signal.reason;
  if (reason instanceof CoreError) return reason;
  return new CoreError('ABORTED', 'transfer aborted', { cause: reason });
}

/**
 * `it.next()`, but rejecting with `abortError(signal)` as soon as the signal fires, even while the
 * source is stalled (a slow or silent client must not keep an aborted put alive).
 */
export function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal | undefined): Promise<IteratorResult<T>> {
  if (signal === undefined) return it.next();
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<IteratorResult<T>>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Best-effort `it.return()` without waiting: a pending `next()` may never settle. */
export function closeIterator(it: AsyncIterator<unknown> | undefined): void {
  if (it?.return === undefined) return;
  try {
    Promise.resolve(it.return()).catch(() => {});
  } catch {
    // a broken iterator's return() must not mask the error being reported
  }
}

/**
 * Preferred size of the chunks a store reads and writes in one call: 16 sealed segments of the
 * encrypted store (16 × (64 KiB + 16)), also the size of its runs. Large calls cost fewer syscalls
 * and thread-pool round trips, and a range read that starts on a segment boundary then yields
 * chunks the encrypted store can decrypt where they are, without reassembling them.
 */
export const IO_CHUNK_BYTES = 16 * (64 * 1024 + 16);

/**
 * IO buffers: buffers of IO_CHUNK_BYTES that the stores pass between them and reuse, instead of
 * allocating (and later collecting) one per chunk. Every allocation of this size costs twice: the
 * kernel zero-fills its pages, and V8 frees it only at a garbage collection, which it schedules by
 * the volume of such memory, so a stream of fresh buffers keeps tens of MB of dead ones resident.
 *
 * They are SharedArrayBuffers, so a run goes to a crypto worker and back without being transferred:
 * a transferred ArrayBuffer arrives as a new buffer object, which V8 counts as newly allocated
 * external memory until a full collection has found the detached one dead, and a transfer stream
 * of 1 MiB runs thus kept the main thread in back-to-back full collections (measured on a 1 GiB
 * SFTP download: 5–13 per second, about a quarter of its time). Memory shared with a worker is not
 * counted that way. The ownership rules below are what keeps the two threads apart: a buffer at a
 * worker is not touched here until the worker's answer has come back.
 * Rules:
 * - takeIoBuffer() gives a buffer to exactly one owner.
 * - Ownership moves with the chunk: a chunk of a read stream belongs to whoever consumes it; a
 *   chunk yielded to put belongs to the store from then on; a run sent to a worker belongs to the
 *   worker until it answers.
 * - An owner done with a buffer may give it back with recycleIoBuffer() and must not touch it after
 *   that. The free list is bounded (IO_FREE_MAX); a buffer not given back is simply collected.
 *   Such memory is invisible to V8's external-memory heuristics, so the bytes of IO buffers
 *   allocated beyond the free list are counted, and a full collection is asked for (where the
 *   runtime allows it: runtime/young-gc.ts) after every IO_COLLECT_BYTES of them.
 * - A buffer that travelled to a worker thread and back arrives as a new SharedArrayBuffer object
 *   for the same memory: adoptIoBuffer() makes it an IO buffer again.
 * - isIoBuffer(chunk): the chunk starts at the beginning of an IO buffer, so its owner may hand the
 *   whole buffer to a worker thread instead of copying the chunk.
 */
const IO_FREE_MAX = 8;
const IO_COLLECT_BYTES = 64 * 1024 * 1024;
const ioFree: SharedArrayBuffer[] = [];
const ioBuffers = new WeakSet<SharedArrayBuffer>();
let ioAllocatedSinceCollect = 0;

export function takeIoBuffer(): Buffer {
  let sab = ioFree.pop();
  if (sab === undefined) {
    sab = new SharedArrayBuffer(IO_CHUNK_BYTES);
    ioAllocatedSinceCollect += IO_CHUNK_BYTES;
    if (ioAllocatedSinceCollect >= IO_COLLECT_BYTES) {
      ioAllocatedSinceCollect = 0;
      collectFull?.();
    }
  }
  ioBuffers.add(sab);
  return Buffer.from(sab);
}

export function adoptIoBuffer(ab: ArrayBufferLike): void {
  if (ab instanceof SharedArrayBuffer && ab.byteLength === IO_CHUNK_BYTES) ioBuffers.add(ab);
}

export function isIoBuffer(chunk: Uint8Array): chunk is Uint8Array & { buffer: SharedArrayBuffer } {
  return chunk.byteOffset === 0 && chunk.buffer instanceof SharedArrayBuffer && chunk.buffer.byteLength === IO_CHUNK_BYTES && ioBuffers.has(chunk.buffer);
}

export function recycleIoBuffer(chunk: Uint8Array): void {
  const ab = chunk.buffer;
  if (!(ab instanceof SharedArrayBuffer) || ab.byteLength !== IO_CHUNK_BYTES || !ioBuffers.has(ab)) return;
  ioBuffers.delete(ab); // given back once: a second call for the same buffer does nothing
  if (ioFree.length < IO_FREE_MAX) ioFree.push(ab);
}

export { chunksOf, RELEASE, releasable, releaseChunk } from '../../runtime/chunks.js';

/** Checks a chunk from a source iterable at runtime: only bytes may reach a store. */
export function assertChunk(chunk: unknown): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw new CoreError('INTERNAL', 'blob source yielded a non-binary chunk');
}
