/**
 * Sluice's own native module (native/sluice, built by `npm ci` through scripts/build-native.mjs),
 * or undefined where it could not be built: every user has a JavaScript fallback that gives the
 * same bytes, slower. `npm test` fails when it is missing (runtime/native.test.ts).
 */
import { createRequire } from 'node:module';

export interface NativeModule {
  /** In-place AES-256-GCM of one segment: see storage/segment-crypto.ts SegmentCipher. */
  sealSegment(key: Uint8Array, buf: Uint8Array, from: number, len: number, at: number, nonce: Uint8Array): void;
  openSegment(key: Uint8Array, buf: Uint8Array, pos: number, len: number, out: number, nonce: Uint8Array): boolean;
  /** Copies all of `src` into `dst` at `at`; throws when it does not fit. */
  copyBytes(dst: Uint8Array, at: number, src: Uint8Array): void;
}

/** This module sits two folders below the project root, in src/ and in dist/ alike. */
export const native: NativeModule | undefined = (() => {
  try {
    return createRequire(import.meta.url)('../../native/sluice/build/Release/sluice_native.node') as NativeModule;
  } catch {
    return undefined;
  }
})();

/**
 * Copies all of `src` into `dst` at `at`. The reason to use it: V8 copies into and out of shared
 * memory (the stores' IO buffers are SharedArrayBuffers) with relaxed atomics, several times
 * slower than memcpy; the native copy is a memmove. The caller MUST own both ranges exclusively
 * while it copies (no other thread writes them: the IO buffer ownership rules, storage/common.ts).
 */
export const copyBytes: (dst: Uint8Array, at: number, src: Uint8Array) => void =
  native?.copyBytes ??
  ((dst, at, src) => {
    if (at + src.byteLength > dst.byteLength) throw new RangeError('range outside the buffer');
    dst.set(src, at);
  });
