/**
 * Chunks of byte streams between layers that must not import each other (the stores, the front
 * ends): the release protocol, and reading a stream chunk by chunk as it was pushed.
 */
import type { Readable } from 'node:stream';

/**
 * Release protocol. A chunk may carry, under this global symbol, a function that gives its memory
 * back to whoever lent it (a global symbol, so that layers which must not import each other share
 * it: the front ends and the stores). Whoever holds the chunk last calls it once, when the
 * bytes are no longer needed (written to the network, copied elsewhere), and does not touch the
 * chunk afterwards. Calling it is optional: a chunk never released is simply collected.
 * - Download chunks of the encrypted store carry one that recycles their IO buffer.
 * - put calls it on a source chunk once it has copied the chunk's bytes.
 */
export const RELEASE: unique symbol = Symbol.for('sluice.release') as never;

export type Releasable = Uint8Array & { [RELEASE]?: () => void };

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

/**
 * A pipe from one writer to one reader that hands chunks on exactly as written: no concatenation,
 * no copy (a PassThrough's async iterator concatenates whatever is buffered into a new buffer).
 * - write(chunk) queues it and returns whether fewer than `limit` bytes now wait; room() resolves
 *   once they do again, or the pipe closed.
 * - The reader iterates `chunks` once; it ends after end() and the chunks queued before it.
 * - close() (the reader failed or left, or the writer gave up): queued chunks are released
 *   (release protocol) and dropped, later writes are dropped and released, a waiting writer wakes.
 *   A reader that stops iterating closes the pipe.
 */
export interface ChunkPipe {
  readonly chunks: AsyncIterable<Uint8Array>;
  readonly closed: boolean;
  write(chunk: Uint8Array): boolean;
  room(): Promise<void>;
  end(): void;
  close(): void;
}

export function chunkPipe(limit: number): ChunkPipe {
  // At most `limit` bytes of chunks wait: a short queue.
  const queue: Uint8Array[] = [];
  let bytes = 0;
  let ended = false;
  let closed = false;
  let wakeReader: (() => void) | undefined;
  let wakeWriter: (() => void) | undefined;
  const readerGoes = () => {
    const r = wakeReader;
    wakeReader = undefined;
    r?.();
  };
  const writerGoes = () => {
    const w = wakeWriter;
    wakeWriter = undefined;
    w?.();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    for (const c of queue.splice(0)) releaseChunk(c);
    bytes = 0;
    readerGoes();
    writerGoes();
  };
  async function* read(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const c = queue.shift();
        if (c !== undefined) {
          bytes -= c.byteLength;
          if (bytes < limit) writerGoes();
          yield c;
          continue;
        }
        if (ended || closed) return;
        await new Promise<void>((resolve) => (wakeReader = resolve));
      }
    } finally {
      close();
    }
  }
  return {
    chunks: read(),
    get closed() {
      return closed;
    },
    write(chunk) {
      if (closed || ended) {
        releaseChunk(chunk);
        return true;
      }
      queue.push(chunk);
      bytes += chunk.byteLength;
      readerGoes();
      return bytes < limit;
    },
    room() {
      if (closed || bytes < limit) return Promise.resolve();
      return new Promise<void>((resolve) => (wakeWriter = resolve));
    },
    end() {
      ended = true;
      readerGoes();
    },
    close,
  };
}
