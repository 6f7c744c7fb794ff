/**
 * Diagnostic (not a workload): where the memory of an SFTP transfer goes. Starts Sluice, stores a
 * file (BENCH_SFTP_SIZE, default 1 GiB), then downloads it (and uploads it again) with OpenSSH sftp
 * while sampling the server's /metrics every 50 ms: resident memory, V8 heap spaces, external
 * memory and array buffers. Prints the samples at each transfer's peak RSS.
 *
 *   node --import tsx bench/sftp-memory.ts
 *   (serve's node options: BENCH_SLUICE_NODE_ARGS, default npm start's, e.g.
 *   BENCH_SLUICE_NODE_ARGS="--max-semi-space-size=4 --trace-gc" BENCH_KEEP_LOG=/tmp/gc.log)
 */
import fs from 'node:fs';
import { request } from './lib/net.js';
import { startSftpDiagnostic } from './lib/sftp-diagnostic.js';
import { envSize } from './lib/stats.js';

const size = envSize('BENCH_SFTP_SIZE', 1024 ** 3);
const log = (m: string) => console.log(`[memory] ${m}`);
const { s, big, sftp, finish } = await startSftpDiagnostic('sluice-bench-memory', size, log);
try {
  const sample = async (): Promise<Record<string, number>> => {
    const r = await request(`${s.baseUrl}/metrics`, { timeoutMs: 5000 });
    const out: Record<string, number> = {};
    // The kernel's view: anonymous memory vs mapped files; threads.
    try {
      const st = fs.readFileSync(`/proc/${s.pid}/status`, 'utf8');
      for (const k of ['RssAnon', 'RssFile', 'Threads']) {
        const m = new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st);
        if (m) out[`proc.${k}`] = k === 'Threads' ? Number(m[1]) : Number(m[1]) / 1024;
      }
    } catch {}
    for (const line of r.body.split('\n')) {
      const m =
        /^(process_resident_memory_bytes|nodejs_heap_size_total_bytes|nodejs_heap_size_used_bytes|nodejs_external_memory_bytes|nodejs_heap_space_size_total_bytes\{space="(\w+)"\}) (\S+)/.exec(
          line,
        );
      if (m) out[m[2] ? `space.${m[2]}` : m[1]!] = Number(m[3]) / 2 ** 20;
    }
    return out;
  };
  const during = async (what: string, commands: string) => {
    let stop = false;
    let peak: Record<string, number> = {};
    const sampler = (async () => {
      while (!stop) {
        const x = await sample();
        if ((x.process_resident_memory_bytes ?? 0) > (peak.process_resident_memory_bytes ?? 0)) peak = x;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const before = await sample();
    await sftp(commands);
    stop = true;
    await sampler;
    log(`${what}: MiB at peak RSS (before → peak)`);
    for (const k of Object.keys(peak).sort()) log(`  ${k.padEnd(36)} ${before[k]?.toFixed(1).padStart(7)} → ${peak[k]!.toFixed(1).padStart(7)}`);
  };
  await during('upload (first)', `put ${big} ${s.folder}/big.bin\n`);
  await during('download', `get ${s.folder}/big.bin /dev/null\n`);
  await during('download (again)', `get ${s.folder}/big.bin /dev/null\n`);
  await during('upload (again)', `put ${big} ${s.folder}/up.bin\n`);
} finally {
  await finish();
}
