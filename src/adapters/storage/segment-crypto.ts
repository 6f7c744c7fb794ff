/**
 * The segment layer of the encrypted store's format (see encrypted-store.ts, "SLC1"): sealing and
 * opening runs of consecutive 64 KiB segments with AES-256-GCM, in place in one buffer. Used on the
 * main thread for small objects and by the crypto worker threads (crypto-worker.ts) for large ones,
 * so it imports nothing of the core and reports failures as plain data, not CoreErrors.
 *
 * One segment is sealed or opened by a SegmentCipher. Two give the same bytes: the native one
 * (runtime/native.ts, built by `npm ci`: OpenSSL's AES-GCM on the run's own memory, no buffer
 * allocated per segment) and node:crypto's (a fresh output buffer and a copy per segment, and the
 * garbage that makes). The native one is used where it was built; `segmentCipher.name` says which.
 */
import { createCipheriv, createDecipheriv, type Hash, type KeyObject } from 'node:crypto';
import { native } from '../../runtime/native.js';

export const SEGMENT_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const SEALED_SEGMENT_BYTES = SEGMENT_BYTES + TAG_BYTES;
export const NONCE_BYTES = 12;
const CIPHER = 'aes-256-gcm';

/** nonce_i = i as an 11-byte big-endian counter ‖ flag byte (1 on the last segment of the object). */
export function setNonce(nonce: Buffer, index: number, final: boolean): void {
  // 3 zero bytes, then the index as a 64-bit integer (index < 2^53).
  nonce.fill(0, 0, 3);
  nonce.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 3);
  nonce.writeUInt32BE(index >>> 0, 7);
  nonce[11] = final ? 1 : 0;
}

/** Number of segments `len` plaintext bytes make (an empty final run is one empty segment). */
export function segmentsIn(len: number): number {
  return len === 0 ? 1 : Math.ceil(len / SEGMENT_BYTES);
}

/** Sealed length of a run of `len` plaintext bytes. */
export function sealedRunLength(len: number): number {
  return len + TAG_BYTES * segmentsIn(len);
}

/**
 * Seals or opens ONE segment in place. Contract (both implementations MUST keep it):
 * - seal(key, buf, from, len, at, nonce): the plaintext buf[from, from+len) ends up encrypted at
 *   buf[at, at+len), its 16-byte tag at buf[at+len]; at >= from.
 * - open(key, buf, pos, len, out, nonce): ciphertext buf[pos, pos+len) and its tag after it. When
 *   the tag verifies, the plaintext is at buf[out, out+len) (out <= pos) and it returns true;
 *   otherwise it returns false and no plaintext of that segment is left anywhere in buf.
 * key is the 32-byte data key, nonce 12 bytes.
 */
export interface SegmentCipher {
  readonly name: 'native' | 'node:crypto';
  seal(key: Uint8Array, buf: Uint8Array, from: number, len: number, at: number, nonce: Uint8Array): void;
  open(key: Uint8Array, buf: Uint8Array, pos: number, len: number, out: number, nonce: Uint8Array): boolean;
}

export const nodeSegmentCipher: SegmentCipher = {
  name: 'node:crypto',
  seal(key, buf, from, len, at, nonce) {
    const c = createCipheriv(CIPHER, key, nonce);
    const ct = c.update(buf.subarray(from, from + len));
    c.final();
    buf.set(ct, at);
    buf.set(c.getAuthTag(), at + len);
  },
  open(key, buf, pos, len, out, nonce) {
    const d = createDecipheriv(CIPHER, key, nonce);
    d.setAuthTag(buf.subarray(pos + len, pos + len + TAG_BYTES));
    const pt = d.update(buf.subarray(pos, pos + len));
    try {
      d.final();
    } catch {
      return false;
    }
    buf.set(pt, out);
    return true;
  },
};

/** The native cipher, or undefined where the native module was not built. */
export const nativeSegmentCipher: SegmentCipher | undefined = native && { name: 'native', seal: native.sealSegment, open: native.openSegment };

/** The cipher the store uses: the native one where it was built. */
export const segmentCipher: SegmentCipher = nativeSegmentCipher ?? nodeSegmentCipher;

/** What a failed tag check reports (the words of OpenSSL's error, which node:crypto passes on). */
export const AUTH_FAILED = 'Unsupported state or unable to authenticate data';

/** The raw data key (KeyObject.export copies 32 bytes; cheap next to a run). */
const rawKey = (key: KeyObject | Uint8Array): Uint8Array => (key instanceof Uint8Array ? key : key.export());

/**
 * Seals the plaintext `buf[0, len)` in place as segments `firstIndex`, `firstIndex + 1`, …, each
 * followed by its tag; the last segment carries the final flag when `final`. A run that is not
 * final holds whole segments only. `buf` must have room for the result (sealedRunLength(len)).
 * When `hash` is given, it is updated with the plaintext first. Returns the sealed length.
 *
 * Segments are sealed from the last to the first: segment s is written at s × 65552, after the
 * plaintext of segments < s (which ends at s × 65536) and over plaintext already consumed.
 */
export function sealRunInPlace(
  key: KeyObject | Uint8Array,
  buf: Uint8Array,
  len: number,
  firstIndex: number,
  final: boolean,
  hash?: Hash,
  cipher: SegmentCipher = segmentCipher,
): number {
  if (!final && len % SEGMENT_BYTES !== 0) throw new Error('a run that is not final must hold whole segments');
  const sealedLen = sealedRunLength(len);
  if (buf.byteLength < sealedLen) throw new Error('no room to seal the run in place');
  if (hash !== undefined && len > 0) hash.update(buf.subarray(0, len));
  const k = rawKey(key);
  const n = segmentsIn(len);
  const nonce = Buffer.alloc(NONCE_BYTES);
  for (let s = n - 1; s >= 0; s--) {
    const from = s * SEGMENT_BYTES;
    setNonce(nonce, firstIndex + s, final && s === n - 1);
    cipher.seal(k, buf, from, Math.min(SEGMENT_BYTES, len - from), s * SEALED_SEGMENT_BYTES, nonce);
  }
  return sealedLen;
}

/** What opening a run gave: `plainLen` verified plaintext bytes at the start of the buffer, then maybe a failure. */
export interface OpenedRun {
  readonly plainLen: number;
  /** Set when a segment failed: its index and why. Nothing of that segment or later ones is in the buffer. */
  readonly failed?: { readonly index: number; readonly reason: string };
}

/**
 * Opens the sealed segments `buf[0, len)` in place, starting with segment `firstIndex`, for an object
 * of `size` plaintext bytes whose last segment is `lastIndex` (the only one that may be short, and the
 * only one opened with the final flag). Each segment's tag is verified before its plaintext is kept
 * (at the start of the buffer, after the plaintext of the segments before it); on the first failure
 * the run stops. `buf[0, len)` must hold whole sealed segments.
 */
export function openRunInPlace(
  key: KeyObject | Uint8Array,
  buf: Uint8Array,
  len: number,
  firstIndex: number,
  lastIndex: number,
  size: number,
  cipher: SegmentCipher = segmentCipher,
): OpenedRun {
  const k = rawKey(key);
  const nonce = Buffer.alloc(NONCE_BYTES);
  let pos = 0;
  let out = 0;
  let i = firstIndex;
  while (pos < len) {
    const segLen = i === lastIndex ? size - lastIndex * SEGMENT_BYTES + TAG_BYTES : SEALED_SEGMENT_BYTES;
    if (i > lastIndex || pos + segLen > len) return { plainLen: out, failed: { index: i, reason: 'run does not end on a segment boundary' } };
    const ctLen = segLen - TAG_BYTES;
    setNonce(nonce, i, i === lastIndex);
    if (!cipher.open(k, buf, pos, ctLen, out, nonce)) return { plainLen: out, failed: { index: i, reason: AUTH_FAILED } };
    out += ctLen;
    pos += segLen;
    i++;
  }
  return { plainLen: out };
}
