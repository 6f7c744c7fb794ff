/**
 * Diagnostic (not a workload): where the server's CPU of an SFTP transfer goes, per thread. Starts
 * Sluice, then uploads and downloads a file (BENCH_SFTP_SIZE, default 1 GiB) with OpenSSH sftp,
 * BENCH_ROUNDS times each, and prints for every transfer the user and system CPU seconds of each
 * thread of the serve process that used any (main thread, crypto workers, libuv's pool), from
 * /proc/PID/task/TID/stat.
 *
 *   node --import tsx bench/sftp-cpu.ts
 *   (serve's node options: BENCH_SLUICE_NODE_ARGS; its log kept with BENCH_KEEP_LOG=FILE)
 */
import fs from 'node:fs';
import { startSftpDiagnostic } from './lib/sftp-diagnostic.js';
import { envSize } from './lib/stats.js';

const size = envSize('BENCH_SFTP_SIZE', 1024 ** 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const log = (m: string) => console.log(`[cpu] ${m}`);
const { s, big, sftp, finish } = await startSftpDiagnostic('sluice-bench-cpu', size, log);
const TICK = 100; // USER_HZ on Linux

/** user and system seconds of each thread, by "tid name". */
function threads(): Map<string, { user: number; sys: number }> {
  const out = new Map<string, { user: number; sys: number }>();
  for (const tid of fs.readdirSync(`/proc/${s.pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${s.pid}/task/${tid}/stat`, 'utf8');
      const close = st.lastIndexOf(')');
      const name = st.slice(st.indexOf('(') + 1, close);
      const f = st.slice(close + 2).split(' ');
      out.set(`${tid} ${name}`, { user: Number(f[11]) / TICK, sys: Number(f[12]) / TICK });
    } catch {}
  }
  return out;
}
try {
  const measure = async (what: string, commands: string) => {
    const before = threads();
    const t0 = performance.now();
    await sftp(commands);
    const secs = (performance.now() - t0) / 1000;
    const after = threads();
    let user = 0;
    let sys = 0;
    const rows: string[] = [];
    for (const [k, a] of after) {
      const b = before.get(k) ?? { user: 0, sys: 0 };
      const du = a.user - b.user;
      const ds = a.sys - b.sys;
      user += du;
      sys += ds;
      if (du + ds >= 0.02) rows.push(`    ${k.padEnd(24)} user ${du.toFixed(2)}  sys ${ds.toFixed(2)}`);
    }
    log(`${what}: ${(size / 1e6 / secs).toFixed(0)} MB/s, ${secs.toFixed(2)} s; process user ${user.toFixed(2)} s, sys ${sys.toFixed(2)} s`);
    for (const r of rows) log(r);
  };
  for (let i = 1; i <= rounds; i++) {
    await measure(`upload ${i}`, `put ${big} ${s.folder}/big.bin\n`);
    await measure(`download ${i}`, `get ${s.folder}/big.bin /dev/null\n`);
  }
} finally {
  await finish();
}
