/**
 * W10 for scripts/bench.mjs: runs runEncryptionBench() from bench/encryption.ts (owned there;
 * this only calls it), prints its own table, and hands its figures over as workload rows:
 * encrypt+hash and decrypt+verify per core, against `openssl speed -evp aes-256-gcm` on one core
 * (target ≥ 0.5×), over the in-memory store (the encryption layer alone) and, when measured, over
 * the real local store on tmpfs.
 *
 *   node --import tsx bench/lib/run-encryption.ts        BENCH_ENC_MIB=512 (MiB per run)
 */
import { formatEncryptionBench, runEncryptionBench, type Throughput } from '../encryption.js';
import { emitResults, type WorkloadResult } from './result.js';
import { envInt } from './stats.js';

const TARGET = 0.5;

const r = await runEncryptionBench({ mib: envInt('BENCH_ENC_MIB', 512) });
console.log(formatEncryptionBench(r));

const row = (id: string, title: string, t: Throughput): WorkloadResult => ({
  id,
  title,
  unit: 'MB/s/core',
  sluice: t.perCoreMBps,
  peerName: 'openssl speed -evp aes-256-gcm (16 KiB blocks, one core)',
  peer: r.opensslAesGcmMBps,
  ratio: t.ratio,
  targetRatio: TARGET,
  target: `≥ ${TARGET}×`,
  pass: t.ratio === null ? null : t.ratio >= TARGET,
  ...(r.opensslAesGcmMBps === null ? { error: 'openssl speed could not be run: no ratio' } : {}),
  details: {
    bytes: r.bytes,
    wallMBps: t.wallMBps,
    cpuCores: t.cpu,
    runsPerCoreMBps: t.runs,
    opensslSha256MBps: r.opensslSha256MBps,
    encryptHashCeilingMBps: r.encryptHashCeilingMBps,
  },
});

// The flat fields are the in-memory figures (the encryption layer itself).
const results: WorkloadResult[] = [
  row('w10', 'encrypt + SHA-256 (in-memory store)', {
    perCoreMBps: r.encryptHashMBps,
    wallMBps: r.encryptHashWallMBps,
    cpu: r.encryptCpu,
    ratio: r.encryptRatio,
    runs: r.runsEncryptMBps,
  }),
  row('w10-decrypt', 'decrypt + verify (in-memory store)', {
    perCoreMBps: r.decryptMBps,
    wallMBps: r.decryptWallMBps,
    cpu: r.decryptCpu,
    ratio: r.decryptRatio,
    runs: r.runsDecryptMBps,
  }),
];
if (r.tmpfs !== null) {
  results.push(
    row('w10-local', `encrypt + SHA-256 (local store, ${r.tmpfs.dir})`, r.tmpfs.encryptHash),
    row('w10-local-decrypt', `decrypt + verify (local store, ${r.tmpfs.dir})`, r.tmpfs.decrypt),
  );
}
emitResults(results);
