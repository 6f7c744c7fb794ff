import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import {
  AUTH_FAILED,
  nativeSegmentCipher,
  nodeSegmentCipher,
  openRunInPlace,
  SEALED_SEGMENT_BYTES,
  sealedRunLength,
  sealRunInPlace,
  segmentCipher,
  SEGMENT_BYTES,
  type SegmentCipher,
} from './segment-crypto.js';

test('the store uses the native segment cipher', () => {
  assert.equal(segmentCipher.name, 'native');
});

const ciphers: SegmentCipher[] = [nodeSegmentCipher, ...(nativeSegmentCipher ? [nativeSegmentCipher] : [])];
const key = randomBytes(32);
/** A run buffer in shared memory (as the stores' IO buffers are) holding `plain`, with room to seal it. */
function runOf(plain: Uint8Array): Uint8Array {
  const buf = new Uint8Array(new SharedArrayBuffer(sealedRunLength(plain.length)));
  buf.set(plain);
  return buf;
}
const LENGTHS = [0, 1, 100, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES, 16 * SEGMENT_BYTES - 7];

describe('segment ciphers', () => {
  test('both seal to the same bytes and each opens what the other sealed', () => {
    assert.equal(ciphers.length, 2);
    for (const len of LENGTHS) {
      const plain = randomBytes(len);
      const final = len % SEGMENT_BYTES !== 0 || len === 0;
      const sealed = ciphers.map((c) => {
        const buf = runOf(plain);
        const n = sealRunInPlace(key, buf, len, 7, final, undefined, c);
        assert.equal(n, sealedRunLength(len));
        return Buffer.from(buf.subarray(0, n));
      });
      assert.ok(sealed[0]!.equals(sealed[1]!), `sealed bytes differ at ${len}`);
      assert.ok(!sealed[0]!.subarray(0, Math.min(len, 64)).equals(plain.subarray(0, Math.min(len, 64))) || len === 0);
      const segs = Math.max(1, Math.ceil(len / SEGMENT_BYTES));
      const lastIndex = final ? 7 + segs - 1 : 7 + segs; // a run that is not final has more segments after it
      const size = final ? lastIndex * SEGMENT_BYTES + (len - (segs - 1) * SEGMENT_BYTES) : (lastIndex + 1) * SEGMENT_BYTES;
      for (const c of ciphers) {
        const buf = new Uint8Array(new SharedArrayBuffer(sealed[0]!.length));
        buf.set(sealed[1 - ciphers.indexOf(c)]!);
        const r = openRunInPlace(key, buf, buf.length, 7, lastIndex, size, c);
        assert.equal(r.failed, undefined, `${c.name} failed to open ${len}`);
        assert.equal(r.plainLen, len);
        assert.ok(Buffer.from(buf.subarray(0, len)).equals(plain), `${c.name} opened other bytes at ${len}`);
      }
    }
  });

  test('a KeyObject and its raw bytes seal alike', () => {
    const plain = randomBytes(1000);
    const a = runOf(plain);
    const b = runOf(plain);
    sealRunInPlace(key, a, 1000, 0, true);
    sealRunInPlace(createSecretKey(key), b, 1000, 0, true);
    assert.deepEqual(a, b);
  });

  for (const c of ciphers) {
    test(`${c.name}: a tampered segment fails, keeps the verified ones, and leaves none of its plaintext behind`, () => {
      const plain = randomBytes(3 * SEGMENT_BYTES);
      plain.fill(0x41, SEGMENT_BYTES, 2 * SEGMENT_BYTES); // segment 1 is recognisable
      const buf = runOf(plain);
      sealRunInPlace(key, buf, plain.length, 0, true, undefined, c);
      buf[SEALED_SEGMENT_BYTES + 5]! ^= 1; // one bit of segment 1's ciphertext
      const r = openRunInPlace(key, buf, buf.length, 0, 2, plain.length, c);
      assert.equal(r.plainLen, SEGMENT_BYTES);
      assert.deepEqual(r.failed, { index: 1, reason: AUTH_FAILED });
      assert.ok(Buffer.from(buf.subarray(0, SEGMENT_BYTES)).equals(plain.subarray(0, SEGMENT_BYTES)));
      // 256 bytes of 0x41 in a row anywhere would be segment 1's plaintext.
      assert.equal(Buffer.from(buf).indexOf(Buffer.alloc(256, 0x41)), -1);
    });

    test(`${c.name}: a wrong key, a wrong index or a missing final flag fails the first segment`, () => {
      const plain = randomBytes(SEGMENT_BYTES + 10);
      const sealed = runOf(plain);
      sealRunInPlace(key, sealed, plain.length, 4, true, undefined, c);
      const attempt = (k: Uint8Array, first: number, lastIndex: number, size: number) => {
        const buf = Uint8Array.from(sealed);
        return openRunInPlace(k, buf, buf.length, first, lastIndex, size, c);
      };
      assert.deepEqual(attempt(randomBytes(32), 4, 5, 5 * SEGMENT_BYTES + 10).failed, { index: 4, reason: AUTH_FAILED });
      assert.deepEqual(attempt(key, 3, 4, 4 * SEGMENT_BYTES + 10).failed, { index: 3, reason: AUTH_FAILED });
      // Read as if the object went on: segment 5 opened without its final flag.
      assert.deepEqual(attempt(key, 4, 6, 6 * SEGMENT_BYTES + 10).failed?.index, 5);
      assert.equal(attempt(key, 4, 5, 5 * SEGMENT_BYTES + 10).plainLen, plain.length);
    });
  }

  test('native: ranges outside the buffer and bad keys are refused, not read or written', () => {
    const c = nativeSegmentCipher!;
    const buf = new Uint8Array(100);
    const nonce = new Uint8Array(12);
    assert.throws(() => c.seal(key, buf, 0, 90, 0, nonce), /outside the buffer/); // no room for the tag
    assert.throws(() => c.seal(key, buf, 10, 10, 0, nonce), /outside the buffer/); // backwards
    assert.throws(() => c.open(key, buf, 0, 85, 0, nonce), /outside the buffer/);
    assert.throws(() => c.open(key, buf, 0, 10, 5, nonce), /outside the buffer/); // forwards
    assert.throws(() => c.open(key.subarray(0, 16), buf, 0, 10, 0, nonce), /32 bytes/);
    assert.throws(() => c.open(key, buf, 0, 10, 0, new Uint8Array(8)), /12 bytes/);
    assert.throws(() => c.open(key, buf, -1, 10, 0, nonce), /non-negative integers/);
    assert.throws(() => c.open(key, buf, 0.5, 10, 0, nonce), /non-negative integers/);
    assert.equal(c.open(key, buf, 0, 84, 0, nonce), false);
  });
});
