/**
 * An in-memory BlobStore for tests and benchmarks. Same contract as the local store (key
 * validation, atomic put, NOT_FOUND, HTTP-style ranges), no persistence.
 *
 * `raw` and `setRaw` expose the stored bytes so tests can tamper with them.
 */
import { Readable } from 'node:stream';
import type { BlobKey, BlobStore, ByteRange } from '../../ports/blob-store.js';
import { notFound } from '../../ports/errors.js';
import { abortError, assertBlobKey, assertChunk, closeIterator, nextOrAbort, resolveRange } from './common.js';

export interface MemoryStore extends BlobStore {
  /** The stored bytes of `key` (a copy), or undefined. */
  raw(key: BlobKey): Buffer | undefined;
  /** Replaces the stored bytes of `key` (a copy is kept). */
  setRaw(key: BlobKey, bytes: Uint8Array): void;
}

export interface MemoryStoreOptions {
  /** Size of the chunks `get` streams (default 64 KiB). */
  readonly chunkSize?: number;
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): MemoryStore {
  const objects = new Map<BlobKey, Buffer>();
  const chunkSize = opts.chunkSize ?? 64 * 1024;

  async function put(key: BlobKey, source: AsyncIterable<Uint8Array>, putOpts: { signal?: AbortSignal } = {}): Promise<{ size: number }> {
    assertBlobKey(key);
    const { signal } = putOpts;
    if (signal?.aborted) throw abortError(signal);
    const parts: Buffer[] = [];
    let size = 0;
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const r = await nextOrAbort(it, signal);
        if (r.done === true) break;
        assertChunk(r.value);
        // Copy: a source may reuse a chunk's memory once asked for the next one.
        parts.push(Buffer.from(r.value));
        size += r.value.byteLength;
      }
      if (signal?.aborted) throw abortError(signal);
    } catch (err) {
      closeIterator(it);
      throw err;
    }
    objects.set(key, Buffer.concat(parts, size));
    return { size };
  }

  async function get(key: BlobKey, range?: ByteRange): Promise<Readable> {
    assertBlobKey(key);
    const bytes = objects.get(key);
    if (bytes === undefined) throw notFound('blob not found');
    const r = resolveRange(range, bytes.length);
    const view = r === null ? bytes : bytes.subarray(r.start, r.end + 1);
    function* chunks(): Generator<Buffer> {
      for (let off = 0; off < view.length; off += chunkSize) yield view.subarray(off, off + chunkSize);
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  return Object.freeze({
    kind: 'memory',
    put,
    get,
    async stat(key: BlobKey) {
      assertBlobKey(key);
      const bytes = objects.get(key);
      return bytes === undefined ? null : { size: bytes.length };
    },
    async delete(key: BlobKey) {
      assertBlobKey(key);
      objects.delete(key);
    },
    async *keys() {
      yield* [...objects.keys()];
    },
    async sweepTemp() {
      return 0;
    },
    async check() {},
    raw(key: BlobKey) {
      assertBlobKey(key);
      const bytes = objects.get(key);
      return bytes === undefined ? undefined : Buffer.from(bytes);
    },
    setRaw(key: BlobKey, bytes: Uint8Array) {
      assertBlobKey(key);
      objects.set(key, Buffer.from(bytes));
    },
  });
}
