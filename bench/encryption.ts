/**
 * Encryption throughput of the sealed store, against OpenSSL's own AES-256-GCM speed on this machine.
 *
 *   node --import tsx bench/encryption.ts [MiB]
 *
 * Measures one stream:
 *   - encrypt+hash: SealedStore.put of N MiB (AES-256-GCM in 64 KiB segments + SHA-256 of the plaintext)
 *   - decrypt:      SealedStore.get of the whole object, consumed and discarded
 * first over an in-memory inner store (one copy into 1 MiB blocks on put, views of them on get), so
 * the figures are those of the encryption layer, then over the real local store in a tmpfs
 * directory (/dev/shm): the whole storage path without a disk.
 *
 * "Per core" figures divide the bytes by the process's CPU time (user + system), which is how
 * `openssl speed` counts too (it divides by user CPU time unless given -elapsed), so the ratio holds
 * on a busy machine; wall-clock MB/s are shown alongside. The reference is
 * `openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3`. `openssl speed -evp sha256` is also run,
 * because SHA-256 bounds encrypt+hash: one core cannot beat 1 / (1/aes + 1/sha256).
 * MB = 10^6 bytes, as openssl counts. The best of `runs` runs is reported.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { v7 as uuidv7 } from 'uuid';
import type { BlobKey, BlobStore, ByteRange } from '../src/ports/blob-store.js';
import type { Keyring } from '../src/ports/keyring.js';
import { createEncryptedStore } from '../src/adapters/storage/encrypted-store.js';
import { createLocalStore } from '../src/adapters/storage/local-store.js';

export interface EncryptionBenchOptions {
  /** Plaintext size per run, in MiB (default 512). */
  readonly mib?: number;
  /** Timed runs of each direction; the best is reported (default 3). */
  readonly runs?: number;
  /** Size of the chunks the source yields (default 64 KiB, like an HTTP body). */
  readonly chunkBytes?: number;
  /** Seconds per `openssl speed` run (default 3); 0 skips openssl. */
  readonly opensslSeconds?: number;
  /** Directory on tmpfs for the local-store run (default /dev/shm when present); null skips it. */
  readonly tmpfsDir?: string | null;
}

/** One direction's figures, MB = 10^6 bytes. */
export interface Throughput {
  /** Bytes per CPU-second (user + system) of the best run: comparable with `openssl speed`. */
  readonly perCoreMBps: number;
  /** Bytes per wall-clock second of the same run. */
  readonly wallMBps: number;
  /** CPU seconds per wall second during that run (1.0 = one core busy). */
  readonly cpu: number;
  /** perCoreMBps / openssl AES-256-GCM (the target is ≥ 0.5), or null without openssl. */
  readonly ratio: number | null;
  /** perCoreMBps of every run. */
  readonly runs: readonly number[];
}

/**
 * The flat fields are the in-memory figures (the encryption layer itself); every "MBps" is per
 * core (bytes per CPU-second), like openssl's, unless it says Wall.
 */
export interface EncryptionBenchResult {
  readonly bytes: number;
  /** put: encrypt + SHA-256, per core, best run. */
  readonly encryptHashMBps: number;
  /** get: decrypt + verify, per core, best run. */
  readonly decryptMBps: number;
  readonly encryptHashWallMBps: number;
  readonly decryptWallMBps: number;
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
  /** One core's ceiling for encrypt+hash from openssl's figures, 1/(1/aes + 1/sha256), or null. */
  readonly encryptHashCeilingMBps: number | null;
  /** Per-core MB/s of every timed run. */
  readonly runsEncryptMBps: readonly number[];
  readonly runsDecryptMBps: readonly number[];
  /** The in-memory figures as Throughput records (the same numbers as the flat fields). */
  readonly memory: { readonly encryptHash: Throughput; readonly decrypt: Throughput };
  /** The same over the real local store (write, fsync, rename; read) in tmpfs, or null if skipped. */
  readonly tmpfs: { readonly dir: string; readonly encryptHash: Throughput; readonly decrypt: Throughput } | null;
}

const MiB = 1024 * 1024;

export async function runEncryptionBench(opts: EncryptionBenchOptions = {}): Promise<EncryptionBenchResult> {
  const bytes = Math.round((opts.mib ?? 512) * MiB);
  const runs = opts.runs ?? 3;
  const chunkBytes = opts.chunkBytes ?? 64 * 1024;
  const opensslSeconds = opts.opensslSeconds ?? 3;
  const tmpfsDir = opts.tmpfsDir === undefined ? (existsSync('/dev/shm') ? '/dev/shm' : null) : opts.tmpfsDir;

  // openssl first: it is the reference, measured before this process has warmed anything up.
  const aes = opensslSeconds > 0 ? await opensslSpeed('aes-256-gcm', opensslSeconds) : null;
  const sha = opensslSeconds > 0 ? await opensslSpeed('sha256', opensslSeconds) : null;

  const kek = { id: 'bench-kek', key: randomBytes(32) };
  const keyring: Keyring = { current: () => kek, get: (id) => (id === kek.id ? kek : undefined) };
  const pool = randomBytes(8 * MiB);
  const run = (inner: BlobStore) => measure(inner, keyring, pool, { bytes, runs, chunkBytes, aes });

  const memory = await run(createBlockStore());
  let tmpfs: EncryptionBenchResult['tmpfs'] = null;
  if (tmpfsDir !== null) {
    const dir = await mkdtemp(join(tmpfsDir, 'sluice-bench-'));
    try {
      tmpfs = { dir: tmpfsDir, ...(await run(createLocalStore({ dir }))) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return {
    bytes,
    encryptHashMBps: memory.encryptHash.perCoreMBps,
    decryptMBps: memory.decrypt.perCoreMBps,
    encryptHashWallMBps: memory.encryptHash.wallMBps,
    decryptWallMBps: memory.decrypt.wallMBps,
    encryptCpu: memory.encryptHash.cpu,
    decryptCpu: memory.decrypt.cpu,
    encryptRatio: memory.encryptHash.ratio,
    decryptRatio: memory.decrypt.ratio,
    runsEncryptMBps: memory.encryptHash.runs,
    runsDecryptMBps: memory.decrypt.runs,
    memory,
    tmpfs,
    opensslAesGcmMBps: aes,
    opensslSha256MBps: sha,
    encryptHashCeilingMBps: aes === null || sha === null ? null : 1 / (1 / aes + 1 / sha),
  };
}

interface Timing {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

/** Best-of-`runs` put and get of `bytes` through a sealed store over `inner`. */
async function measure(
  inner: BlobStore,
  keyring: Keyring,
  pool: Buffer,
  o: { bytes: number; runs: number; chunkBytes: number; aes: number | null },
): Promise<{ encryptHash: Throughput; decrypt: Throughput }> {
  const store = createEncryptedStore({ inner, keyring });

  async function* source(total: number): AsyncGenerator<Uint8Array> {
    for (let off = 0; off < total; off += o.chunkBytes) {
      const at = off % pool.length;
      yield pool.subarray(at, Math.min(at + o.chunkBytes, at + total - off, pool.length));
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

  await once(Math.min(o.bytes, 32 * MiB)); // warm-up
  const enc: Timing[] = [];
  const dec: Timing[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = await once(o.bytes);
    enc.push(r.enc);
    dec.push(r.dec);
  }
  const summary = (ts: Timing[]): Throughput => {
    const perCore = (t: Timing) => o.bytes / t.cpuSeconds / 1e6;
    const best = ts.reduce((a, b) => (perCore(a) >= perCore(b) ? a : b));
    return {
      perCoreMBps: perCore(best),
      wallMBps: o.bytes / best.seconds / 1e6,
      cpu: best.cpuSeconds / best.seconds,
      ratio: o.aes === null ? null : perCore(best) / o.aes,
      runs: ts.map(perCore),
    };
  };
  return { encryptHash: summary(enc), decrypt: summary(dec) };
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
 * An in-memory BlobStore for this bench: put copies the bytes into 1 MiB blocks (as a real store
 * copies them into the page cache), get streams views of those blocks. No validation, no atomicity.
 */
function createBlockStore(): BlobStore {
  const BLOCK = MiB;
  const objects = new Map<string, { blocks: Buffer[]; size: number }>();
  return {
    kind: 'bench-memory',
    async put(key, source) {
      const blocks: Buffer[] = [];
      let block = Buffer.allocUnsafe(BLOCK);
      let fill = 0;
      let size = 0;
      for await (const c of source) {
        size += c.byteLength;
        let pos = 0;
        while (pos < c.byteLength) {
          if (fill === BLOCK) {
            blocks.push(block);
            block = Buffer.allocUnsafe(BLOCK);
            fill = 0;
          }
          const n = Math.min(BLOCK - fill, c.byteLength - pos);
          block.set(c.subarray(pos, pos + n), fill);
          fill += n;
          pos += n;
        }
      }
      blocks.push(block.subarray(0, fill));
      objects.set(key, { blocks, size });
      return { size };
    },
    async get(key: BlobKey, range?: ByteRange) {
      const o = objects.get(key);
      if (o === undefined) throw new Error('not found');
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? o.size - 1, o.size - 1);
      function* slices(): Generator<Buffer> {
        for (let b = Math.floor(start / BLOCK); b * BLOCK <= end; b++) {
          const block = o!.blocks[b]!;
          const from = Math.max(start - b * BLOCK, 0);
          const to = Math.min(end + 1 - b * BLOCK, block.length);
          if (to > from) yield block.subarray(from, to);
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

export function formatEncryptionBench(r: EncryptionBenchResult): string {
  const f = (n: number | null | undefined, d = 0) => (n === null || n === undefined ? 'n/a' : n.toFixed(d));
  const aes = r.opensslAesGcmMBps;
  const rel = (n: number | null) => (n === null || aes === null ? null : n / aes);
  const rows: Array<[string, string, string, string]> = [
    ['openssl aes-256-gcm, 16 KiB blocks', f(aes), '', f(rel(aes), 2)],
    ['openssl sha256, 16 KiB blocks', f(r.opensslSha256MBps), '', f(rel(r.opensslSha256MBps), 2)],
    ['ceiling for encrypt+hash on one core', f(r.encryptHashCeilingMBps), '', f(rel(r.encryptHashCeilingMBps), 2)],
  ];
  const add = (label: string, t: Throughput) => rows.push([label, f(t.perCoreMBps), f(t.wallMBps), f(t.ratio, 2)]);
  rows.push(['sluice encrypt+hash, in-memory store', f(r.encryptHashMBps), f(r.encryptHashWallMBps), f(r.encryptRatio, 2)]);
  rows.push(['sluice decrypt, in-memory store', f(r.decryptMBps), f(r.decryptWallMBps), f(r.decryptRatio, 2)]);
  if (r.tmpfs !== null) {
    add(`sluice encrypt+hash, local store on ${r.tmpfs.dir}`, r.tmpfs.encryptHash);
    add(`sluice decrypt, local store on ${r.tmpfs.dir}`, r.tmpfs.decrypt);
  }
  const w = Math.max(...rows.map((x) => x[0].length));
  const head = `${'measure'.padEnd(w)}  ${'MB/s/core'.padStart(9)}  ${'MB/s wall'.padStart(9)}  ${'× openssl'.padStart(9)}`;
  const lines = [head, '-'.repeat(head.length)];
  for (const [a, b, c, d] of rows) lines.push(`${a.padEnd(w)}  ${b.padStart(9)}  ${c.padStart(9)}  ${d.padStart(9)}`);
  const runs = (xs: readonly number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  lines.push(
    `${r.bytes / MiB} MiB per run; CPU in use ${r.encryptCpu.toFixed(2)} (encrypt), ${r.decryptCpu.toFixed(2)} (decrypt); ` +
      `per-core MB/s of each run (in-memory): encrypt+hash ${runs(r.runsEncryptMBps)}; decrypt ${runs(r.runsDecryptMBps)}`,
  );
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const mibArg = process.argv[2];
  const result = await runEncryptionBench(mibArg === undefined ? {} : { mib: Number(mibArg) });
  console.log(formatEncryptionBench(result));
}
