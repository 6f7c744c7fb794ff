/**
 * Helpers for the storage adapter tests. Test-only: nothing in src/ outside *.test.ts imports it.
 */
import type { Readable } from 'node:stream';
import { v7 as uuidv7 } from 'uuid';
import type { BlobKey } from '../../ports/blob-store.js';

export const newKey = (): BlobKey => uuidv7() as BlobKey;

/** Yields `data` in chunks of the given sizes, cycling through `sizes`. Each chunk is a fresh copy. */
export async function* chunked(data: Uint8Array, sizes: readonly number[] = [data.length || 1]): AsyncGenerator<Uint8Array> {
  let pos = 0;
  let i = 0;
  while (pos < data.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    yield Uint8Array.prototype.slice.call(data, pos, pos + n);
    pos += n;
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/**
 * Reads a stream obtained from `open`, capturing the error whether it rejects the promise or is
 * emitted by the stream, and the bytes received before it.
 */
export async function readOutcome(open: () => Promise<Readable>): Promise<{ data: Buffer; error: unknown; phase: 'open' | 'stream' | 'none' }> {
  let stream: Readable;
  try {
    stream = await open();
  } catch (error) {
    return { data: Buffer.alloc(0), error, phase: 'open' };
  }
  const parts: Buffer[] = [];
  try {
    for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  } catch (error) {
    return { data: Buffer.concat(parts), error, phase: 'stream' };
  }
  return { data: Buffer.concat(parts), error: undefined, phase: 'none' };
}
