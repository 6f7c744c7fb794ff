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
import path from 'node:path';
import { makeRandomFile, tempDir } from './lib/fixtures.js';
import { run } from './lib/exec.js';
import { startSluice } from './lib/sluice.js';
import { BUDGETS_OFF } from './lib/budgets.js';

const size = Number(process.env.BENCH_SFTP_SIZE ?? 1024 ** 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const log = (m: string) => console.log(`[cpu] ${m}`);
const dir = tempDir('sluice-bench-cpu');
const key = path.join(dir, 'id_ed25519');
await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key], { timeoutMs: 30_000 });
const big = path.join(dir, 'big.bin');
await makeRandomFile(big, size);
const s = await startSluice({ dir, log, env: { ...BUDGETS_OFF } });
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
  await s.cli(['key', 'add', s.login, `${key}.pub`]);
  const knownHosts = path.join(dir, 'known_hosts');
  const hostPub = fs.readFileSync(path.join(s.dataDir, 'keys', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${s.sftpPort} ${hostPub}\n`);
  const sftp = (commands: string) =>
    run('sftp', ['-q', '-b', '-', '-c', 'aes128-gcm@openssh.com', '-P', String(s.sftpPort), '-i', key, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'LogLevel=ERROR', `${s.login}@127.0.0.1`], { input: commands, timeoutMs: 600_000, cwd: dir });
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
    log(`${what}: ${((size / 1e6) / secs).toFixed(0)} MB/s, ${secs.toFixed(2)} s; process user ${user.toFixed(2)} s, sys ${sys.toFixed(2)} s`);
    for (const r of rows) log(r);
  };
  for (let i = 1; i <= rounds; i++) {
    await measure(`upload ${i}`, `put ${big} ${s.folder}/big.bin\n`);
    await measure(`download ${i}`, `get ${s.folder}/big.bin /dev/null\n`);
  }
} finally {
  await s.stop();
  // The server's log (e.g. with BENCH_SLUICE_NODE_ARGS="--max-semi-space-size=4 --trace-gc") is kept where BENCH_KEEP_LOG says.
  if (process.env.BENCH_KEEP_LOG) fs.copyFileSync(s.logFile, process.env.BENCH_KEEP_LOG);
  fs.rmSync(dir, { recursive: true, force: true });
}
