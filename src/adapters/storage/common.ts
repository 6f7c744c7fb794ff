/**
 * Small helpers shared by the storage adapters: key validation, range resolution, abort handling.
 * Nothing here is part of a port; adapters outside storage/ should not import it.
 */
import type { Readable } from 'node:stream';
import { BLOB_KEY_RE, type BlobKey, type ByteRange } from '../../ports/blob-store.js';
import { CoreError } from '../../core/errors.js';

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
 * Rules:
 * - takeIoBuffer() gives a buffer to exactly one owner.
 * - Ownership moves with the chunk: a chunk of a read stream belongs to whoever consumes it; a
 *   chunk yielded to put belongs to the store from then on.
 * - An owner done with a buffer may give it back with recycleIoBuffer() and must not touch it after
 *   that. The free list is bounded (IO_FREE_MAX); a buffer not given back is simply collected.
 * - A buffer that travelled to a worker thread and back arrives as a new ArrayBuffer object:
 *   adoptIoBuffer() makes it an IO buffer again.
 * - isIoBuffer(chunk): the chunk starts at the beginning of an IO buffer, so its owner may transfer
 *   the whole buffer to a worker thread instead of copying the chunk.
 */
const IO_FREE_MAX = 3;
const ioFree: ArrayBuffer[] = [];
const ioBuffers = new WeakSet<ArrayBuffer>();

export function takeIoBuffer(): Buffer {
  const ab = ioFree.pop() ?? (Buffer.allocUnsafeSlow(IO_CHUNK_BYTES).buffer as ArrayBuffer);
  ioBuffers.add(ab);
  return Buffer.from(ab);
}

export function adoptIoBuffer(ab: ArrayBuffer): void {
  if (ab.byteLength === IO_CHUNK_BYTES) ioBuffers.add(ab);
}

export function isIoBuffer(chunk: Uint8Array): boolean {
  return chunk.byteOffset === 0 && chunk.buffer instanceof ArrayBuffer && chunk.buffer.byteLength === IO_CHUNK_BYTES && ioBuffers.has(chunk.buffer);
}

export function recycleIoBuffer(chunk: Uint8Array): void {
  const ab = chunk.buffer;
  if (!(ab instanceof ArrayBuffer) || ab.byteLength !== IO_CHUNK_BYTES || !ioBuffers.has(ab)) return;
  ioBuffers.delete(ab); // given back once: a second call for the same buffer does nothing
  if (ioFree.length < IO_FREE_MAX) ioFree.push(ab);
}

/**
 * Release protocol. A chunk may carry, under this global symbol, a function that gives its memory
 * back to whoever lent it (a global symbol, so that layers which must not import each other share
 * it: the HTTP front end and the stores). Whoever holds the chunk last calls it once, when the
 * bytes are no longer needed (written to the network, copied elsewhere), and does not touch the
 * chunk afterwards. Calling it is optional: a chunk never released is simply collected.
 * - Download chunks of the encrypted store carry one that recycles their IO buffer.
 * - put calls it on a source chunk once it has copied the chunk's bytes.
 */
export const RELEASE: unique symbol = Symbol.for('sluice.release') as never;

type Releasable = Uint8Array & { [RELEASE]?: () => void };

/** Attaches `release` (called at most once) to `chunk`. */
export function releasable<T extends Uint8Array>(chunk: T, release: () => void): T {
  let done = false;
  (chunk as Releasable)[RELEASE] = () => {
    if (done) return;
    done = true;
    release();
  };
  return chunk;
}

/** Calls the chunk's release function, if it has one. */
export function releaseChunk(chunk: Uint8Array): void {
  const release = (chunk as Releasable)[RELEASE];
  if (typeof release === 'function') release();
}

/**
 * The chunks of a byte stream one by one, exactly as they were pushed. (A Readable's own async
 * iterator returns everything buffered at once, concatenated: a copy, and chunk boundaries lost.)
 * The stream is paused while `max` chunks wait for the consumer. Ends when the stream ends; throws
 * its error, or an Error when it closes before its end. Returning early leaves the stream paused
 * (the caller destroys it).
 */
export async function* chunksOf(stream: Readable, max = 2): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  const onData = (c: Buffer | Uint8Array) => {
    queue.push(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    if (queue.length >= max) stream.pause();
    wake?.();
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onError = (err: unknown) => {
    failure ??= { err };
    wake?.();
  };
  const onClose = () => {
    if (!ended) failure ??= { err: new Error('stream closed before its end') };
    wake?.();
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  try {
    for (;;) {
      const c = queue.shift();
      if (c !== undefined) {
        if (!ended && failure === undefined && stream.isPaused() && queue.length < max) stream.resume();
        yield c;
        continue;
      }
      if (failure !== undefined) throw failure.err;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onClose);
    // onError stays: a later error must not go unheard.
  }
}

/** Checks a chunk from a source iterable at runtime: only bytes may reach a store. */
export function assertChunk(chunk: unknown): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw new CoreError('INTERNAL', 'blob source yielded a non-binary chunk');
}
