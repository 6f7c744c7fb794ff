/**
 * Encryption throughput of the sealed store, against OpenSSL's own AES-256-GCM speed on this machine.
 *
 *   node --import tsx bench/encryption.ts [MiB]
 *
 * Measures, on one stream (one core for the crypto work):
 *   - encrypt+hash: SealedStore.put of N MiB (AES-256-GCM in 64 KiB segments + SHA-256 of the plaintext)
 *   - decrypt:      SealedStore.get of the whole object, consumed and discarded
 * over an in-memory inner store that keeps the chunks it is given (no copies), so the figures are
 * those of the encryption layer. The reference is `openssl speed -evp aes-256-gcm -bytes 16384
 * -seconds 3` (single-threaded); `openssl speed -evp sha256` is also run, because SHA-256 sets the
 * ceiling for encrypt+hash: a single core cannot beat 1 / (1/aes + 1/sha256).
 * MB = 10^6 bytes, as openssl counts.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { v7 as uuidv7 } from 'uuid';
import type { BlobKey, BlobStore, ByteRange } from '../src/ports/blob-store.js';
import type { Keyring } from '../src/ports/keyring.js';
import { createEncryptedStore } from '../src/adapters/storage/encrypted-store.js';

export interface EncryptionBenchOptions {
  /** Plaintext size per run, in MiB (default 512). */
  readonly mib?: number;
  /** Timed runs of each direction; the best is reported (default 3). */
  readonly runs?: number;
  /** Size of the chunks the source yields (default 64 KiB, like an HTTP body). */
  readonly chunkBytes?: number;
  /** Seconds per `openssl speed` run (default 3); 0 skips openssl. */
  readonly opensslSeconds?: number;
}

export interface EncryptionBenchResult {
  readonly bytes: number;
  /** MB/s (10^6 bytes) of put: encrypt + SHA-256. Best run. */
  readonly encryptHashMBps: number;
  /** MB/s of get: decrypt + verify. Best run. */
  readonly decryptMBps: number;
  /** CPU seconds per wall second during the best runs (1.0 = one core). */
  readonly encryptCpu: number;
  readonly decryptCpu: number;
  /** `openssl speed -evp aes-256-gcm -bytes 16384` in MB/s, or null if openssl is unavailable. */
  readonly opensslAesGcmMBps: number | null;
  /** `openssl speed -evp sha256 -bytes 16384` in MB/s, or null. */
  readonly opensslSha256MBps: number | null;
  /** encryptHashMBps / opensslAesGcmMBps (target ≥ 0.5), or null. */
  readonly encryptRatio: number | null;
  /** decryptMBps / opensslAesGcmMBps (target ≥ 0.5), or null. */
  readonly decryptRatio: number | null;
  /** Single-core ceiling for encrypt+hash from openssl's figures, 1/(1/aes + 1/sha256), or null. */
  readonly encryptHashCeilingMBps: number | null;
  readonly runsEncryptMBps: readonly number[];
  readonly runsDecryptMBps: readonly number[];
}

const MiB = 1024 * 1024;

export async function runEncryptionBench(opts: EncryptionBenchOptions = {}): Promise<EncryptionBenchResult> {
  const bytes = (opts.mib ?? 512) * MiB;
  const runs = opts.runs ?? 3;
  const chunkBytes = opts.chunkBytes ?? 64 * 1024;
  const opensslSeconds = opts.opensslSeconds ?? 3;

  const inner = createRetainingStore();
  const kek = { id: 'bench-kek', key: randomBytes(32) };
  const keyring: Keyring = { current: () => kek, get: (id) => (id === kek.id ? kek : undefined) };
  const store = createEncryptedStore({ inner, keyring });
  const pool = randomBytes(8 * MiB);

  async function* source(total: number): AsyncGenerator<Uint8Array> {
    for (let off = 0; off < total; off += chunkBytes) {
      const at = off % pool.length;
      yield pool.subarray(at, Math.min(at + chunkBytes, at + total - off, pool.length));
    }
  }

  async function once(total: number): Promise<{ enc: Timing; dec: Timing }> {
    const key = uuidv7() as BlobKey;
    const enc = await timed(async () => {
      const res = await store.put(key, source(total));
      if (res.size !== total) throw new Error('size mismatch');
    });
    const dec = await timed(async () => {
      let n = 0;
      for await (const c of await store.get(key, total)) n += (c as Buffer).length;
      if (n !== total) throw new Error(`read ${n} of ${total} bytes`);
    });
    await inner.delete(key);
    return { enc, dec };
  }

  await once(Math.min(bytes, 32 * MiB)); // warm-up
  const encRuns: Timing[] = [];
  const decRuns: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(bytes);
    encRuns.push(r.enc);
    decRuns.push(r.dec);
  }
  const mbps = (t: Timing) => bytes / t.seconds / 1e6;
  const best = (ts: Timing[]) => ts.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
  const bestEnc = best(encRuns);
  const bestDec = best(decRuns);

  const aes = opensslSeconds > 0 ? await opensslSpeed('aes-256-gcm', opensslSeconds) : null;
  const sha = opensslSeconds > 0 ? await opensslSpeed('sha256', opensslSeconds) : null;
  const encryptHashMBps = mbps(bestEnc);
  const decryptMBps = mbps(bestDec);
  return {
    bytes,
    encryptHashMBps,
    decryptMBps,
    encryptCpu: bestEnc.cpuSeconds / bestEnc.seconds,
    decryptCpu: bestDec.cpuSeconds / bestDec.seconds,
    opensslAesGcmMBps: aes,
    opensslSha256MBps: sha,
    encryptRatio: aes === null ? null : encryptHashMBps / aes,
    decryptRatio: aes === null ? null : decryptMBps / aes,
    encryptHashCeilingMBps: aes === null || sha === null ? null : 1 / (1 / aes + 1 / sha),
    runsEncryptMBps: encRuns.map(mbps),
    runsDecryptMBps: decRuns.map(mbps),
  };
}

interface Timing {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

async function timed(fn: () => Promise<void>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

/** `openssl speed -evp <alg> -bytes 16384 -seconds <s>` in MB/s, or null if it cannot be run or parsed. */
async function opensslSpeed(alg: 'aes-256-gcm' | 'sha256', seconds: number): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('openssl', ['speed', '-evp', alg, '-bytes', '16384', '-seconds', String(seconds)], {
      timeout: (seconds + 30) * 1000,
    });
    return parseOpensslSpeed(stdout, alg);
  } catch {
    return null;
  }
}

/** Parses the result line of `openssl speed` ("AES-256-GCM  3572066.99k", in 1000s of bytes/s) into MB/s. */
export function parseOpensslSpeed(output: string, alg: string): number | null {
  const name = alg.toLowerCase();
  for (const line of output.split('\n')) {
    const m = /^(\S+)\s+([\d.]+)k\s*$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined && m[1].toLowerCase() === name) return Number(m[2]) / 1000;
  }
  return null;
}

/**
 * An in-memory BlobStore that keeps the chunks it is given by reference. Only for this bench: it
 * relies on the sealed store yielding fresh buffers (it does), which a general store must not.
 */
function createRetainingStore(): BlobStore {
  const objects = new Map<string, { chunks: Uint8Array[]; size: number }>();
  return {
    kind: 'bench-memory',
    async put(key, source) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const c of source) {
        chunks.push(c);
        size += c.byteLength;
      }
      objects.set(key, { chunks, size });
      return { size };
    },
    async get(key: BlobKey, range?: ByteRange) {
      const o = objects.get(key);
      if (o === undefined) throw new Error('not found');
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? o.size - 1, o.size - 1);
      function* slices(): Generator<Buffer> {
        let off = 0;
        for (const c of o!.chunks) {
          const from = Math.max(start - off, 0);
          const to = Math.min(end + 1 - off, c.byteLength);
          if (to > from) yield Buffer.from(c.buffer, c.byteOffset + from, to - from);
          off += c.byteLength;
          if (off > end) break;
        }
      }
      return Readable.from(slices(), { objectMode: false });
    },
    async stat(key) {
      const o = objects.get(key);
      return o === undefined ? null : { size: o.size };
    },
    async delete(key) {
      objects.delete(key);
    },
    async *keys() {
      for (const k of objects.keys()) yield k as BlobKey;
    },
    async sweepTemp() {
      return 0;
    },
    async check() {},
  };
}

function formatTable(r: EncryptionBenchResult): string {
  const f = (n: number | null, d = 0) => (n === null ? 'n/a' : n.toFixed(d));
  const rows: Array<[string, string, string]> = [
    ['openssl aes-256-gcm (16 KiB, 1 core)', f(r.opensslAesGcmMBps), '1.00'],
    ['openssl sha256 (16 KiB, 1 core)', f(r.opensslSha256MBps), f(r.opensslSha256MBps && r.opensslAesGcmMBps && r.opensslSha256MBps / r.opensslAesGcmMBps, 2)],
    ['ceiling encrypt+hash, 1 core', f(r.encryptHashCeilingMBps), f(r.encryptHashCeilingMBps && r.opensslAesGcmMBps && r.encryptHashCeilingMBps / r.opensslAesGcmMBps, 2)],
    [`sluice encrypt+hash (cpu ${r.encryptCpu.toFixed(2)})`, f(r.encryptHashMBps), f(r.encryptRatio, 2)],
    [`sluice decrypt (cpu ${r.decryptCpu.toFixed(2)})`, f(r.decryptMBps), f(r.decryptRatio, 2)],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  const lines = [`${'measure'.padEnd(w)}  ${'MB/s'.padStart(8)}  ${'× openssl'.padStart(9)}`];
  for (const [a, b, c] of rows) lines.push(`${a.padEnd(w)}  ${b.padStart(8)}  ${c.padStart(9)}`);
  lines.push(
    `${r.bytes / MiB} MiB per run; runs encrypt+hash ${r.runsEncryptMBps.map((x) => x.toFixed(0)).join(', ')} MB/s; decrypt ${r.runsDecryptMBps.map((x) => x.toFixed(0)).join(', ')} MB/s`,
  );
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const mibArg = process.argv[2];
  const result = await runEncryptionBench(mibArg === undefined ? {} : { mib: Number(mibArg) });
  console.log(formatTable(result));
}
