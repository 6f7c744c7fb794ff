/**
 * W1 (SFTP 1 GiB download) and W2 (SFTP 1 GiB upload): Sluice side by side with OpenSSH's sshd
 * (internal-sftp) on loopback, the same client (OpenSSH sftp in batch mode, one pinned cipher,
 * key authentication), alternating runs.
 *
 *   node --import tsx bench/sftp.ts [w1] [w2]        (or: npm run bench -- w1 w2)
 *
 * Environment:
 *   BENCH_SFTP_SIZE=1G     size of the random file (falls back to BENCH_SIZE; 256M for a quick run)
 *   BENCH_ROUNDS=3         rounds; each round runs Sluice then sshd (A B A B …)
 *   BENCH_SFTP_CIPHER=aes128-gcm@openssh.com   the client's only cipher (chacha20-poly1305@openssh.com also offered by both)
 *   BENCH_BUILD=0          do not run `npm run build` first (use dist/ as it is, or tsx)
 *   BENCH_TIMEOUT=2700     overall bound in seconds
 *   BENCH_SLUICE_PROF=DIR  run Sluice's serve with --cpu-prof; the profile is written to DIR at the end
 *
 * Per transfer: wall time of the whole `sftp` process (connect, key exchange, sign-in, transfer,
 * exit) → MB/s = bytes / seconds / 10^6; the server's process tree (Sluice: the serve process;
 * sshd: the listener and the session processes it forks) sampled every 100 ms for peak RSS and
 * CPU seconds. Downloads go to /dev/null on the client for both. Sluice stores with encryption at
 * rest (AES-256-GCM, SHA-256) and the ledger on; sshd writes the plain file. Reported: medians,
 * ratio = Sluice / sshd, CPU s/GiB, Sluice's peak RSS. Untimed, once per server: the download is
 * verified by SHA-256; every upload's stored SHA-256 is checked.
 *
 * Prints a table, then (last line) the figures for scripts/bench.mjs: BENCH_RESULT {json}.
 * sshd, Sluice and the temp dir are cleaned up on success, failure, Ctrl-C and timeout.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanupProcess, deadline, runCleanup } from './lib/cleanup.js';
import { ensureCommands, run, which } from './lib/exec.js';
import { makeRandomFile, tempDir } from './lib/fixtures.js';
import { freePort, request } from './lib/net.js';
import { isAlive, processTree, readRssBytes, sleep, startSampler, type SampleResult } from './lib/proc.js';
import { logTransfer, runRounds, transferFigures, type TransferRun } from './lib/ab-rounds.js';
import { emitResults, type WorkloadResult } from './lib/result.js';
import { startSluice, SluiceUnavailable, type Sluice } from './lib/sluice.js';
import { envInt, envSize, fmt, formatBytes, GiB, MB } from './lib/stats.js';
import { formatTable } from './lib/table.js';
import { BUDGETS_OFF } from './lib/budgets.js';

export type SftpWorkload = 'w1' | 'w2';

const TARGET_RATIO = 1.0;
const RSS_LIMIT_MB = 200;

interface Server {
  readonly name: 'sluice' | 'sshd';
  /** Process whose tree is sampled. */
  readonly pid: number;
  readonly port: number;
  readonly user: string;
  /** Remote path of the file to download, and of the upload target. */
  readonly downloadPath: string;
  readonly uploadPath: string;
  /** SHA-256 of the stored upload (untimed). */
  uploadedSha(): Promise<string>;
  removeUpload(): Promise<void>;
}

type Run = TransferRun<'sluice' | 'sshd'>;

const nowIso = () => new Date().toISOString().slice(11, 19);
const defaultLog = (msg: string) => process.stderr.write(`[sftp ${nowIso()}] ${msg}\n`);

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(c as Buffer);
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// OpenSSH sshd with internal-sftp
// ---------------------------------------------------------------------------------------------

export interface Sshd {
  readonly pid: number;
  readonly port: number;
  readonly version: string;
  readonly hostKeyLine: string;
}

export async function startSshd(dir: string, clientPub: string, log: (m: string) => void): Promise<Sshd> {
  const sshdBin = which('sshd');
  if (!sshdBin) throw new Error('sshd not found; install the Debian package "openssh-server"');
  const sdir = path.join(dir, 'sshd');
  fs.mkdirSync(sdir, { recursive: true, mode: 0o700 });
  const hostKey = path.join(sdir, 'ssh_host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey], { timeoutMs: 30_000 });
  const authorized = path.join(sdir, 'authorized_keys');
  fs.writeFileSync(authorized, `${clientPub.trim()}\n`, { mode: 0o600 });
  // Privilege separation needs its empty directory (normally made by the service unit).
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const conf = path.join(sdir, 'sshd_config');
  fs.writeFileSync(
    conf,
    [
      '# written by bench/sftp.ts: a throwaway sshd on loopback for the SFTP comparison',
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(sdir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'X11Forwarding no',
      'AllowTcpForwarding no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      // The same transport choices Sluice offers, so neither side is favoured by the offer.
      'KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org',
      'Ciphers aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com',
      'MaxStartups 300:30:400',
      'MaxSessions 20',
      '',
    ].join('\n'),
  );
  const v = await run(sshdBin, ['-V'], { allowFail: true, timeoutMs: 10_000 });
  const version = /OpenSSH_\S+/.exec(v.stderr + v.stdout)?.[0] ?? 'OpenSSH';
  await run(sshdBin, ['-t', '-f', conf], { timeoutMs: 10_000 });
  const logFile = path.join(sdir, 'sshd.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(sshdBin, ['-D', '-e', '-f', conf], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('sshd could not be started');
  let exited = false;
  child.on('exit', () => (exited = true));
  cleanupProcess('sshd', pid, 5_000);
  const until = Date.now() + 20_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) break;
    if (exited || !isAlive(pid) || Date.now() > until)
      throw new Error(`sshd did not start:\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : ''}`);
    await sleep(100);
  }
  log(`${version} sshd (internal-sftp) on 127.0.0.1:${port} (pid ${pid})`);
  const pub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  return { pid, port, version, hostKeyLine: `[127.0.0.1]:${port} ${pub}` };
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

export interface SftpBenchOptions {
  readonly sizeBytes?: number;
  readonly rounds?: number;
  readonly workloads?: readonly SftpWorkload[];
  readonly cipher?: string;
  readonly log?: (msg: string) => void;
}

export async function runSftpBench(opts: SftpBenchOptions = {}): Promise<WorkloadResult[]> {
  const log = opts.log ?? defaultLog;
  const size = opts.sizeBytes ?? envSize('BENCH_SFTP_SIZE', envSize('BENCH_SIZE', GiB));
  const rounds = opts.rounds ?? envInt('BENCH_ROUNDS', 3);
  const workloads = opts.workloads ?? ['w1', 'w2'];
  const cipher = opts.cipher ?? (process.env.BENCH_SFTP_CIPHER || 'aes128-gcm@openssh.com');
  const maxMs = (60 + size / (2 * MB)) * 1000;

  await ensureCommands({ sftp: 'openssh-client', 'ssh-keygen': 'openssh-client', sshd: 'openssh-server' }, log);
  const clientVersion = /OpenSSH_\S+/.exec((await run('ssh', ['-V'], { allowFail: true, timeoutMs: 10_000 })).stderr)?.[0] ?? 'OpenSSH';

  const dir = tempDir('sluice-bench-sftp');
  const key = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key], { timeoutMs: 30_000 });
  const pub = fs.readFileSync(`${key}.pub`, 'utf8');
  const big = path.join(dir, 'big.bin');
  log(`making a ${formatBytes(size)} random file`);
  const bigSha = await makeRandomFile(big, size);
  const knownHosts = path.join(dir, 'known_hosts');

  // sshd serves the same file from its own directory (a hard link: same disk, same bytes).
  const sshd = await startSshd(dir, pub, log);
  const sshdFiles = path.join(dir, 'sshd-files');
  fs.mkdirSync(sshdFiles);
  fs.linkSync(big, path.join(sshdFiles, 'big.bin'));
  const me = os.userInfo().username;
  const sshdServer: Server = {
    name: 'sshd',
    pid: sshd.pid,
    port: sshd.port,
    user: me,
    downloadPath: path.join(sshdFiles, 'big.bin'),
    uploadPath: path.join(sshdFiles, 'up.bin'),
    uploadedSha: () => sha256File(path.join(sshdFiles, 'up.bin')),
    async removeUpload() {
      fs.rmSync(path.join(sshdFiles, 'up.bin'), { force: true });
    },
  };
  fs.writeFileSync(knownHosts, `${sshd.hostKeyLine}\n`);

  const sftpRun = async (srv: Server, commands: string, timeoutMs = maxMs) => {
    const t0 = process.hrtime.bigint();
    const r = await run(
      'sftp',
      [
        '-q',
        '-b',
        '-',
        '-c',
        cipher,
        '-P',
        String(srv.port),
        '-i',
        key,
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'IdentityAgent=none',
        '-o',
        'LogLevel=ERROR',
        `${srv.user}@127.0.0.1`,
      ],
      { input: commands, timeoutMs, cwd: dir, allowFail: true },
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.code !== 0) throw new Error(`${srv.name}: sftp exited with ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-4).join(' | ')}`);
    return seconds;
  };

  let sluice: Sluice | undefined;
  let sluiceError: string | undefined;
  let sluiceServer: Server | undefined;
  try {
    const prof = process.env.BENCH_SLUICE_PROF; // a directory: serve runs with --cpu-prof, the profile lands there when it stops
    // Download budgets (5 GB per user and hour by default) would stop W1 after four 1 GiB rounds.
    sluice = await startSluice({ dir, log, env: { ...BUDGETS_OFF }, ...(prof ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(prof)}`] } : {}) });
    const s = sluice;
    await s.cli(['key', 'add', s.login, `${key}.pub`]);
    const status = JSON.parse(await s.cli(['status', '--json'])) as { sshHostKeys?: { type: string }[] };
    if (!status.sshHostKeys?.length) throw new Error('sluice status lists no SSH host keys');
    const hostPub = fs
      .readFileSync(path.join(s.dataDir, 'keys', 'ssh_host_ed25519_key.pub'), 'utf8')
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');
    fs.appendFileSync(knownHosts, `[127.0.0.1]:${s.sftpPort} ${hostPub}\n`);
    const stat = async (p: string) => {
      const r = await request(`${s.baseUrl}/api/v1/fs-ops/stat?path=${encodeURIComponent(p)}`, {
        headers: { Authorization: `Bearer ${s.token}` },
        timeoutMs: 30_000,
      });
      if (r.status !== 200) throw new Error(`stat ${p}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      return JSON.parse(r.body) as { size: number; sha256: string };
    };
    sluiceServer = {
      name: 'sluice',
      pid: s.pid,
      port: s.sftpPort,
      user: s.login,
      downloadPath: `${s.folder}/big.bin`,
      uploadPath: `${s.folder}/up.bin`,
      uploadedSha: async () => (await stat(`${s.folder}/up.bin`)).sha256,
      async removeUpload() {
        const r = await request(`${s.baseUrl}/api/v1/fs${s.folder}/up.bin`, {
          method: 'DELETE',
          headers: { Authorization: `Bearer ${s.token}` },
          timeoutMs: 60_000,
        });
        if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE up.bin: ${r.status} ${r.body.slice(0, 200)}`);
      },
    };
    log('uploading the download file to Sluice over SFTP (untimed)');
    await sftpRun(sluiceServer, `put ${big} ${s.folder}/big.bin\n`);
    const st = await stat(`${s.folder}/big.bin`);
    if (st.size !== size || st.sha256 !== bigSha) throw new Error(`Sluice stored size ${st.size}, sha256 ${st.sha256}; expected ${size}, ${bigSha}`);
  } catch (e) {
    sluiceError = e instanceof SluiceUnavailable ? `Sluice unavailable: ${e.message}` : `Sluice could not be set up: ${(e as Error).message}`;
    log(`${sluiceError}\n  → measuring sshd alone`);
    sluiceServer = undefined;
    await sluice?.stop();
  }
  const servers = sluiceServer ? [sluiceServer, sshdServer] : [sshdServer];

  // Verify the download once per server (untimed; also the warm-up).
  for (const srv of servers) {
    const copy = path.join(dir, `check-${srv.name}.bin`);
    await sftpRun(srv, `get ${srv.downloadPath} ${copy}\n`);
    const got = await sha256File(copy);
    fs.rmSync(copy);
    if (got !== bigSha) throw new Error(`${srv.name}: downloaded sha256 ${got}, expected ${bigSha}`);
    log(`${srv.name}: download verified (sha256 ${bigSha.slice(0, 16)}…)`);
  }

  const treeRssMB = (pid: number) => processTree(pid).reduce((a, p) => a + (readRssBytes(p) ?? 0), 0) / MB;
  const idleRssMB = {
    sluiceAtStart: sluice && sluiceServer ? sluice.startRssBytes / MB : null,
    sluice: sluiceServer ? treeRssMB(sluiceServer.pid) : null,
    sshd: treeRssMB(sshd.pid),
  };

  const transfer = async (srv: Server, w: SftpWorkload, round: number): Promise<Run> => {
    if (w === 'w2') await srv.removeUpload();
    await run('sync', [], { timeoutMs: 120_000 }); // earlier runs' write-back should not land in this one
    const sampler = startSampler(srv.pid);
    let seconds: number;
    let s: SampleResult;
    try {
      seconds = await sftpRun(srv, w === 'w1' ? `get ${srv.downloadPath} /dev/null\n` : `put ${big} ${srv.uploadPath}\n`);
    } finally {
      s = sampler.stop();
    }
    if (w === 'w2') {
      const got = await srv.uploadedSha();
      if (got !== bigSha) throw new Error(`${srv.name} w2: stored sha256 ${got}, expected ${bigSha}`);
    }
    const out: Run = { server: srv.name, round, mbps: size / seconds / MB, seconds, cpuSeconds: s.cpuSeconds, peakRssMB: s.peakRssBytes / MB };
    logTransfer(log, w, out);
    return out;
  };

  const done = await runRounds(workloads, rounds, servers, transfer, { log, sluice, sluiceError });
  return done.map(({ w, runs, error }) =>
    summarise(w, runs, size, rounds, error, { cipher, clientVersion, sshdVersion: sshd.version, sluiceMode: sluice?.mode ?? null, idleRssMB }),
  );
}

function summarise(
  w: SftpWorkload,
  runs: readonly Run[],
  size: number,
  rounds: number,
  error: string | undefined,
  env: {
    cipher: string;
    clientVersion: string;
    sshdVersion: string;
    sluiceMode: string | null;
    idleRssMB: { sluiceAtStart: number | null; sluice: number | null; sshd: number };
  },
): WorkloadResult {
  const f = transferFigures(runs, rounds, size, 'sshd');
  const { sluice, peer, ratio } = f;
  const rss = f.sluicePeakRssMB;
  const pass = ratio === null || rss === null ? null : ratio >= TARGET_RATIO && rss < RSS_LIMIT_MB;
  return {
    id: w,
    title: w === 'w1' ? `SFTP ${formatBytes(size)} download` : `SFTP ${formatBytes(size)} upload`,
    unit: 'MB/s',
    sluice,
    peerName: `${env.sshdVersion} sshd internal-sftp`,
    peer,
    ratio,
    targetRatio: TARGET_RATIO,
    target: `≥ ${TARGET_RATIO}×, RSS < ${RSS_LIMIT_MB} MB`,
    sluicePeakRssMB: rss,
    rssLimitMB: RSS_LIMIT_MB,
    pass,
    ...(error !== undefined ? { error } : {}),
    details: {
      bytes: size,
      rounds,
      client: `${env.clientVersion} sftp -c ${env.cipher}, key authentication`,
      sluiceMode: env.sluiceMode,
      sluiceCpuSecondsPerGiB: f.sluiceCpuSecondsPerGiB,
      sshdCpuSecondsPerGiB: f.peerCpuSecondsPerGiB,
      sluiceStartRssMB: env.idleRssMB.sluiceAtStart,
      sluiceIdleRssMB: env.idleRssMB.sluice,
      sshdPeakRssMB: f.peerPeakRssMB,
      sluiceSecondsMedian: f.sluiceSecondsMedian,
      sshdSecondsMedian: f.peerSecondsMedian,
      runs,
    },
  };
}

export function formatSftpTable(results: readonly WorkloadResult[]): string {
  const rows = results.map((r) => {
    const d = (r.details ?? {}) as Record<string, number | null>;
    return [
      `${r.id.toUpperCase()} ${r.title}`,
      fmt(r.sluice, 1),
      fmt(r.peer, 1),
      r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}×`,
      `≥ ${r.targetRatio}×`,
      fmt(d.sluiceCpuSecondsPerGiB, 2),
      fmt(d.sshdCpuSecondsPerGiB, 2),
      fmt(r.sluicePeakRssMB, 0),
      fmt(d.sshdPeakRssMB, 0),
      r.pass === null ? 'n/a' : r.pass ? 'pass' : 'FAIL',
    ];
  });
  const table = formatTable(
    [
      'workload',
      'Sluice MB/s',
      'sshd MB/s',
      'ratio',
      'target',
      'Sluice CPU s/GiB',
      'sshd CPU s/GiB',
      'Sluice peak RSS MB (< 200)',
      'sshd peak RSS MB',
      'result',
    ],
    rows,
  );
  const d = (results[0]?.details ?? {}) as Record<string, unknown>;
  return `${table}\nmedians of ${d.rounds} rounds; ${d.client}; MB = 10^6 bytes`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).map((a) => a.toLowerCase());
  const bad = args.filter((a) => a !== 'w1' && a !== 'w2');
  if (bad.length) {
    process.stderr.write(`unknown workload(s) ${bad.join(', ')}: this benchmark runs w1 and w2\n`);
    process.exit(2);
  }
  deadline(envInt('BENCH_TIMEOUT', 2700) * 1000, 'the SFTP benchmark');
  let code = 0;
  try {
    const results = await runSftpBench(args.length ? { workloads: args as SftpWorkload[] } : {});
    await runCleanup();
    console.log(formatSftpTable(results));
    for (const r of results) if (r.error) console.log(`${r.id}: ${r.error}`);
    emitResults(results);
  } catch (e) {
    process.stderr.write(`[sftp] failed: ${(e as Error).stack ?? String(e)}\n`);
    code = 1;
  } finally {
    await runCleanup();
  }
  process.exit(code);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
