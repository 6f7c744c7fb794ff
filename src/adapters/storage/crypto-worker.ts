/**
 * A crypto worker thread of the encrypted store (started by crypto-pool.ts, never imported by the
 * main thread). It seals and opens runs of segments in place (segment-crypto.ts) for the streams
 * pinned to it, hashing the plaintext of sealed streams with SHA-256, so the main thread only does
 * the network and the file I/O.
 *
 * Protocol (one message port; requests of one stream are answered in the order they came):
 *   begin { id, key: KeyObject, hash }                       new stream `id` (no answer)
 *   seal  { id, buf, len, index, final }  → { id, buf, len, digest? }   sealed in place; digest
 *                                            (hex SHA-256 of the stream's plaintext) with the final run
 *   open  { id, buf, len, index, lastIndex, size } → { id, buf, len, failed? }   opened in place
 *   end   { id }                                             forget the stream (no answer)
 * Buffers travel there and back without a copy: SharedArrayBuffers shared (the sender leaves them
 * alone until the answer), ArrayBuffers transferred. A request that throws is answered with
 * { id, error } and the stream is forgotten.
 */
import { createHash, type Hash, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { openRunInPlace, sealRunInPlace, type OpenedRun } from './segment-crypto.js';
import { collectYoung } from '../../runtime/young-gc.js';

/** The memory of a run: shared with the worker, or transferred to it and back. */
export type RunBuffer = ArrayBuffer | SharedArrayBuffer;

export type CryptoRequest =
  | { readonly t: 'begin'; readonly id: number; readonly key: KeyObject; readonly hash: boolean }
  | { readonly t: 'seal'; readonly id: number; readonly buf: RunBuffer; readonly len: number; readonly index: number; readonly final: boolean }
  | {
      readonly t: 'open';
      readonly id: number;
      readonly buf: RunBuffer;
      readonly len: number;
      readonly index: number;
      readonly lastIndex: number;
      readonly size: number;
    }
  | { readonly t: 'end'; readonly id: number };

export interface CryptoReply {
  readonly id: number;
  readonly buf?: RunBuffer;
  readonly len?: number;
  readonly digest?: string;
  readonly failed?: OpenedRun['failed'];
  readonly error?: string;
}

interface Stream {
  /** The raw data key, taken out of its KeyObject once per stream. */
  readonly key: Uint8Array;
  readonly hash: Hash | undefined;
}

const streams = new Map<number, Stream>();
/** See the note on memory below. */
const RUNS_PER_COLLECTION = 8;
let runsSinceCollection = 0;

const transferable = (buf: RunBuffer): ArrayBuffer[] => (buf instanceof ArrayBuffer ? [buf] : []);

function handle(req: CryptoRequest): { reply: CryptoReply; transfer: ArrayBuffer[] } | null {
  if (req.t === 'begin') {
    streams.set(req.id, { key: req.key.export(), hash: req.hash ? createHash('sha256') : undefined });
    return null;
  }
  if (req.t === 'end') {
    streams.delete(req.id);
    return null;
  }
  const s = streams.get(req.id);
  if (s === undefined) throw new Error(`unknown stream ${req.id}`);
  const buf = new Uint8Array(req.buf);
  if (req.t === 'seal') {
    const len = sealRunInPlace(s.key, buf, req.len, req.index, req.final, s.hash);
    const digest = req.final && s.hash !== undefined ? s.hash.digest('hex') : undefined;
    return { reply: { id: req.id, buf: req.buf, len, ...(digest !== undefined ? { digest } : {}) }, transfer: transferable(req.buf) };
  }
  const r = openRunInPlace(s.key, buf, req.len, req.index, req.lastIndex, req.size);
  return { reply: { id: req.id, buf: req.buf, len: r.plainLen, ...(r.failed ? { failed: r.failed } : {}) }, transfer: transferable(req.buf) };
}

const port = parentPort;
if (port !== null) {
  port.on('message', (req: CryptoRequest) => {
    let out: { reply: CryptoReply; transfer: ArrayBuffer[] } | null;
    try {
      out = handle(req);
    } catch (err) {
      streams.delete(req.id);
      out = { reply: { id: req.id, error: err instanceof Error ? err.message : String(err) }, transfer: [] };
    }
    if (out !== null) port.postMessage(out.reply, out.transfer);
    /**
     * Memory. Each request arrives with a new SharedArrayBuffer object for its run's memory, and
     * that memory lives as long as any thread still holds such an object: a dead one here keeps a
     * 1 MiB run alive after the main thread dropped it, until this thread collects its garbage,
     * which it rarely needs to on its own (measured: W4 peak RSS 520-600 MB instead of 410-440).
     * With node:crypto's cipher (where the native one was not built) every segment also costs a
     * fresh 64 KiB buffer. Collecting the young generation every RUNS_PER_COLLECTION runs keeps
     * both to that many runs' worth (after every run: W4 CPU 4.7 s per GiB instead of 4.4).
     */
    if ((req.t === 'seal' || req.t === 'open') && ++runsSinceCollection >= RUNS_PER_COLLECTION) {
      runsSinceCollection = 0;
      collectYoung?.();
    }
  });
}
