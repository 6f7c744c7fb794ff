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
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { BlobKey, BlobStore, ByteRange, SealedPut, SealedStore } from '../../ports/blob-store.js';
import type { Kek, Keyring } from '../../ports/keyring.js';
import { CoreError } from '../../core/errors.js';
import { assertBlobKey, assertChunk, resolveRange } from './common.js';

export const MAGIC = Buffer.from('SLC1', 'latin1');
export const FORMAT_VERSION = 1;
export const KEK_ID_MAX = 64;
export const SEGMENT_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const SEALED_SEGMENT_BYTES = SEGMENT_BYTES + TAG_BYTES;
const NONCE_BYTES = 12;
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
}

/** Number of segments of a plaintext of `size` bytes. */
export function segmentCount(size: number): number {
  return size === 0 ? 1 : Math.ceil(size / SEGMENT_BYTES);
}

/** Stored (sealed) length of a plaintext of `size` bytes. */
export function sealedLength(size: number): number {
  return HEADER_BYTES + size + TAG_BYTES * segmentCount(size);
}

const integrity = (cause?: unknown): CoreError =>
  new CoreError('INTEGRITY', 'stored file failed its integrity check', cause === undefined ? {} : { cause });

export function createEncryptedStore(opts: EncryptedStoreOptions): SealedStore {
  const { inner, keyring } = opts;

  async function put(key: BlobKey, source: AsyncIterable<Uint8Array>, putOpts?: { signal?: AbortSignal }): Promise<SealedPut> {
    assertBlobKey(key);
    const kek = keyring.current();
    const rawKey = randomBytes(DATA_KEY_BYTES);
    const header = sealHeader(kek, key, rawKey);
    const dataKey = createSecretKey(rawKey);
    rawKey.fill(0);

    const hash = createHash('sha256');
    let size = 0;
    let finished = false;

    async function* sealed(): AsyncGenerator<Uint8Array> {
      yield header;
      const nonce = Buffer.alloc(NONCE_BYTES);
      const seg = Buffer.allocUnsafe(SEGMENT_BYTES);
      let fill = 0;
      let index = 0;
      for await (const chunk of source) {
        assertChunk(chunk);
        hash.update(chunk);
        size += chunk.byteLength;
        const len = chunk.byteLength;
        let pos = 0;
        while (pos < len) {
          if (fill === SEGMENT_BYTES) {
            // A full segment and at least one more byte: it is not the last one.
            const s = sealSegment(dataKey, nonce, index++, false, seg);
            yield s.ct;
            yield s.tag;
            fill = 0;
          }
          if (fill === 0 && len - pos > SEGMENT_BYTES) {
            // A whole segment inside this chunk with more bytes after it: seal it in place.
            const s = sealSegment(dataKey, nonce, index++, false, chunk.subarray(pos, pos + SEGMENT_BYTES));
            yield s.ct;
            yield s.tag;
            pos += SEGMENT_BYTES;
            continue;
          }
          const n = Math.min(SEGMENT_BYTES - fill, len - pos);
          seg.set(chunk.subarray(pos, pos + n), fill);
          fill += n;
          pos += n;
        }
      }
      const s = sealSegment(dataKey, nonce, index, true, seg.subarray(0, fill));
      if (s.ct.length > 0) yield s.ct;
      yield s.tag;
      finished = true;
    }

    const { size: stored } = await inner.put(key, sealed(), putOpts);
    if (!finished || stored !== sealedLength(size)) {
      await inner.delete(key).catch(() => {});
      throw new CoreError('INTERNAL', 'sealed object has an unexpected size', {
        cause: new Error(`stored ${stored} bytes, expected ${sealedLength(size)}; finished=${String(finished)}`),
      });
    }
    return { size, sha256: hash.digest('hex') };
  }

  async function get(key: BlobKey, size: number, range?: ByteRange): Promise<Readable> {
    assertBlobKey(key);
    if (!Number.isSafeInteger(size) || size < 0) throw new CoreError('INTERNAL', 'invalid object size');
    const r = resolveRange(range, size);
    const start = r?.start ?? 0;
    const end = r?.end ?? size - 1; // -1 for an empty object: no bytes, but its one segment is still verified
    const lastIndex = segmentCount(size) - 1;
    const first = Math.floor(start / SEGMENT_BYTES);
    const last = Math.max(first, Math.floor(end / SEGMENT_BYTES));
    const plan: ReadPlan = { size, lastIndex, first, last, start, end };
    const bodyStart = HEADER_BYTES + first * SEALED_SEGMENT_BYTES;
    const bodyEnd = HEADER_BYTES + last * SEALED_SEGMENT_BYTES + sealedSegmentLength(plan, last) - 1;

    // The header and the body are fetched in parallel: the header's size is fixed, so the body's
    // offset is known without reading it first.
    const [h, b] = await Promise.allSettled([
      innerGet(key, { start: 0, end: HEADER_BYTES - 1 }),
      innerGet(key, { start: bodyStart, end: bodyEnd }),
    ]);
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
    const out = segmentOpener(dataKey, plan);
    // pipeline forwards body errors to `out` and destroys `body` when `out` is destroyed early.
    pipeline(body, out, () => {});
    return out;
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
    delete: (key: BlobKey) => inner.delete(key),
    keys: () => inner.keys(),
    sweepTemp: () => inner.sweepTemp(),
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

function setNonce(nonce: Buffer, index: number, final: boolean): void {
  // 11-byte big-endian counter: 3 zero bytes, then the index as a 64-bit integer (index < 2^53).
  nonce.fill(0, 0, 3);
  nonce.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 3);
  nonce.writeUInt32BE(index >>> 0, 7);
  nonce[11] = final ? 1 : 0;
}

function sealSegment(dataKey: KeyObject, nonce: Buffer, index: number, final: boolean, pt: Uint8Array): { ct: Buffer; tag: Buffer } {
  setNonce(nonce, index, final);
  const c = createCipheriv(CIPHER, dataKey, nonce);
  const ct = c.update(pt);
  c.final();
  return { ct, tag: c.getAuthTag() };
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
          const from = i === plan.first ? plan.start - i * SEGMENT_BYTES : 0;
          const to = i === plan.last ? plan.end - i * SEGMENT_BYTES + 1 : pt.length;
          if (to > from) this.push(from === 0 && to === pt.length ? pt : pt.subarray(from, to));
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
