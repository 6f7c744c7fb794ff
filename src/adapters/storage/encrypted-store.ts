/**
 * SealedStore: encrypts every object with its own data key before it reaches a BlobStore.
 *
 * ── Format "SLC1", version 1 ─────────────────────────────────────────────────────────────────
 *
 *   header (fixed size, HEADER_BYTES = 130):
 *     off  len
 *       0    4  magic "SLC1"
 *       4    1  version = 0x01
 *       5    1  KEK id length n, 1..64
 *       6   64  KEK id (ASCII), n bytes, then zero padding to 64 bytes
 *      70   12  wrap nonce (random)
 *      82   32  data key, AES-256-GCM-encrypted under the KEK
 *     114   16  GCM tag of the wrap
 *   The wrap's AAD is header[0..70) ‖ blob key (36 ASCII bytes): magic, version, KEK id and its
 *   padding, and the blob key the object is stored under. Moving a whole object to another key, or
 *   editing any header byte, makes unwrapping fail.
 *
 *   body: the plaintext cut into segments of SEGMENT_BYTES = 65536 bytes (the last one shorter),
 *     segment i = AES-256-GCM(data key, nonce_i, plaintext_i, AAD empty) ‖ 16-byte tag,
 *     nonce_i = i as an 11-byte big-endian counter ‖ flag byte (0x01 on the last segment, else 0x00)
 *   (the STREAM construction, as in age). Exactly one segment carries the flag: an empty object is
 *   one empty final segment; when the size is a multiple of 65536 the last full segment is final
 *   (there is no trailing empty segment). Hence, for a plaintext of `size` bytes:
 *     segments  = max(1, ceil(size / 65536))
 *     stored    = 130 + size + 16 × segments
 *     segment i starts at 130 + i × 65552
 *   so any plaintext range maps to a ciphertext range without reading anything first.
 *
 *   The data key is 32 random bytes per object; it never repeats, so the counter nonce never
 *   repeats under one key. The KEK id is recorded so that KEKs can rotate: old objects name the
 *   KEK that wraps their key.
 *
 * ── Contracts ────────────────────────────────────────────────────────────────────────────────
 * - put MUST compute the plaintext's size and SHA-256 while streaming, holds at most one segment
 *   of plaintext (plus the ciphertext being handed to the inner store), and MUST let errors thrown
 *   by `source` propagate unchanged (same object); the inner store then leaves nothing under key.
 * - get MUST NOT emit a byte that has not been authenticated: each segment is verified (GCM tag)
 *   before any of its bytes are pushed. It reads only the header and the segments covering the
 *   range. A bad header (wrong magic/version, unknown KEK, failed unwrap) rejects the returned
 *   promise with CoreError INTEGRITY; a failed segment, a stored object shorter or longer than
 *   `size` implies, or a final flag in the wrong place destroys the stream with CoreError
 *   INTEGRITY ('stored file failed its integrity check'). Causes stay in `cause`.
 * - `size` passed to get is the plaintext size recorded by the core; a wrong size is detected
 *   (the last segment's length and flag are bound by its tag).
 *
 * ── Where the work happens ───────────────────────────────────────────────────────────────────
 * Plaintext and ciphertext move in runs of `runSegments` segments (default 16: 1 MiB). An object
 * (or a range) that fits in one run is sealed or opened right here, on the calling thread: a round
 * trip to a worker would cost more than it saves on a small file. Larger ones go to the crypto pool
 * (crypto-pool.ts): the stream is pinned to one worker thread, which hashes and seals (or opens and
 * verifies) each run in place, up to RUNS_IN_FLIGHT runs ahead of the caller, while this thread
 * reads, writes and talks to the network. A put therefore holds at most the run being filled, the
 * runs at the worker and what the inner store is writing; a get the runs being read ahead, at the
 * worker and being sent. A worker that fails fails the transfer (put: CoreError INTERNAL, nothing
 * stored; get: the stream is destroyed with CoreError INTERNAL); errors of the source still
 * propagate unchanged.
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { pipeline, Readable, Transform } from 'node:stream';
import type { BlobKey, BlobStore, ByteRange, SealedBytes, SealedPut, SealedStore } from '../../ports/blob-store.js';
import type { Kek, Keyring } from '../../ports/keyring.js';
import { CoreError } from '../../ports/errors.js';
import {
  adoptIoBuffer,
  assertBlobKey,
  assertChunk,
  chunksOf,
  IO_CHUNK_BYTES,
  isIoBuffer,
  recycleIoBuffer,
  releasable,
  releaseChunk,
  resolveRange,
  takeIoBuffer,
} from './common.js';
import { sharedCryptoPool, type CryptoChannel, type CryptoPool, type OpenedRunReply, type RunBuffer, type SealedRun } from './crypto-pool.js';
import { copyBytes } from '../../runtime/native.js';
import { NONCE_BYTES, SEALED_SEGMENT_BYTES, SEGMENT_BYTES, sealedRunLength, sealRunInPlace, setNonce, TAG_BYTES } from './segment-crypto.js';

export { SEALED_SEGMENT_BYTES, SEGMENT_BYTES, TAG_BYTES } from './segment-crypto.js';
export const MAGIC = Buffer.from('SLC1', 'latin1');
export const FORMAT_VERSION = 1;
export const KEK_ID_MAX = 64;
const DATA_KEY_BYTES = 32;
const OFF_VERSION = 4;
const OFF_ID_LEN = 5;
const OFF_ID = 6;
const OFF_NONCE = OFF_ID + KEK_ID_MAX; // 70
const OFF_WRAPPED = OFF_NONCE + NONCE_BYTES; // 82
export const HEADER_BYTES = OFF_WRAPPED + DATA_KEY_BYTES + TAG_BYTES; // 130
const CIPHER = 'aes-256-gcm';
const KEK_ID_RE = /^[\x21-\x7e]{1,64}$/;

export interface EncryptedStoreOptions {
  readonly inner: BlobStore;
  readonly keyring: Keyring;
  /**
   * Worker threads for objects larger than one run (default: the process-wide pool,
   * sharedCryptoPool()); null seals and opens everything on the calling thread.
   */
  readonly pool?: CryptoPool | null;
  /** Segments per run (default 16: 1 MiB of plaintext). Tests lower it to exercise the workers with little data. */
  readonly runSegments?: number;
}

const DEFAULT_RUN_SEGMENTS = 16;
/** Runs of one stream at its worker at once: the worker works on the next run while this thread moves the last one. */
const RUNS_IN_FLIGHT = 2;

/** Number of segments of a plaintext of `size` bytes. */
export function segmentCount(size: number): number {
  return size === 0 ? 1 : Math.ceil(size / SEGMENT_BYTES);
}

/** Stored (sealed) length of a plaintext of `size` bytes. */
export function sealedLength(size: number): number {
  return HEADER_BYTES + size + TAG_BYTES * segmentCount(size);
}

const integrity = (cause?: unknown): CoreError => new CoreError('INTEGRITY', 'stored file failed its integrity check', cause === undefined ? {} : { cause });

export function createEncryptedStore(opts: EncryptedStoreOptions): SealedStore {
  const { inner, keyring } = opts;
  const runSegments = opts.runSegments ?? DEFAULT_RUN_SEGMENTS;
  if (!Number.isSafeInteger(runSegments) || runSegments < 1) throw new CoreError('INTERNAL', 'invalid run size');
  const runPlain = runSegments * SEGMENT_BYTES;
  const runSealed = runSegments * SEALED_SEGMENT_BYTES;
  // Resolved lazily: a store that only ever sees small files never starts a worker.
  const pool = (): CryptoPool | null => (opts.pool === undefined ? sharedCryptoPool() : opts.pool);

  async function put(key: BlobKey, source: AsyncIterable<Uint8Array>, putOpts?: { signal?: AbortSignal }): Promise<SealedPut> {
    assertBlobKey(key);
    const kek = keyring.current();
    const rawKey = randomBytes(DATA_KEY_BYTES);
    const header = sealHeader(kek, key, rawKey);
    const dataKey = createSecretKey(rawKey);
    rawKey.fill(0);

    let size = 0;
    let sha256: string | undefined;
    let finished = false;

    async function* sealed(): AsyncGenerator<Uint8Array> {
      yield header;
      const newRun = () => (runSealed === IO_CHUNK_BYTES ? takeIoBuffer() : Buffer.allocUnsafeSlow(runSealed));
      // The first run starts as one segment's worth: most files are small and never need a run of
      // 1 MiB (a burst of small uploads would otherwise take one each). It grows on the first byte
      // past it.
      let cap = Math.min(runPlain, SEGMENT_BYTES);
      let run = cap === runPlain ? newRun() : Buffer.allocUnsafeSlow(sealedRunLength(cap));
      let fill = 0;
      let index = 0;
      let sealer: Sealer | undefined;
      const inflight: Array<Promise<SealedRun>> = [];
      const send = (s: Sealer, final: boolean) => {
        inflight.push(settled(s.seal(run.buffer as RunBuffer, fill, index, final), 'encryption'));
        index += runSegments;
        if (!final) run = newRun();
        fill = 0;
      };
      try {
        // A Readable source goes through its own iterator, which concatenates what is buffered (a
        // copy). Taking its chunks one by one instead (chunksOf) kept the SFTP upload's 255 KiB
        // WRITE buffers alive longer, and V8 then ran 5–8 full collections a second (measured with
        // bench/sftp-memory.ts and --trace-gc; none with the copy).
        for await (const chunk of source) {
          assertChunk(chunk);
          const len = chunk.byteLength;
          size += len;
          let pos = 0;
          while (pos < len) {
            if (fill === cap && cap < runPlain) {
              const bigger = newRun();
              copyBytes(bigger, 0, run.subarray(0, fill));
              run = bigger;
              cap = runPlain;
            }
            if (fill === runPlain) {
              // A full run and at least one more byte: it is not the last one.
              sealer ??= bigSealer(dataKey);
              send(sealer, false);
              while (inflight.length >= RUNS_IN_FLIGHT) yield sealedBytes(await inflight.shift()!);
            }
            const n = Math.min(cap - fill, len - pos);
            // Into shared memory: V8's own copy would use relaxed atomics (runtime/native.ts).
            copyBytes(run, fill, n === len ? chunk : chunk.subarray(pos, pos + n));
            fill += n;
            pos += n;
          }
          // Every byte of the chunk is copied: its lender may reuse it (release protocol, common.ts).
          releaseChunk(chunk);
        }
        // Everything fit in one run: seal it here, a worker round trip would cost more.
        sealer ??= localSealer(dataKey);
        send(sealer, true);
        while (inflight.length > 0) {
          const r = await inflight.shift()!;
          if (inflight.length === 0) sha256 = r.digest;
          yield sealedBytes(r);
        }
        finished = true;
      } finally {
        sealer?.close();
      }
    }

    const { size: stored } = await inner.put(key, sealed(), putOpts);
    if (!finished || sha256 === undefined || stored !== sealedLength(size)) {
      await inner.delete(key).catch(() => {});
      throw new CoreError('INTERNAL', 'sealed object has an unexpected size', {
        cause: new Error(`stored ${stored} bytes, expected ${sealedLength(size)}; finished=${String(finished)}`),
      });
    }
    return { size, sha256 };
  }

  /** A sealer on a worker when there is a pool, else on this thread. */
  function bigSealer(dataKey: KeyObject): Sealer {
    const p = pool();
    if (p === null) return localSealer(dataKey);
    const channel = p.channel(dataKey, { hash: true });
    return { seal: (buf, len, index, final) => channel.seal(buf, len, index, final), close: () => channel.close() };
  }

  /**
   * Seals a small object in memory (at most one segment), for storage outside the inner store
   * (the core keeps such objects in its database). Same format and key wrapping as put.
   */
  function seal(key: BlobKey, parts: readonly Uint8Array[]): SealedBytes {
    assertBlobKey(key);
    let size = 0;
    for (const p of parts) size += p.byteLength;
    if (size > SEGMENT_BYTES) throw new CoreError('INTERNAL', 'object too large to seal in memory');
    const kek = keyring.current();
    const rawKey = randomBytes(DATA_KEY_BYTES);
    const header = sealHeader(kek, key, rawKey);
    const dataKey = createSecretKey(rawKey);
    rawKey.fill(0);
    const sealed = Buffer.allocUnsafe(HEADER_BYTES + sealedRunLength(size));
    header.copy(sealed, 0);
    const body = sealed.subarray(HEADER_BYTES);
    let at = 0;
    for (const p of parts) {
      body.set(p, at);
      at += p.byteLength;
    }
    const hash = createHash('sha256');
    const n = sealRunInPlace(dataKey, body, size, 0, true, hash);
    if (HEADER_BYTES + n !== sealedLength(size)) throw new CoreError('INTERNAL', 'sealed object has an unexpected size');
    return { size, sha256: hash.digest('hex'), sealed };
  }

  function get(key: BlobKey, size: number, range?: ByteRange): Promise<Readable> {
    return openSealed(key, size, range, innerGet);
  }

  /**
   * Opens sealed bytes the caller holds (from seal), with every check get makes: the exact sealed
   * length for `size` (no truncated or extended object), the header (its key wrapping, bound to
   * `key`), and the tag of every segment the range covers, verified before any of its bytes is
   * handed out. The bytes are all here (small files, one segment), so they are opened directly
   * rather than streamed through the store's stages. As with get: a bad length or header rejects
   * the call, a bad segment fails the stream (after the genuine bytes before it).
   */
  function open(key: BlobKey, sealed: Buffer, size: number, range?: ByteRange): Promise<Readable> {
    try {
      assertBlobKey(key);
      const plan = readPlan(size, range);
      if (sealed.length !== sealedLength(size)) throw integrity(new Error(`object is ${sealed.length} bytes, ${sealedLength(size)} expected`));
      const dataKey = openHeader(sealed.subarray(0, HEADER_BYTES), key, keyring);
      function* segments(): Generator<Buffer> {
        const nonce = Buffer.alloc(NONCE_BYTES);
        for (let i = plan.first; i <= plan.last; i++) {
          const at = HEADER_BYTES + i * SEALED_SEGMENT_BYTES;
          const part = planned(plan, i, openSegment(dataKey, nonce, i, i === plan.lastIndex, sealed.subarray(at, at + sealedSegmentLength(plan, i))));
          if (part) yield part;
        }
      }
      return Promise.resolve(Readable.from(segments(), { objectMode: false }));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  async function openSealed(
    key: BlobKey,
    size: number,
    range: ByteRange | undefined,
    fetch: (key: BlobKey, range: ByteRange) => Promise<Readable>,
  ): Promise<Readable> {
    assertBlobKey(key);
    const plan = readPlan(size, range);
    const { first, last } = plan;
    const bodyStart = HEADER_BYTES + first * SEALED_SEGMENT_BYTES;
    const bodyEnd = HEADER_BYTES + last * SEALED_SEGMENT_BYTES + sealedSegmentLength(plan, last) - 1;

    // The header and the body are fetched in parallel: the header's size is fixed, so the body's
    // offset is known without reading it first.
    const [h, b] = await Promise.allSettled([fetch(key, { start: 0, end: HEADER_BYTES - 1 }), fetch(key, { start: bodyStart, end: bodyEnd })]);
    if (h.status === 'rejected' || b.status === 'rejected') {
      if (h.status === 'fulfilled') h.value.destroy();
      if (b.status === 'fulfilled') b.value.destroy();
      throw h.status === 'rejected' ? h.reason : (b as PromiseRejectedResult).reason;
    }
    const body = b.value;
    let dataKey: KeyObject;
    try {
      const header = await readExactly(h.value, HEADER_BYTES);
      if (header === null) throw integrity(new Error('object shorter than its header'));
      dataKey = openHeader(header, key, keyring);
    } catch (err) {
      body.destroy();
      throw err;
    } finally {
      h.value.destroy();
    }
    const p = plan.last - plan.first + 1 > runSegments ? pool() : null;
    if (p === null) {
      // One run or less (or no pool): opened here as the bytes arrive.
      const out = segmentOpener(dataKey, plan);
      // pipeline forwards body errors to `out` and destroys `body` when `out` is destroyed early.
      pipeline(body, out, () => {});
      return out;
    }
    const channel = p.channel(dataKey, { hash: false });
    return Readable.from(openRuns(body, channel, plan, runSegments), { objectMode: false, highWaterMark: runPlain });
  }

  /** inner.get, where "range not satisfiable" means the object is shorter than `size` implies. */
  async function innerGet(key: BlobKey, range: ByteRange): Promise<Readable> {
    try {
      return await inner.get(key, range);
    } catch (err) {
      if (err instanceof CoreError && err.code === 'RANGE_NOT_SATISFIABLE') throw integrity(err);
      throw err;
    }
  }

  return Object.freeze({
    put,
    get,
    seal,
    open,
    delete: (key: BlobKey) => inner.delete(key),
    keys: () => inner.keys(),
    sweepTemp: (keys?: readonly BlobKey[]) => inner.sweepTemp(keys),
    check: () => inner.check(),
  });
}

// ── header ───────────────────────────────────────────────────────────────────────────────────

function wrapAad(header: Buffer, key: BlobKey): Buffer {
  return Buffer.concat([header.subarray(0, OFF_NONCE), Buffer.from(key, 'latin1')]);
}

function sealHeader(kek: Kek, key: BlobKey, dataKey: Buffer): Buffer {
  if (!KEK_ID_RE.test(kek.id)) throw new CoreError('INTERNAL', 'key-encryption key id is not usable in a blob header');
  if (kek.key.length !== 32) throw new CoreError('INTERNAL', 'key-encryption key has the wrong length');
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[OFF_VERSION] = FORMAT_VERSION;
  header[OFF_ID_LEN] = kek.id.length;
  header.write(kek.id, OFF_ID, 'latin1');
  const nonce = randomBytes(NONCE_BYTES);
  nonce.copy(header, OFF_NONCE);
  const c = createCipheriv(CIPHER, kek.key, nonce);
  c.setAAD(wrapAad(header, key));
  const wrapped = c.update(dataKey);
  c.final();
  wrapped.copy(header, OFF_WRAPPED);
  wrapped.fill(0);
  c.getAuthTag().copy(header, OFF_WRAPPED + DATA_KEY_BYTES);
  return header;
}

/** Verifies a header and unwraps its data key; every failure is INTEGRITY. */
function openHeader(header: Buffer, key: BlobKey, keyring: Keyring): KeyObject {
  if (!header.subarray(0, OFF_VERSION).equals(MAGIC)) throw integrity(new Error('bad magic'));
  if (header[OFF_VERSION] !== FORMAT_VERSION) throw integrity(new Error(`unsupported format version ${String(header[OFF_VERSION])}`));
  const idLen = header[OFF_ID_LEN] ?? 0;
  if (idLen < 1 || idLen > KEK_ID_MAX) throw integrity(new Error('bad KEK id length'));
  const id = header.toString('latin1', OFF_ID, OFF_ID + idLen);
  if (!KEK_ID_RE.test(id)) throw integrity(new Error('bad KEK id'));
  const kek = keyring.get(id);
  if (kek === undefined) throw integrity(new Error(`unknown key-encryption key ${id}`));
  const d = createDecipheriv(CIPHER, kek.key, header.subarray(OFF_NONCE, OFF_NONCE + NONCE_BYTES));
  d.setAAD(wrapAad(header, key));
  d.setAuthTag(header.subarray(OFF_WRAPPED + DATA_KEY_BYTES, HEADER_BYTES));
  const raw = d.update(header.subarray(OFF_WRAPPED, OFF_WRAPPED + DATA_KEY_BYTES));
  try {
    d.final();
  } catch (err) {
    raw.fill(0);
    throw integrity(err);
  }
  const dataKey = createSecretKey(raw);
  raw.fill(0);
  return dataKey;
}

// ── segments ─────────────────────────────────────────────────────────────────────────────────

/** Seals runs of segments for one put; the digest comes with the final run. */
interface Sealer {
  seal(buf: RunBuffer, len: number, index: number, final: boolean): Promise<SealedRun>;
  close(): void;
}

/** Seals on the calling thread, synchronously (the promise is already settled). */
function localSealer(dataKey: KeyObject): Sealer {
  const hash = createHash('sha256');
  return {
    seal(buf, len, index, final) {
      try {
        const sealedLen = sealRunInPlace(dataKey, new Uint8Array(buf), len, index, final, hash);
        return Promise.resolve({ buf, len: sealedLen, digest: final ? hash.digest('hex') : undefined });
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    close() {},
  };
}

/**
 * A pending run whose failure (a worker that failed) becomes CoreError INTERNAL, and that is never
 * an unhandled rejection if the stream stops before awaiting it.
 */
function settled<T>(p: Promise<T>, what: string): Promise<T> {
  const q = p.catch((err: unknown) => {
    throw err instanceof CoreError ? err : new CoreError('INTERNAL', `${what} failed`, { cause: err });
  });
  q.catch(() => {});
  return q;
}

/** A sealed run as a chunk for the inner store (an IO buffer again, which the local store recycles once written). */
function sealedBytes(r: SealedRun): Buffer {
  adoptIoBuffer(r.buf);
  return Buffer.from(r.buf, 0, r.len);
}

function openSegment(dataKey: KeyObject, nonce: Buffer, index: number, final: boolean, sealedSeg: Buffer): Buffer {
  setNonce(nonce, index, final);
  const n = sealedSeg.length - TAG_BYTES;
  const d = createDecipheriv(CIPHER, dataKey, nonce);
  d.setAuthTag(sealedSeg.subarray(n));
  const pt = d.update(sealedSeg.subarray(0, n));
  try {
    d.final();
  } catch (err) {
    throw integrity(err);
  }
  return pt;
}

// ── reading ──────────────────────────────────────────────────────────────────────────────────

/** Which segments a read covers, and which plaintext bytes of them it returns (inclusive). */
interface ReadPlan {
  readonly size: number;
  readonly lastIndex: number;
  readonly first: number;
  readonly last: number;
  readonly start: number;
  readonly end: number;
}

/** The plan of reading `range` (all when absent) of an object of `size` plaintext bytes. */
function readPlan(size: number, range: ByteRange | undefined): ReadPlan {
  if (!Number.isSafeInteger(size) || size < 0) throw new CoreError('INTERNAL', 'invalid object size');
  const r = resolveRange(range, size);
  const start = r?.start ?? 0;
  const end = r?.end ?? size - 1; // -1 for an empty object: no bytes, but its one segment is still verified
  const first = Math.floor(start / SEGMENT_BYTES);
  return { size, lastIndex: segmentCount(size) - 1, first, last: Math.max(first, Math.floor(end / SEGMENT_BYTES)), start, end };
}

/** The part of segment i's plaintext `pt` that the plan reads (undefined: none of it). */
function planned(plan: ReadPlan, i: number, pt: Buffer): Buffer | undefined {
  const from = i === plan.first ? plan.start - i * SEGMENT_BYTES : 0;
  const to = i === plan.last ? plan.end - i * SEGMENT_BYTES + 1 : pt.length;
  if (to <= from) return undefined;
  return from === 0 && to === pt.length ? pt : pt.subarray(from, to);
}

function sealedSegmentLength(plan: ReadPlan, i: number): number {
  return (i === plan.lastIndex ? plan.size - plan.lastIndex * SEGMENT_BYTES : SEGMENT_BYTES) + TAG_BYTES;
}

/** Reads a whole (small) stream; exactly `n` bytes or null. */
async function readExactly(stream: Readable, n: number): Promise<Buffer | null> {
  const parts: Buffer[] = [];
  let len = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    len += b.length;
    if (len > n) return null;
    parts.push(b);
  }
  return len === n ? Buffer.concat(parts, n) : null;
}

/**
 * Turns the sealed segments plan.first..plan.last into the requested plaintext. Synchronous per
 * incoming chunk: a segment is verified before any of its bytes is pushed. A segment that arrives
 * whole inside a chunk is opened in place; others are assembled in one reused buffer.
 */
function segmentOpener(dataKey: KeyObject, plan: ReadPlan): Transform {
  const scratch = Buffer.allocUnsafe(SEALED_SEGMENT_BYTES);
  const nonce = Buffer.alloc(NONCE_BYTES);
  let i = plan.first;
  let need = sealedSegmentLength(plan, i);
  let fill = 0;

  return new Transform({
    writableHighWaterMark: SEALED_SEGMENT_BYTES,
    readableHighWaterMark: SEGMENT_BYTES,
    transform(chunk: Buffer, _encoding, cb) {
      try {
        let pos = 0;
        while (pos < chunk.length) {
          if (i > plan.last) throw integrity(new Error('object longer than expected'));
          let sealedSeg: Buffer;
          if (fill === 0 && chunk.length - pos >= need) {
            sealedSeg = chunk.subarray(pos, pos + need);
            pos += need;
          } else {
            const take = Math.min(chunk.length - pos, need - fill);
            chunk.copy(scratch, fill, pos, pos + take);
            fill += take;
            pos += take;
            if (fill < need) break;
            sealedSeg = scratch.subarray(0, need);
            fill = 0;
          }
          const pt = openSegment(dataKey, nonce, i, i === plan.lastIndex, sealedSeg);
          const part = planned(plan, i, pt);
          if (part) this.push(part);
          i++;
          if (i <= plan.last) need = sealedSegmentLength(plan, i);
        }
        cb();
      } catch (err) {
        cb(err instanceof Error ? err : new Error(String(err)));
      }
    },
    flush(cb) {
      cb(i <= plan.last ? integrity(new Error(`object truncated in segment ${i}`)) : null);
    },
  });
}

/**
 * The plaintext of plan.first..plan.last, opened by a worker: the sealed body is cut into runs of
 * `runSegments` segments (a chunk that is exactly one run and starts an IO buffer, as the local
 * store's chunks do, is transferred as it is; others are copied into a run buffer), up to
 * RUNS_IN_FLIGHT runs are at the worker at once, and each run's verified plaintext is yielded in
 * order, trimmed to the range, in the run's own buffer (released back to the IO buffer pool by
 * whoever sends it: release protocol, common.ts). A segment that fails verification ends the
 * stream with INTEGRITY after the plaintext before it; so does a body shorter or longer than the plan.
 */
async function* openRuns(body: Readable, channel: CryptoChannel, plan: ReadPlan, runSegments: number): AsyncGenerator<Buffer> {
  const inflight: Array<{ readonly first: number; readonly p: Promise<OpenedRunReply> }> = [];
  let next = plan.first; // first segment of the run being assembled
  let cur: Buffer | undefined;
  let fill = 0;

  function* emit(first: number, r: OpenedRunReply): Generator<Buffer> {
    // The run's plaintext covers [first × 64 KiB, + r.len) of the object.
    const base = first * SEGMENT_BYTES;
    const from = Math.max(plan.start, base) - base;
    const to = Math.min(plan.end + 1, base + r.len) - base;
    if (to > from) {
      const chunk = Buffer.from(r.buf, from, to - from);
      // An IO buffer goes back to the pool once the consumer has sent the chunk (release protocol).
      if (r.buf.byteLength === IO_CHUNK_BYTES) {
        adoptIoBuffer(r.buf);
        yield releasable(chunk, () => recycleIoBuffer(chunk));
      } else yield chunk;
    }
    if (r.failed !== undefined) throw integrity(new Error(`segment ${r.failed.index}: ${r.failed.reason}`));
  }

  try {
    for await (const c of chunksOf(body, 1)) {
      let pos = 0;
      while (pos < c.length) {
        if (next > plan.last) throw integrity(new Error('object longer than expected'));
        const to = Math.min(next + runSegments - 1, plan.last);
        const len = (to - next) * SEALED_SEGMENT_BYTES + sealedSegmentLength(plan, to);
        let runBuf: RunBuffer;
        if (fill === 0 && pos === 0 && c.length === len && isIoBuffer(c)) {
          runBuf = c.buffer;
          pos = len;
        } else {
          cur ??= len <= IO_CHUNK_BYTES ? takeIoBuffer() : Buffer.allocUnsafeSlow(len);
          const take = Math.min(c.length - pos, len - fill);
          c.copy(cur, fill, pos, pos + take);
          fill += take;
          pos += take;
          if (fill < len) break;
          runBuf = cur.buffer as RunBuffer;
          cur = undefined;
          fill = 0;
        }
        inflight.push({ first: next, p: settled(channel.open(runBuf, len, next, plan.lastIndex, plan.size), 'decryption') });
        next = to + 1;
        while (inflight.length >= RUNS_IN_FLIGHT) {
          const f = inflight.shift()!;
          yield* emit(f.first, await f.p);
        }
      }
    }
    while (inflight.length > 0) {
      const f = inflight.shift()!;
      yield* emit(f.first, await f.p);
    }
    if (next <= plan.last) throw integrity(new Error(`object truncated in segment ${next}`));
  } finally {
    channel.close();
    body.destroy();
  }
}
