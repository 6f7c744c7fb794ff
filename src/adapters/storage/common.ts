/**
 * Small helpers shared by the storage adapters: key validation, range resolution, abort handling.
 * Nothing here is part of a port; adapters outside storage/ should not import it.
 */
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

/** Checks a chunk from a source iterable at runtime: only bytes may reach a store. */
export function assertChunk(chunk: unknown): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw new CoreError('INTERNAL', 'blob source yielded a non-binary chunk');
}
