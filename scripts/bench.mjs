#!/usr/bin/env node
// `npm run bench [-- WORKLOAD…]`: the performance suite of shared/design/performance.md.
// Benchmarks measure speed and memory; they are not tests and `npm test` never runs them.
//
//   npm run bench                 every workload available (w10, w5, w6, w6-tus, …)
//   npm run bench -- w5 w6        only those
//   npm run bench -- --list       what is available
//
// Each benchmark runs as its own process, `node --import tsx bench/<file>.ts [ids…]`, which
// prints its progress and a table and, as its last line, `BENCH_RESULT {"results":[…]}` (see
// bench/lib/result.ts). This collects those, prints one summary table, and writes everything
// to .bench/results-<date>.json (git-ignored). Exit code: 0 when every selected workload
// produced its figures (whether or not it met its target; BENCH_STRICT=1 also requires that),
// 1 otherwise, 130/143 when interrupted.
//
// Environment passed through to the benchmarks: BENCH_SIZE (HTTP file size, default 1G),
// BENCH_ROUNDS (default 3), BENCH_ENC_MIB (W10 MiB per run, default 512), BENCH_BUILD=0,
// BENCH_TLS13_CIPHER, BENCH_TIMEOUT; for W1/W2 BENCH_SFTP_SIZE (default BENCH_SIZE) and
// BENCH_SFTP_CIPHER (default aes128-gcm@openssh.com); for W3/W4/W7 BENCH_W3_FILES (10000),
// BENCH_W3_SIZE (10K), BENCH_W4_SESSIONS (200), BENCH_W4_SIZE (20M), BENCH_W7_FILES (100000),
// BENCH_QUICK=1 (smaller defaults for all three; see bench/sftp-files.ts); BENCH_SFTP_PROCESSES
// (SLUICE_SFTP_PROCESSES for the Sluice under test; default: its own default).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULT_PREFIX = 'BENCH_RESULT '; // bench/lib/result.ts
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Workload id → the benchmark file that measures it, and that file's time bound. */
const WORKLOADS = {
  w10: { file: 'bench/lib/run-encryption.ts', title: 'encryption at rest (encrypt + hash, decrypt + verify) vs openssl speed', timeoutS: 900 },
  w9: {
    file: 'bench/ledger.ts',
    title:
      'ledger append rate (group commit vs one commit per caller); audit queries and incident scope over BENCH_EVENTS events (default 1M; the target: 10M), SQLite and PostgreSQL',
    timeoutS: Number(process.env.BENCH_EVENTS ?? 0) > 2_000_000 ? 6 * 3600 : 3600,
  },
  w1: { file: 'bench/sftp.ts', title: 'SFTP 1 GiB download vs OpenSSH sshd internal-sftp', timeoutS: 3000 },
  w2: { file: 'bench/sftp.ts', title: 'SFTP 1 GiB upload vs OpenSSH sshd internal-sftp', timeoutS: 3000 },
  w3: { file: 'bench/sftp-files.ts', title: 'SFTP 10,000 × 10 KiB files up, then down, one session, vs sshd', timeoutS: 5400 },
  w4: { file: 'bench/sftp-files.ts', title: 'SFTP 200 concurrent sessions × 20 MiB, half up half down, vs sshd', timeoutS: 5400 },
  w7: { file: 'bench/sftp-files.ts', title: 'listing a folder of 100,000 files over SFTP (and HTTP), vs sshd', timeoutS: 5400 },
  w5: { file: 'bench/http.ts', title: 'HTTPS 1 GiB download vs nginx', timeoutS: 3000 },
  w6: { file: 'bench/http.ts', title: 'HTTPS 1 GiB upload, raw PUT, vs nginx PUT', timeoutS: 3000 },
  'w6-tus': {
    file: 'bench/tus.ts',
    title: 'HTTPS 1 GiB upload through tus vs raw PUT (and nginx PUT); a resumed upload re-sends at most one chunk',
    timeoutS: 3000,
  },
};

const log = (msg) => console.log(`[bench] ${msg}`);

function usage() {
  return [
    'usage: npm run bench [-- WORKLOAD…]   (default: all)',
    '',
    ...Object.entries(WORKLOADS).map(([id, w]) => `  ${id.padEnd(4)} ${w.title}   (${w.file})`),
    '',
    'env: BENCH_SIZE=1G BENCH_ROUNDS=3 BENCH_ENC_MIB=512 BENCH_BUILD=0 BENCH_STRICT=1',
    '     BENCH_QUICK=1 BENCH_W3_FILES=10000 BENCH_W4_SESSIONS=200 BENCH_W4_SIZE=20M BENCH_W7_FILES=100000',
  ].join('\n');
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h') || args.includes('--list')) {
  console.log(usage());
  process.exit(0);
}
const selected = args.length ? args.map((a) => a.toLowerCase()) : Object.keys(WORKLOADS);
const unknown = selected.filter((a) => !(a in WORKLOADS));
if (unknown.length) {
  console.error(`unknown workload(s): ${unknown.join(', ')}\n${usage()}`);
  process.exit(2);
}

// Group by file, keeping the suite's order: one process per benchmark file.
const groups = new Map();
for (const id of Object.keys(WORKLOADS)) {
  if (!selected.includes(id)) continue;
  const w = WORKLOADS[id];
  const g = groups.get(w.file) ?? { file: w.file, ids: [], timeoutS: w.timeoutS };
  g.ids.push(id);
  groups.set(w.file, g);
}

let current;
let interrupted;
for (const sig of Object.keys(SIGNAL_EXIT)) {
  process.on(sig, () => {
    if (interrupted) process.exit(SIGNAL_EXIT[sig]);
    interrupted = sig;
    log(`${sig}: stopping the running benchmark (it cleans up after itself)`);
    // The child gets a terminal's Ctrl-C itself; forward in case it came from elsewhere.
    if (current?.exitCode === null) current.kill(sig);
    setTimeout(() => process.exit(SIGNAL_EXIT[sig]), 45_000).unref();
  });
}

/** Runs one benchmark file; resolves with its parsed results (or an error). */
function runGroup(g) {
  return new Promise((resolve) => {
    const argv = ['--import', 'tsx', g.file, ...(['bench/http.ts', 'bench/sftp.ts', 'bench/sftp-files.ts'].includes(g.file) ? g.ids : [])];
    log(`node ${argv.join(' ')}`);
    const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['inherit', 'pipe', 'inherit'] });
    current = child;
    let parsed;
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith(RESULT_PREFIX)) {
        try {
          parsed = JSON.parse(line.slice(RESULT_PREFIX.length));
        } catch (e) {
          console.error(`[bench] ${g.file}: unreadable result line: ${e.message}`);
        }
      } else console.log(line);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      log(`${g.file} did not finish within ${g.timeoutS} s: stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 40_000).unref();
    }, g.timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      const results = parsed?.results ?? [];
      const error =
        code === 0 && results.length
          ? undefined
          : timedOut
            ? `timed out after ${g.timeoutS} s`
            : `${g.file} exited with ${code ?? signal}${results.length ? '' : ' and no results'}`;
      resolve({ file: g.file, ids: g.ids, code, results, error });
    });
  });
}

function machine() {
  const cpus = os.cpus();
  const git = (a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8', timeout: 10_000 }).stdout?.trim() || null;
  let osName = `${os.type()} ${os.release()}`;
  try {
    osName = /^PRETTY_NAME="?([^"\n]*)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {}
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: osName,
    kernel: os.release(),
    node: process.version,
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirty: (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
  };
}

const f = (n, d) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d));

function summaryTable(results) {
  const headers = ['workload', 'Sluice', 'peer', 'unit', 'ratio', 'target', 'Sluice peak RSS MB', 'result'];
  const rows = results.map((r) => [
    `${r.id} ${r.title}`,
    f(r.sluice, 1),
    f(r.peer, 1),
    r.unit,
    r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}×`,
    r.target,
    r.sluicePeakRssMB === undefined ? '' : f(r.sluicePeakRssMB, 0),
    r.pass === null ? (r.error ? 'ERROR' : 'n/a') : r.pass ? 'pass' : 'FAIL',
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const peers = new Map();
  for (const r of results) peers.set(r.peerName, [...(peers.get(r.peerName) ?? []), r.id]);
  const peerLines = [...peers].map(([name, ids]) => `  ${ids.join(', ')}: ${name}`);
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), 'peers:', ...peerLines].join('\n');
}

const started = new Date();
const t0 = Date.now();
const outcomes = [];
for (const g of groups.values()) {
  if (interrupted) break;
  outcomes.push(await runGroup(g));
}
if (interrupted) process.exit(SIGNAL_EXIT[interrupted]);

const results = outcomes.flatMap((o) => o.results);
const failures = outcomes.filter((o) => o.error).map((o) => ({ file: o.file, workloads: o.ids, error: o.error }));
for (const r of results) if (r.error) failures.push({ file: null, workloads: [r.id], error: r.error });

console.log('');
console.log(`Sluice benchmarks, ${started.toISOString()} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
if (results.length) console.log(summaryTable(results));
for (const x of failures) console.log(`! ${x.workloads.join(', ')}: ${x.error}`);

const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*$/, '').replace('T', '-');
const outDir = path.join(ROOT, '.bench');
fs.mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, `results-${stamp}.json`);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')));
fs.writeFileSync(
  outFile,
  `${JSON.stringify({ date: started.toISOString(), seconds: Math.round((Date.now() - t0) / 1000), machine: machine(), workloads: selected, env, results, failures }, null, 2)}\n`,
);
console.log(`results written to ${path.relative(process.cwd(), outFile) || outFile}`);

const missed = results.some((r) => r.pass === false);
process.exit(failures.length || (process.env.BENCH_STRICT === '1' && missed) ? 1 : 0);
