/**
 * W3 (many small files, one session), W4 (many concurrent sessions) and W7 (listing a huge
 * folder): Sluice side by side with OpenSSH's sshd (internal-sftp) on loopback, the same clients
 * for both, alternating runs (Sluice, sshd, Sluice, sshd, …), medians and ratios.
 *
 *   node --import tsx bench/sftp-files.ts [w3] [w4] [w7]      (or: npm run bench -- w3 w4 w7)
 *
 * Environment (defaults are the full workloads of shared/design/performance.md):
 *   BENCH_ROUNDS=3           rounds per workload
 *   BENCH_W3_FILES=10000     W3: files uploaded, then downloaded, in one sftp session
 *   BENCH_W3_SIZE=10K        W3: size of each file
 *   BENCH_W4_SESSIONS=200    W4: concurrent sftp processes (half download, half upload)
 *   BENCH_W4_SIZE=20M        W4: bytes each session moves
 *   BENCH_W7_FILES=100000    W7: files in the listed folder
 *   BENCH_QUICK=1            quick mode: 2000 files, 40 sessions × 8 MiB, 20,000 listed files,
 *                            2 rounds (each of the variables above still wins)
 *   BENCH_SFTP_CIPHER=aes128-gcm@openssh.com, BENCH_BUILD=0, BENCH_TIMEOUT=5400 as for W1/W2.
 *
 * Clients (the same for both servers):
 * - W3, W4 and W7's total time: OpenSSH `sftp -b -` (batch mode), `-c aes128-gcm@openssh.com`,
 *   key authentication, one process per session.
 *   W3: one session `put -r SRC DIR` then `get -r DIR LOCAL`; `!date` markers between the
 *   commands time each half. W4: SESSIONS sftp processes started at once, even ones
 *   `get FILE /dev/null`, odd ones `put FILE NEW-NAME`; aggregate MB/s = bytes moved / wall time
 *   from the first start to the last exit. W7: `ls -l DIR` (all names, with attributes).
 * - W7's time to first page: ssh2's SFTP client (same cipher, connected before the clock starts):
 *   OPENDIR + the first READDIR answer; then READDIR to the end (total, second figure).
 * - W7 over HTTP (Sluice only, no peer): GET /api/v1/fs/DIR/?limit=5000 page by page.
 *
 * Seeding (untimed): sshd's files are written straight into its directory; Sluice's through its
 * own SFTP server (pipelined OPEN/CLOSE of empty files over a few ssh2 sessions), since every
 * file must go through the core. Sluice runs with encryption at rest and the ledger on (the
 * defaults) and download budgets raised for the benchmark user (they would trip W3's 10,000
 * downloads by design).
 *
 * Measured per run: the server's whole process tree (Sluice: serve process and its workers;
 * sshd: listener and every session process) every 100 ms: peak RSS, CPU seconds.
 * Prints a table, then (last line) BENCH_RESULT {json} for scripts/bench.mjs.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ssh2 from 'ssh2';
import { BUDGETS_OFF } from './lib/budgets.js';
import { cleanupDir, deadline, runCleanup } from './lib/cleanup.js';
import { ensureCommands, run } from './lib/exec.js';
import { makeRandomFile, tempDir } from './lib/fixtures.js';
import { request } from './lib/net.js';
import { cpuMeter, isAlive, startSampler, type SampleResult } from './lib/proc.js';
import { emitResults, type WorkloadResult } from './lib/result.js';
import { startSluice, SluiceUnavailable, type Sluice } from './lib/sluice.js';
import { envInt, envSize, fmt, formatBytes, GiB, max, MB, median, MiB } from './lib/stats.js';
import { formatTable } from './lib/table.js';
import { sha256File, startSshd } from './sftp.js';

export type FilesWorkload = 'w3' | 'w4' | 'w7';
const ALL: readonly FilesWorkload[] = ['w3', 'w4', 'w7'];

/** Set on SIGINT/SIGTERM: no further round starts (lib/cleanup.ts stops the servers and exits). */
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => (stopping = true));
function checkStopping(): void {
  if (stopping) throw new Error('interrupted');
}

const nowIso = () => new Date().toISOString().slice(11, 19);
const defaultLog = (msg: string) => process.stderr.write(`[sftp-files ${nowIso()}] ${msg}\n`);

interface Peer {
  readonly name: 'sluice' | 'sshd';
  readonly pid: number;
  readonly port: number;
  readonly user: string;
  /** Remote directory the workloads work in. */
  readonly root: string;
  /** Size and SHA-256 of a stored file (untimed). */
  stored(remote: string): Promise<{ size: number; sha256: string }>;
  /** Removes a stored file (untimed). */
  remove(remote: string): Promise<void>;
}

interface Settings {
  readonly rounds: number;
  readonly w3Files: number;
  readonly w3Size: number;
  readonly w4Sessions: number;
  readonly w4Size: number;
  readonly w7Files: number;
  readonly cipher: string;
  readonly quick: boolean;
}

export function settingsFromEnv(): Settings {
  const quick = process.env.BENCH_QUICK === '1';
  return {
    rounds: envInt('BENCH_ROUNDS', quick ? 2 : 3),
    w3Files: envInt('BENCH_W3_FILES', quick ? 2000 : 10_000),
    w3Size: envSize('BENCH_W3_SIZE', 10 * 1024),
    w4Sessions: envInt('BENCH_W4_SESSIONS', quick ? 40 : 200),
    w4Size: envSize('BENCH_W4_SIZE', quick ? 8 * MiB : 20 * MiB),
    w7Files: envInt('BENCH_W7_FILES', quick ? 20_000 : 100_000),
    cipher: process.env.BENCH_SFTP_CIPHER || 'aes128-gcm@openssh.com',
    quick,
  };
}

interface Ctx {
  readonly dir: string;
  readonly key: string;
  readonly knownHosts: string;
  readonly cipher: string;
  readonly log: (m: string) => void;
}

/** One `sftp -b -` session with `commands` on standard input; wall time and output. */
async function sftpBatch(
  ctx: Ctx,
  p: Peer,
  commands: string,
  timeoutMs: number,
): Promise<{ seconds: number; stdout: string; code: number | null; stderr: string }> {
  const t0 = process.hrtime.bigint();
  const r = await run(
    'sftp',
    [
      '-q',
      '-b',
      '-',
      '-c',
      ctx.cipher,
      '-P',
      String(p.port),
      '-i',
      ctx.key,
      '-o',
      `UserKnownHostsFile=${ctx.knownHosts}`,
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
      '-o',
      'ConnectTimeout=60',
      `${p.user}@127.0.0.1`,
    ],
    { input: commands, timeoutMs, cwd: ctx.dir, allowFail: true },
  );
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, stdout: r.stdout, stderr: r.stderr, code: r.code };
}

const errTail = (r: { stderr: string; stdout: string; code: number | null }) =>
  `exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;

/** An ssh2 client with the SFTP subsystem open (for seeding and W7's first page). */
async function ssh2Sftp(ctx: Ctx, p: Peer): Promise<{ client: ssh2.Client; sftp: ssh2.SFTPWrapper }> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: p.port,
      username: p.user,
      privateKey: fs.readFileSync(ctx.key),
      algorithms: { cipher: [ctx.cipher as ssh2.CipherAlgorithm] },
      readyTimeout: 60_000,
      // Loopback servers started by this benchmark; their keys are in known_hosts for sftp.
      hostVerifier: () => true,
    });
  });
  const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
  return { client, sftp };
}

const sftpCall = <T>(fn: (cb: (e: Error | null | undefined, v: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));

// ---------------------------------------------------------------------------------------------
// W3: many small files up, then down, in one session
// ---------------------------------------------------------------------------------------------

interface W3Run {
  readonly server: string;
  readonly round: number;
  readonly upSeconds: number;
  readonly downSeconds: number;
  readonly upFilesPerSec: number;
  readonly downFilesPerSec: number;
  readonly filesPerSec: number;
  readonly cpuSeconds: number;
  readonly peakRssMB: number;
}

async function w3Round(ctx: Ctx, p: Peer, src: string, files: number, round: number, srcBufs: Map<string, Buffer>): Promise<W3Run> {
  checkStopping();
  const remote = `${p.root}/w3-r${round}`;
  const local = path.join(ctx.dir, `w3-down-${p.name}-${round}`);
  const mark = '!date +W3MARK%s.%N';
  const sampler = startSampler(p.pid);
  const cpu = cpuMeter(p.pid);
  let r: Awaited<ReturnType<typeof sftpBatch>>;
  let s: SampleResult;
  try {
    r = await sftpBatch(ctx, p, [mark, `put -r ${src} ${remote}`, mark, `get -r ${remote} ${local}`, mark, ''].join('\n'), 600_000 + files * 200);
  } finally {
    s = sampler.stop();
  }
  const cpuSeconds = await cpu.stop();
  if (r.code !== 0) throw new Error(`${p.name} w3: sftp ${errTail(r)}`);
  const marks = [...r.stdout.matchAll(/W3MARK(\d+\.\d+)/g)].map((m) => Number(m[1]));
  if (marks.length !== 3) throw new Error(`${p.name} w3: expected 3 time marks, got ${marks.length}`);
  const up = marks[1]! - marks[0]!;
  const down = marks[2]! - marks[1]!;
  // Untimed: every file came back whole.
  const got = fs.readdirSync(local);
  if (got.length !== files) throw new Error(`${p.name} w3: downloaded ${got.length} files, expected ${files}`);
  for (const [name, buf] of srcBufs) {
    if (!fs.readFileSync(path.join(local, name)).equals(buf)) throw new Error(`${p.name} w3: ${name} came back different`);
  }
  fs.rmSync(local, { recursive: true, force: true });
  const out: W3Run = {
    server: p.name,
    round,
    upSeconds: up,
    downSeconds: down,
    upFilesPerSec: files / up,
    downFilesPerSec: files / down,
    filesPerSec: (2 * files) / (up + down),
    cpuSeconds,
    peakRssMB: s.peakRssBytes / MB,
  };
  ctx.log(
    `w3 round ${round} ${p.name.padEnd(6)} up ${fmt(out.upFilesPerSec, 0)} files/s (${fmt(up, 1)} s)  down ${fmt(out.downFilesPerSec, 0)} files/s (${fmt(down, 1)} s)  cpu ${fmt(cpuSeconds, 1)} s  peak RSS ${fmt(out.peakRssMB, 0)} MB`,
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// W4: many concurrent sessions, half download, half upload
// ---------------------------------------------------------------------------------------------

interface W4Run {
  readonly server: string;
  readonly round: number;
  readonly seconds: number;
  readonly mbps: number;
  readonly failures: number;
  readonly firstFailure: string | null;
  readonly sessionSecondsMedian: number;
  readonly sessionSecondsMax: number;
  readonly cpuSeconds: number;
  readonly peakRssMB: number;
}

async function w4Round(ctx: Ctx, p: Peer, localFile: string, fileSha: string, sessions: number, size: number, round: number): Promise<W4Run> {
  checkStopping();
  const src = `${p.root}/w4-src.bin`;
  const upName = (i: number) => `${p.root}/w4-r${round}-${i}.bin`;
  await run('sync', [], { timeoutMs: 120_000 });
  const sampler = startSampler(p.pid);
  const cpu = cpuMeter(p.pid);
  const t0 = process.hrtime.bigint();
  let results: Awaited<ReturnType<typeof sftpBatch>>[];
  let s: SampleResult;
  try {
    results = await Promise.all(
      Array.from({ length: sessions }, (_, i) => sftpBatch(ctx, p, i % 2 === 0 ? `get ${src} /dev/null\n` : `put ${localFile} ${upName(i)}\n`, 1_800_000)),
    );
  } finally {
    s = sampler.stop();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = await cpu.stop();
  const failed = results.filter((r) => r.code !== 0);
  // Untimed: every upload that reported success is stored whole.
  let bad = 0;
  for (let i = 1; i < sessions; i += 2) {
    if (results[i]!.code !== 0) continue;
    const st = await p.stored(upName(i)).catch(() => ({ size: -1, sha256: '' }));
    if (st.size !== size || st.sha256 !== fileSha) bad++;
    await p.remove(upName(i)).catch(() => undefined);
  }
  const out: W4Run = {
    server: p.name,
    round,
    seconds,
    mbps: (sessions * size) / seconds / MB,
    failures: failed.length + bad,
    firstFailure: failed[0] ? errTail(failed[0]) : bad ? `${bad} uploads stored wrong` : null,
    sessionSecondsMedian: median(results.map((r) => r.seconds)),
    sessionSecondsMax: max(results.map((r) => r.seconds)),
    cpuSeconds,
    peakRssMB: s.peakRssBytes / MB,
  };
  ctx.log(
    `w4 round ${round} ${p.name.padEnd(6)} ${fmt(out.mbps, 1)} MB/s aggregate (${fmt(seconds, 1)} s)  failures ${out.failures}  cpu ${fmt(cpuSeconds, 1)} s  peak RSS ${fmt(out.peakRssMB, 0)} MB${out.firstFailure ? `  first failure: ${out.firstFailure}` : ''}`,
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// W7: listing a folder of many files
// ---------------------------------------------------------------------------------------------

interface W7Run {
  readonly server: string;
  readonly round: number;
  /** `sftp -b` `ls -l DIR`: whole process. */
  readonly lsSeconds: number;
  /** ssh2 client: OPENDIR + first READDIR answer. */
  readonly firstPageMs: number;
  /** ssh2 client: OPENDIR … READDIR until EOF. */
  readonly readdirSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssMB: number;
}

async function w7Round(ctx: Ctx, p: Peer, dir: string, files: number, round: number): Promise<W7Run> {
  checkStopping();
  const sampler = startSampler(p.pid);
  const cpu = cpuMeter(p.pid);
  let s: SampleResult;
  let ls: Awaited<ReturnType<typeof sftpBatch>>;
  let firstPageMs = 0;
  let readdirSeconds: number;
  try {
    ls = await sftpBatch(ctx, p, `ls -l ${dir}\n`, 600_000);
    const { client, sftp } = await ssh2Sftp(ctx, p);
    try {
      const t0 = process.hrtime.bigint();
      const h = await sftpCall<Buffer>((cb) => sftp.opendir(dir, cb));
      let n = 0;
      for (let first = true; ; first = false) {
        const list = await new Promise<ssh2.FileEntry[] | false>((resolve, reject) =>
          sftp.readdir(h, (e, l) => (e ? ((e as { code?: number }).code === 1 ? resolve(false) : reject(e)) : resolve(l))),
        );
        if (first) firstPageMs = Number(process.hrtime.bigint() - t0) / 1e6;
        if (list === false) break;
        n += list.filter((x) => x.filename !== '.' && x.filename !== '..').length;
      }
      readdirSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      await sftpCall<void>((cb) => sftp.close(h, cb));
      if (n !== files) throw new Error(`${p.name} w7: READDIR gave ${n} entries, expected ${files}`);
    } finally {
      client.end();
    }
  } finally {
    s = sampler.stop();
  }
  const cpuSeconds = await cpu.stop();
  if (ls.code !== 0) throw new Error(`${p.name} w7: sftp ls ${errTail(ls)}`);
  const lines = ls.stdout.split('\n').filter((l) => /^[-d]r/.test(l)).length;
  if (lines !== files) throw new Error(`${p.name} w7: ls -l printed ${lines} entries, expected ${files}`);
  const out: W7Run = { server: p.name, round, lsSeconds: ls.seconds, firstPageMs, readdirSeconds, cpuSeconds, peakRssMB: s.peakRssBytes / MB };
  ctx.log(
    `w7 round ${round} ${p.name.padEnd(6)} ls -l ${fmt(ls.seconds, 2)} s  ssh2: first page ${fmt(firstPageMs, 1)} ms, all ${fmt(readdirSeconds, 2)} s  cpu ${fmt(cpuSeconds, 2)} s  peak RSS ${fmt(out.peakRssMB, 0)} MB`,
  );
  return out;
}

/** Sluice's HTTP listing, page by page (limit 5000, the largest page the API serves). */
async function w7Http(s: Sluice, dir: string, files: number): Promise<{ firstPageMs: number; seconds: number; pages: number }> {
  const t0 = process.hrtime.bigint();
  let firstPageMs = 0;
  let cursor: string | undefined;
  let n = 0;
  let pages = 0;
  do {
    const url = `${s.baseUrl}/api/v1/fs${dir}/?limit=5000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await fetch(url, { headers: { Authorization: `Bearer ${s.token}` } });
    if (res.status !== 200) throw new Error(`HTTP listing: ${res.status} ${(await res.text()).slice(0, 200)}`);
    const body = (await res.json()) as { entries: unknown[]; next?: string };
    if (pages === 0) firstPageMs = Number(process.hrtime.bigint() - t0) / 1e6;
    pages++;
    n += body.entries.length;
    cursor = body.next;
  } while (cursor);
  if (n !== files) throw new Error(`HTTP listing gave ${n} entries, expected ${files}`);
  return { firstPageMs, seconds: Number(process.hrtime.bigint() - t0) / 1e9, pages };
}

/** Creates `files` empty files in `dir` on Sluice through its SFTP server (untimed seeding). */
async function seedSluice(ctx: Ctx, p: Peer, dir: string, files: number, name: (i: number) => string): Promise<number> {
  const t0 = Date.now();
  const conns = await Promise.all(Array.from({ length: 4 }, () => ssh2Sftp(ctx, p)));
  try {
    await sftpCall<void>((cb) => conns[0]!.sftp.mkdir(dir, cb));
    let next = 0;
    let done = 0;
    const worker = async (sftp: ssh2.SFTPWrapper) => {
      for (let i = next++; i < files; i = next++) {
        checkStopping();
        const h = await sftpCall<Buffer>((cb) => sftp.open(`${dir}/${name(i)}`, 'w', cb));
        await sftpCall<void>((cb) => sftp.close(h, cb));
        if (++done % 10_000 === 0) ctx.log(`  seeded ${done} of ${files} (${fmt(done / ((Date.now() - t0) / 1000), 0)} files/s)`);
      }
    };
    // 16 requests outstanding per session: enough to keep the server busy.
    await Promise.all(conns.flatMap((c) => Array.from({ length: 16 }, () => worker(c.sftp))));
  } finally {
    for (const c of conns) c.client.end();
  }
  return (Date.now() - t0) / 1000;
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

interface World {
  readonly ctx: Ctx;
  readonly sshd: Awaited<ReturnType<typeof startSshd>>;
  readonly sshdRoot: string;
  readonly sshdPeer: Peer;
  readonly sluice: Sluice | undefined;
  readonly sluicePeer: Peer | undefined;
  readonly sluiceError: string | undefined;
}

/** A directory under `base`, removed at cleanup whatever happens. */
function tempDirIn(base: string, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(base, `${prefix}-`));
  cleanupDir(dir);
  return dir;
}

/**
 * Both servers with their data in `dir`: a client key pair, sshd (internal-sftp) serving
 * `dir/sshd-files`, Sluice (built dist/, fresh data directory, the key added for the benchmark
 * user) serving its folder. Sluice failing to start leaves sluicePeer undefined (sshd alone).
 * BENCH_SLUICE_PROF=DIR starts Sluice with --cpu-prof (profile written to DIR when it stops).
 */
async function makeWorld(dir: string, cipher: string, log: (m: string) => void): Promise<World> {
  const key = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key], { timeoutMs: 30_000 });
  const pub = fs.readFileSync(`${key}.pub`, 'utf8');
  const knownHosts = path.join(dir, 'known_hosts');
  const ctx: Ctx = { dir, key, knownHosts, cipher, log };

  const sshd = await startSshd(dir, pub, log);
  const sshdRoot = path.join(dir, 'sshd-files');
  fs.mkdirSync(sshdRoot);
  fs.writeFileSync(knownHosts, `${sshd.hostKeyLine}\n`);
  const sshdPeer: Peer = {
    name: 'sshd',
    pid: sshd.pid,
    port: sshd.port,
    user: os.userInfo().username,
    root: sshdRoot,
    async stored(remote) {
      return { size: fs.statSync(remote).size, sha256: await sha256File(remote) };
    },
    async remove(remote) {
      fs.rmSync(remote, { force: true });
    },
  };

  let sluice: Sluice | undefined;
  let sluicePeer: Peer | undefined;
  let sluiceError: string | undefined;
  try {
    // Download budgets would (by design) trip on W3's 10,000 downloads: raised for the benchmark.
    const prof = process.env.BENCH_SLUICE_PROF;
    sluice = await startSluice({
      dir,
      log,
      env: { ...BUDGETS_OFF },
      ...(prof ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(prof)}`] } : {}),
    });
    const s = sluice;
    await s.cli(['key', 'add', s.login, `${key}.pub`]);
    const hostPub = fs
      .readFileSync(path.join(s.dataDir, 'keys', 'ssh_host_ed25519_key.pub'), 'utf8')
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');
    fs.appendFileSync(knownHosts, `[127.0.0.1]:${s.sftpPort} ${hostPub}\n`);
    const auth = { Authorization: `Bearer ${s.token}` };
    sluicePeer = {
      name: 'sluice',
      pid: s.pid,
      port: s.sftpPort,
      user: s.login,
      root: s.folder,
      async stored(remote) {
        const r = await request(`${s.baseUrl}/api/v1/fs-ops/stat?path=${encodeURIComponent(remote)}`, { headers: auth, timeoutMs: 30_000 });
        if (r.status !== 200) throw new Error(`stat ${remote}: HTTP ${r.status}`);
        return JSON.parse(r.body) as { size: number; sha256: string };
      },
      async remove(remote) {
        const r = await request(`${s.baseUrl}/api/v1/fs${remote}`, { method: 'DELETE', headers: auth, timeoutMs: 60_000 });
        if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE ${remote}: ${r.status}`);
      },
    };
  } catch (e) {
    sluiceError = e instanceof SluiceUnavailable ? `Sluice unavailable: ${e.message}` : `Sluice could not be set up: ${(e as Error).message}`;
    log(`${sluiceError}\n  → measuring sshd alone`);
    await sluice?.stop();
    sluice = undefined;
  }
  return { ctx, sshd, sshdRoot, sshdPeer, sluice, sluicePeer, sluiceError };
}

export interface FilesBenchOptions {
  readonly workloads?: readonly FilesWorkload[];
  readonly settings?: Settings;
  readonly log?: (msg: string) => void;
}

export async function runSftpFilesBench(opts: FilesBenchOptions = {}): Promise<WorkloadResult[]> {
  const log = opts.log ?? defaultLog;
  const st = opts.settings ?? settingsFromEnv();
  const workloads = opts.workloads ?? ALL;
  await ensureCommands({ sftp: 'openssh-client', 'ssh-keygen': 'openssh-client', sshd: 'openssh-server' }, log);
  const clientVersion = /OpenSSH_\S+/.exec((await run('ssh', ['-V'], { allowFail: true, timeoutMs: 10_000 })).stderr)?.[0] ?? 'OpenSSH';
  const load0 = os.loadavg();

  const results: WorkloadResult[] = [];
  const envOf = (w: World) => ({ cipher: st.cipher, clientVersion, sshdVersion: w.sshd.version, sluiceMode: w.sluice?.mode ?? null, loadAvgAtStart: load0 });
  const failed = (w: World, id: string, e: unknown) => {
    const msg = (e as Error).message;
    log(`${id} failed: ${msg}`);
    if (w.sluice && !isAlive(w.sluice.pid)) log(`Sluice exited; its log:\n${w.sluice.logTail()}`);
    return msg;
  };

  if (workloads.includes('w3') || workloads.includes('w4')) {
    const world = await makeWorld(tempDir('sluice-bench-sftp-files'), st.cipher, log);
    const { ctx, sshdPeer, sluicePeer, sluiceError, sshdRoot } = world;
    const dir = ctx.dir;
    const peers = sluicePeer ? [sluicePeer, sshdPeer] : [sshdPeer];
    const env = envOf(world);
    if (workloads.includes('w3')) {
      const src = path.join(dir, 'w3-src');
      fs.mkdirSync(src);
      const bufs = new Map<string, Buffer>();
      for (let i = 0; i < st.w3Files; i++) {
        const name = `f${String(i).padStart(6, '0')}.bin`;
        const b = randomBytes(st.w3Size);
        bufs.set(name, b);
        fs.writeFileSync(path.join(src, name), b);
      }
      log(`w3: ${st.w3Files} files of ${formatBytes(st.w3Size)}, up then down in one session, ${st.rounds} rounds`);
      const runs: W3Run[] = [];
      let error = sluiceError;
      try {
        for (let round = 1; round <= st.rounds; round++) for (const p of peers) runs.push(await w3Round(ctx, p, src, st.w3Files, round, bufs));
      } catch (e) {
        error = failed(world, 'w3', e);
      }
      bufs.clear();
      fs.rmSync(src, { recursive: true, force: true });
      results.push(summariseW3(runs, st, error, env));
    }

    if (workloads.includes('w4')) {
      const file = path.join(dir, 'w4.bin');
      const sha = await makeRandomFile(file, st.w4Size);
      // The download source: a hard link for sshd, one untimed upload (checked) for Sluice.
      fs.linkSync(file, path.join(sshdRoot, 'w4-src.bin'));
      let error = sluiceError;
      const runs: W4Run[] = [];
      try {
        if (sluicePeer) {
          const r = await sftpBatch(ctx, sluicePeer, `put ${file} ${sluicePeer.root}/w4-src.bin\n`, 600_000);
          if (r.code !== 0) throw new Error(`uploading the W4 source: ${errTail(r)}`);
          const stored = await sluicePeer.stored(`${sluicePeer.root}/w4-src.bin`);
          if (stored.sha256 !== sha) throw new Error('the W4 source was stored wrong');
        }
        log(`w4: ${st.w4Sessions} concurrent sftp sessions × ${formatBytes(st.w4Size)} (half get, half put), ${st.rounds} rounds`);
        for (let round = 1; round <= st.rounds; round++) for (const p of peers) runs.push(await w4Round(ctx, p, file, sha, st.w4Sessions, st.w4Size, round));
      } catch (e) {
        error = failed(world, 'w4', e);
      }
      results.push(summariseW4(runs, st, error, env));
    }

    await world.sluice?.stop();
  }

  if (workloads.includes('w7') && !stopping) {
    // The seeding (100,000 files through the core, each a few fsyncs) is what takes long, not
    // the listing: both servers keep W7's data on tmpfs unless BENCH_W7_DIR says otherwise.
    // Listing reads what the page cache holds either way.
    const base = process.env.BENCH_W7_DIR || (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
    const world = await makeWorld(tempDirIn(base, 'sluice-bench-w7'), st.cipher, log);
    const { ctx, sshdPeer, sluicePeer, sluiceError, sshdRoot, sluice } = world;
    const peers = sluicePeer ? [sluicePeer, sshdPeer] : [sshdPeer];
    const env = { ...envOf(world), dataDir: base };
    const name = (i: number) => `file-${String(i).padStart(7, '0')}.txt`;
    let error = sluiceError;
    const runs: W7Run[] = [];
    const http: { firstPageMs: number; seconds: number; pages: number }[] = [];
    let seedSeconds: number | null = null;
    try {
      const sshdDir = path.join(sshdRoot, 'w7');
      fs.mkdirSync(sshdDir);
      for (let i = 0; i < st.w7Files; i++) fs.writeFileSync(path.join(sshdDir, name(i)), '');
      checkStopping();
      if (sluicePeer) {
        log(`w7: seeding ${st.w7Files} empty files into Sluice over SFTP (untimed)`);
        seedSeconds = await seedSluice(ctx, sluicePeer, `${sluicePeer.root}/w7`, st.w7Files, name);
        log(`w7: seeded in ${fmt(seedSeconds, 0)} s (${fmt(st.w7Files / seedSeconds, 0)} files/s)`);
      }
      const dirOf = (p: Peer) => `${p.root}/w7`;
      log(`w7: listing ${st.w7Files} files, ${st.rounds} rounds`);
      for (let round = 1; round <= st.rounds; round++) {
        for (const p of peers) runs.push(await w7Round(ctx, p, dirOf(p), st.w7Files, round));
        if (sluice && sluicePeer) {
          const h = await w7Http(sluice, dirOf(sluicePeer), st.w7Files);
          http.push(h);
          log(`w7 round ${round} sluice HTTP: first page ${fmt(h.firstPageMs, 1)} ms, all ${h.pages} pages ${fmt(h.seconds, 2)} s`);
        }
      }
    } catch (e) {
      error = failed(world, 'w7', e);
    }
    results.push(...summariseW7(runs, http, seedSeconds, st, error, env));
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

type Env = { cipher: string; clientVersion: string; sshdVersion: string; sluiceMode: string | null; loadAvgAtStart: number[]; dataDir?: string };

function sides<R extends { server: string }>(runs: readonly R[], rounds: number) {
  const sl = runs.filter((r) => r.server === 'sluice');
  const pe = runs.filter((r) => r.server === 'sshd');
  const med = (rs: readonly R[], f: (r: R) => number) => (rs.length === rounds ? median(rs.map(f)) : null);
  return { sl, pe, med };
}

const common = (st: Settings, env: Env) => ({
  rounds: st.rounds,
  quick: st.quick,
  client: `${env.clientVersion} sftp -b -c ${env.cipher}, key authentication`,
  sluiceMode: env.sluiceMode,
  loadAvgAtStart: env.loadAvgAtStart,
  loadAvgAtEnd: os.loadavg(),
  ...(env.dataDir ? { dataDir: env.dataDir } : {}),
});

function summariseW3(runs: readonly W3Run[], st: Settings, error: string | undefined, env: Env): WorkloadResult {
  const { sl, pe, med } = sides(runs, st.rounds);
  const sluice = med(sl, (r) => r.filesPerSec);
  const peer = med(pe, (r) => r.filesPerSec);
  const ratio = sluice !== null && peer !== null ? sluice / peer : null;
  const ratioOf = (f: (r: W3Run) => number) => {
    const a = med(sl, f);
    const b = med(pe, f);
    return a !== null && b !== null ? a / b : null;
  };
  const gib = (2 * st.w3Files * st.w3Size) / GiB;
  return {
    id: 'w3',
    title: `SFTP ${st.w3Files} × ${formatBytes(st.w3Size)} files up, then down, one session`,
    unit: 'files/s',
    sluice,
    peerName: `${env.sshdVersion} sshd internal-sftp`,
    peer,
    ratio,
    targetRatio: 0.8,
    target: '≥ 0.8×',
    sluicePeakRssMB: sl.length ? max(sl.map((r) => r.peakRssMB)) : null,
    pass: ratio === null ? null : ratio >= 0.8,
    ...(error !== undefined ? { error } : {}),
    details: {
      ...common(st, env),
      files: st.w3Files,
      fileBytes: st.w3Size,
      sluiceUpFilesPerSec: med(sl, (r) => r.upFilesPerSec),
      sshdUpFilesPerSec: med(pe, (r) => r.upFilesPerSec),
      upRatio: ratioOf((r) => r.upFilesPerSec),
      sluiceDownFilesPerSec: med(sl, (r) => r.downFilesPerSec),
      sshdDownFilesPerSec: med(pe, (r) => r.downFilesPerSec),
      downRatio: ratioOf((r) => r.downFilesPerSec),
      sluiceCpuMsPerFile: med(sl, (r) => (1000 * r.cpuSeconds) / (2 * st.w3Files)),
      sshdCpuMsPerFile: med(pe, (r) => (1000 * r.cpuSeconds) / (2 * st.w3Files)),
      sluiceCpuSecondsPerGiB: med(sl, (r) => r.cpuSeconds / gib),
      sshdCpuSecondsPerGiB: med(pe, (r) => r.cpuSeconds / gib),
      sshdPeakRssMB: pe.length ? max(pe.map((r) => r.peakRssMB)) : null,
      runs,
    },
  };
}

function summariseW4(runs: readonly W4Run[], st: Settings, error: string | undefined, env: Env): WorkloadResult {
  const { sl, pe, med } = sides(runs, st.rounds);
  const sluice = med(sl, (r) => r.mbps);
  const peer = med(pe, (r) => r.mbps);
  const ratio = sluice !== null && peer !== null ? sluice / peer : null;
  const rss = sl.length ? max(sl.map((r) => r.peakRssMB)) : null;
  const failures = sl.reduce((a, r) => a + r.failures, 0);
  const gib = (st.w4Sessions * st.w4Size) / GiB;
  return {
    id: 'w4',
    title: `SFTP ${st.w4Sessions} concurrent sessions × ${formatBytes(st.w4Size)}, half up half down`,
    unit: 'MB/s',
    sluice,
    peerName: `${env.sshdVersion} sshd internal-sftp`,
    peer,
    ratio,
    targetRatio: 0.8,
    target: '≥ 0.8×, 0 failures, RSS < 1024 MB',
    sluicePeakRssMB: rss,
    rssLimitMB: 1024,
    pass: ratio === null || rss === null ? null : ratio >= 0.8 && failures === 0 && rss < 1024,
    ...(error !== undefined ? { error } : {}),
    details: {
      ...common(st, env),
      sessions: st.w4Sessions,
      bytesPerSession: st.w4Size,
      sluiceFailures: failures,
      sshdFailures: pe.reduce((a, r) => a + r.failures, 0),
      sluiceCpuSecondsPerGiB: med(sl, (r) => r.cpuSeconds / gib),
      sshdCpuSecondsPerGiB: med(pe, (r) => r.cpuSeconds / gib),
      sshdPeakRssMB: pe.length ? max(pe.map((r) => r.peakRssMB)) : null,
      sluiceSessionSecondsMax: med(sl, (r) => r.sessionSecondsMax),
      sshdSessionSecondsMax: med(pe, (r) => r.sessionSecondsMax),
      runs,
    },
  };
}

function summariseW7(
  runs: readonly W7Run[],
  http: readonly { firstPageMs: number; seconds: number; pages: number }[],
  seedSeconds: number | null,
  st: Settings,
  error: string | undefined,
  env: Env,
): WorkloadResult[] {
  const { sl, pe, med } = sides(runs, st.rounds);
  const sluice = med(sl, (r) => r.lsSeconds);
  const peer = med(pe, (r) => r.lsSeconds);
  const ratio = sluice !== null && peer !== null ? sluice / peer : null;
  const firstPage = med(sl, (r) => r.firstPageMs);
  const readdirRatio =
    med(sl, (r) => r.readdirSeconds) !== null && med(pe, (r) => r.readdirSeconds) !== null
      ? med(sl, (r) => r.readdirSeconds)! / med(pe, (r) => r.readdirSeconds)!
      : null;
  const httpSeconds = http.length === st.rounds ? median(http.map((h) => h.seconds)) : null;
  return [
    {
      id: 'w7',
      title: `SFTP listing a folder of ${st.w7Files} files (sftp ls -l), seconds`,
      unit: 's',
      sluice,
      peerName: `${env.sshdVersion} sshd internal-sftp`,
      peer,
      ratio,
      targetRatio: 1.5,
      target: '≤ 1.5× (time); first page < 100 ms',
      sluicePeakRssMB: sl.length ? max(sl.map((r) => r.peakRssMB)) : null,
      pass: ratio === null || firstPage === null ? null : ratio <= 1.5 && firstPage < 100,
      ...(error !== undefined ? { error } : {}),
      details: {
        ...common(st, env),
        files: st.w7Files,
        sluiceFirstPageMs: firstPage,
        sshdFirstPageMs: med(pe, (r) => r.firstPageMs),
        sluiceReaddirSeconds: med(sl, (r) => r.readdirSeconds),
        sshdReaddirSeconds: med(pe, (r) => r.readdirSeconds),
        readdirRatio,
        sluiceCpuSeconds: med(sl, (r) => r.cpuSeconds),
        sshdCpuSeconds: med(pe, (r) => r.cpuSeconds),
        sshdPeakRssMB: pe.length ? max(pe.map((r) => r.peakRssMB)) : null,
        sluiceSeedSeconds: seedSeconds,
        runs,
      },
    },
    {
      id: 'w7-http',
      title: `HTTP listing of the same folder, pages of 5000, seconds`,
      unit: 's',
      sluice: httpSeconds,
      peerName: '(none: reported alongside W7)',
      peer: null,
      ratio: null,
      targetRatio: null,
      target: 'first page < 100 ms',
      pass: http.length === st.rounds ? median(http.map((h) => h.firstPageMs)) < 100 : null,
      ...(error !== undefined ? { error } : {}),
      details: { firstPageMs: http.length ? median(http.map((h) => h.firstPageMs)) : null, pages: http[0]?.pages ?? null, runs: http },
    },
  ];
}

export function formatFilesTable(results: readonly WorkloadResult[]): string {
  const rows = results.map((r) => {
    const d = (r.details ?? {}) as Record<string, number | null>;
    const extra =
      r.id === 'w3'
        ? `up ${fmt(d.sluiceUpFilesPerSec, 0)}/${fmt(d.sshdUpFilesPerSec, 0)} (${fmt(d.upRatio, 2)}×), down ${fmt(d.sluiceDownFilesPerSec, 0)}/${fmt(d.sshdDownFilesPerSec, 0)} (${fmt(d.downRatio, 2)}×); CPU ms/file ${fmt(d.sluiceCpuMsPerFile, 2)}/${fmt(d.sshdCpuMsPerFile, 2)}`
        : r.id === 'w4'
          ? `failures ${d.sluiceFailures ?? 'n/a'}/${d.sshdFailures ?? 'n/a'}; CPU s/GiB ${fmt(d.sluiceCpuSecondsPerGiB, 2)}/${fmt(d.sshdCpuSecondsPerGiB, 2)}; sshd peak RSS ${fmt(d.sshdPeakRssMB, 0)} MB`
          : r.id === 'w7'
            ? `first page ${fmt(d.sluiceFirstPageMs, 1)}/${fmt(d.sshdFirstPageMs, 1)} ms; READDIR all ${fmt(d.sluiceReaddirSeconds, 2)}/${fmt(d.sshdReaddirSeconds, 2)} s (${fmt(d.readdirRatio, 2)}×)`
            : `first page ${fmt(d.firstPageMs, 1)} ms, ${d.pages ?? 'n/a'} pages`;
    return [
      `${r.id.toUpperCase()} ${r.title}`,
      fmt(r.sluice, r.unit === 's' ? 2 : 1),
      fmt(r.peer, r.unit === 's' ? 2 : 1),
      r.unit,
      r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}×`,
      r.target,
      fmt(r.sluicePeakRssMB, 0),
      r.pass === null ? 'n/a' : r.pass ? 'pass' : 'FAIL',
      extra,
    ];
  });
  const table = formatTable(['workload', 'Sluice', 'sshd', 'unit', 'ratio', 'target', 'Sluice peak RSS MB', 'result', 'Sluice/sshd detail'], rows);
  const d = (results[0]?.details ?? {}) as Record<string, unknown>;
  return `${table}\nmedians of ${d.rounds} rounds${d.quick ? ' (quick mode)' : ''}; ${d.client}; MB = 10^6 bytes`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).map((a) => a.toLowerCase());
  const bad = args.filter((a) => !(ALL as readonly string[]).includes(a));
  if (bad.length) {
    process.stderr.write(`unknown workload(s) ${bad.join(', ')}: this benchmark runs w3, w4 and w7\n`);
    process.exit(2);
  }
  deadline(envInt('BENCH_TIMEOUT', 5400) * 1000, 'the SFTP files benchmark');
  let code = 0;
  try {
    const results = await runSftpFilesBench(args.length ? { workloads: args as FilesWorkload[] } : {});
    await runCleanup();
    console.log(formatFilesTable(results));
    for (const r of results) if (r.error) console.log(`${r.id}: ${r.error}`);
    emitResults(results);
  } catch (e) {
    process.stderr.write(`[sftp-files] failed: ${(e as Error).stack ?? String(e)}\n`);
    code = 1;
  } finally {
    await runCleanup();
  }
  process.exit(code);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
