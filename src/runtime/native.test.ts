import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyBytes, native } from './native.js';

// `npm ci` builds it (scripts/build-native.mjs): Sluice must not silently run on the slower
// fallbacks on the machines it is tested on.
test('the native module is built and loads', () => {
  assert.ok(native, 'native/sluice was not built: run npm ci (or node scripts/build-native.mjs)');
  for (const f of ['sealSegment', 'openSegment', 'copyBytes'] as const) assert.equal(typeof native[f], 'function');
});

describe('copyBytes', () => {
  test('copies into and out of shared memory, at an offset, and between overlapping views', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    const src = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
    copyBytes(shared, 5, src);
    assert.deepEqual([...shared.subarray(4, 16)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]);
    const out = new Uint8Array(12);
    copyBytes(out, 2, shared.subarray(5, 15));
    assert.deepEqual([...out], [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    copyBytes(shared, 6, shared.subarray(5, 15)); // memmove semantics
    assert.deepEqual([...shared.subarray(5, 16)], [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    copyBytes(out, 12, new Uint8Array(0));
  });

  test('refuses what does not fit and arguments that are not byte arrays', () => {
    const dst = new Uint8Array(8);
    assert.throws(() => copyBytes(dst, 4, new Uint8Array(5)), /outside the buffer/);
    assert.throws(() => copyBytes(dst, 9, new Uint8Array(0)), /outside the buffer/);
    assert.throws(() => native!.copyBytes(dst, -1, new Uint8Array(1)), /non-negative integers/);
    assert.throws(() => native!.copyBytes(dst, 0, 'abc' as never), /Uint8Arrays/);
    assert.deepEqual([...dst], [0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
