/**
 * W5 (HTTPS 1 GiB download) and W6 (HTTPS 1 GiB upload, raw PUT): Sluice side by side with nginx
 * on loopback, both with TLS 1.3, the same client (curl, HTTP/1.1, one pinned cipher suite).
 *
 *   node --import tsx bench/http.ts [w5] [w6]        (or: npm run bench -- w5 w6)
 *
 * Environment:
 *   BENCH_SIZE=1G          size of the random file (256M for a quick run)
 *   BENCH_ROUNDS=3         rounds; each round runs Sluice then nginx (A B A B …)
 *   BENCH_TLS13_CIPHER=TLS_AES_256_GCM_SHA384   the only suite curl offers
 *   BENCH_BUILD=0          do not run `npm run build` first (use dist/ as it is, or tsx)
 *   BENCH_TIMEOUT=2700     overall bound in seconds
 *
 * What is measured, per transfer: curl's time_total (connect + TLS handshake + request + whole
 * body) → MB/s = bytes / time_total / 10^6; the server process tree's peak RSS (VmRSS every
 * 100 ms) and CPU seconds (utime + stime from /proc/PID/stat, before/after). Reported: medians
 * over the rounds, ratio = Sluice / nginx, CPU s/GiB, and the highest Sluice RSS seen.
 * Untimed, once per server: the downloaded file's sha256 is checked (also the warm-up); every
 * upload's stored size (and for Sluice the sha256 it answers with) is checked.
 *
 * Prints a table, then (last line) the figures for scripts/bench.mjs: BENCH_RESULT {json}.
 * nginx, Sluice and the temp dir are cleaned up on success, failure, Ctrl-C and timeout.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanupProcess, deadline, runCleanup } from './lib/cleanup.js';
import { curl, curlSha256, DEFAULT_TLS13_CIPHER, type CurlResult } from './lib/curl.js';
import { ensureCommands, run } from './lib/exec.js';
import { makeRandomFile, selfSignedCert, tempDir } from './lib/fixtures.js';
import { freePort, request, waitForUrl } from './lib/net.js';
import { isAlive, processTree, readRssBytes, startSampler, type SampleResult } from './lib/proc.js';
import { logTransfer, runRounds, transferFigures, type TransferRun } from './lib/ab-rounds.js';
import { emitResults, type WorkloadResult } from './lib/result.js';
import { startSluice, SluiceUnavailable, type Sluice } from './lib/sluice.js';
import { envInt, envSize, fmt, formatBytes, GiB, MB } from './lib/stats.js';
import { formatTable } from './lib/table.js';

export type HttpWorkload = 'w5' | 'w6';

export interface HttpBenchOptions {
  readonly sizeBytes?: number;
  readonly rounds?: number;
  readonly workloads?: readonly HttpWorkload[];
  readonly tls13Cipher?: string;
  readonly log?: (msg: string) => void;
}

const TARGET_RATIO = 0.8;
const RSS_LIMIT_MB = 200;

/** One side of the comparison. */
interface Server {
  readonly name: 'sluice' | 'nginx';
  readonly pid: number;
  readonly downloadUrl: string;
  readonly uploadUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Removes the uploaded file before the next upload (untimed). */
  removeUpload(): Promise<void>;
  /** Checks a finished upload; `body` is the response body. */
  checkUpload(body: string): void;
}

type Run = TransferRun<'sluice' | 'nginx'>;

const nowIso = () => new Date().toISOString().slice(11, 19);
const defaultLog = (msg: string) => process.stderr.write(`[http ${nowIso()}] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

export interface Nginx {
  readonly baseUrl: string;
  readonly pid: number;
  readonly version: string;
  readonly root: string;
}

export async function startNginx(dir: string, tls: { cert: string; key: string }, log: (m: string) => void): Promise<Nginx> {
  const v = await run('nginx', ['-V'], { timeoutMs: 10_000 });
  const info = v.stderr + v.stdout;
  if (!info.includes('http_dav_module')) throw new Error('this nginx has no http_dav_module (needed for PUT); install the Debian package "nginx"');
  const version = /nginx\/(\S+)/.exec(info)?.[1] ?? 'unknown';

  const ndir = path.join(dir, 'nginx');
  const root = path.join(ndir, 'www');
  for (const d of [root, 'body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((x) => path.resolve(ndir, x))) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(root, 'ping.txt'), 'ok\n');
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  const conf = `# written by bench/http.ts
${isRoot ? 'user root root;  # workers must reach the temp dir; throwaway benchmark on loopback only\n' : ''}worker_processes 2;
daemon off;
pid ${ndir}/nginx.pid;
error_log ${ndir}/error.log warn;
events { worker_connections 256; }
http {
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${ndir}/body;
  proxy_temp_path ${ndir}/proxy;
  fastcgi_temp_path ${ndir}/fastcgi;
  uwsgi_temp_path ${ndir}/uwsgi;
  scgi_temp_path ${ndir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_protocols TLSv1.3;
    root ${root};
    client_max_body_size 0;
    location / {
      dav_methods PUT;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
  const confFile = path.join(ndir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  await run('nginx', ['-t', '-p', `${ndir}/`, '-c', confFile, '-e', `${ndir}/error.log`], { timeoutMs: 10_000 });
  const out = fs.openSync(path.join(ndir, 'stdout.log'), 'a');
  const child = spawn('nginx', ['-p', `${ndir}/`, '-c', confFile, '-e', `${ndir}/error.log`], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('nginx could not be started');
  let exited = false;
  child.on('exit', () => (exited = true));
  cleanupProcess('nginx', pid, 5_000);
  const baseUrl = `https://127.0.0.1:${port}`;
  try {
    await waitForUrl(`${baseUrl}/ping.txt`, { timeoutMs: 20_000, alive: () => !exited && isAlive(pid) });
  } catch (e) {
    const errLog = fs.existsSync(path.join(ndir, 'error.log')) ? fs.readFileSync(path.join(ndir, 'error.log'), 'utf8').slice(-2000) : '';
    throw new Error(`${(e as Error).message}\n--- nginx error.log ---\n${errLog}`, { cause: e });
  }
  log(`nginx ${version} is serving on ${baseUrl} (pid ${pid}, 2 workers)`);
  return { baseUrl, pid, version, root };
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

export async function runHttpBench(opts: HttpBenchOptions = {}): Promise<WorkloadResult[]> {
  const log = opts.log ?? defaultLog;
  const size = opts.sizeBytes ?? envSize('BENCH_SIZE', GiB);
  const rounds = opts.rounds ?? envInt('BENCH_ROUNDS', 3);
  const workloads = opts.workloads ?? ['w5', 'w6'];
  const cipher = opts.tls13Cipher ?? (process.env.BENCH_TLS13_CIPHER || DEFAULT_TLS13_CIPHER);
  // Generous per-transfer bound: 60 s plus 2 MB/s.
  const maxTimeS = Math.ceil(60 + size / (2 * MB));

  await ensureCommands({ nginx: 'nginx', openssl: 'openssl', curl: 'curl' }, log);
  const curlVersion = /^curl \S+/.exec((await run('curl', ['--version'], { timeoutMs: 10_000 })).stdout)?.[0] ?? 'curl';

  const dir = tempDir('sluice-bench-http');
  const tls = await selfSignedCert(dir);
  const big = path.join(dir, 'big.bin');
  log(`making a ${formatBytes(size)} random file`);
  const bigSha = await makeRandomFile(big, size);

  const nginx = await startNginx(dir, tls, log);
  fs.linkSync(big, path.join(nginx.root, 'big.bin'));
  const nginxServer: Server = {
    name: 'nginx',
    pid: nginx.pid,
    downloadUrl: `${nginx.baseUrl}/big.bin`,
    uploadUrl: `${nginx.baseUrl}/up.bin`,
    headers: {},
    async removeUpload() {
      fs.rmSync(path.join(nginx.root, 'up.bin'), { force: true });
    },
    checkUpload() {
      const got = fs.statSync(path.join(nginx.root, 'up.bin')).size;
      if (got !== size) throw new Error(`nginx stored ${got} of ${size} bytes`);
    },
  };

  let sluice: Sluice | undefined;
  let sluiceError: string | undefined;
  let sluiceServer: Server | undefined;
  try {
    sluice = await startSluice({ dir, tls, log });
    const s = sluice;
    const auth = { Authorization: `Bearer ${s.token}` };
    const fsUrl = (name: string) => `${s.baseUrl}/api/v1/fs${s.folder}/${name}`;
    const checkSluiceUpload = (body: string) => {
      let j: { size?: number; sha256?: string };
      try {
        j = JSON.parse(body) as typeof j;
      } catch {
        throw new Error(`Sluice answered the upload with something other than JSON: ${body.slice(0, 200)}`);
      }
      if (j.size !== size || j.sha256 !== bigSha) throw new Error(`Sluice stored size ${j.size}, sha256 ${j.sha256}; expected ${size}, ${bigSha}`);
    };
    sluiceServer = {
      name: 'sluice',
      pid: s.pid,
      downloadUrl: fsUrl('big.bin'),
      uploadUrl: fsUrl('up.bin'),
      headers: auth,
      async removeUpload() {
        const r = await request(fsUrl('up.bin'), { method: 'DELETE', headers: auth, timeoutMs: 60_000 });
        if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE up.bin: ${r.status} ${r.body.slice(0, 200)}`);
      },
      checkUpload: checkSluiceUpload,
    };
    // The file to download, uploaded once (untimed).
    log('uploading the download file to Sluice (untimed)');
    const resp = path.join(dir, 'seed-response.json');
    const seed = await curl({ url: fsUrl('big.bin'), uploadFile: big, output: resp, headers: auth, tls13Cipher: cipher, maxTimeS });
    const body = fs.readFileSync(resp, 'utf8');
    if (seed.httpCode !== 201 && seed.httpCode !== 200) throw new Error(`PUT big.bin: HTTP ${seed.httpCode} ${body.slice(0, 300)}`);
    checkSluiceUpload(body);
  } catch (e) {
    sluiceError = e instanceof SluiceUnavailable ? `Sluice unavailable: ${e.message}` : `Sluice could not be set up: ${(e as Error).message}`;
    log(`${sluiceError}\n  → measuring nginx alone`);
    sluiceServer = undefined;
    await sluice?.stop();
  }

  const servers = sluiceServer ? [sluiceServer, nginxServer] : [nginxServer];

  // Verify the download once per server (untimed; doubles as the warm-up).
  for (const srv of servers) {
    const h = await curlSha256({ url: srv.downloadUrl, headers: srv.headers, tls13Cipher: cipher, maxTimeS });
    if (h.httpCode !== 200 || h.sha256 !== bigSha || h.bytes !== size) {
      throw new Error(`${srv.name}: GET big.bin gave HTTP ${h.httpCode}, ${h.bytes} bytes, sha256 ${h.sha256}; expected ${size} bytes, ${bigSha}`);
    }
    log(`${srv.name}: download verified (sha256 ${bigSha.slice(0, 16)}…)`);
  }

  // Resident memory just before the first timed transfer (after the untimed upload and downloads).
  const treeRssMB = (pid: number) => processTree(pid).reduce((a, p) => a + (readRssBytes(p) ?? 0), 0) / MB;
  const idleRssMB = {
    sluiceAtStart: sluiceServer && sluice ? sluice.startRssBytes / MB : null,
    sluice: sluiceServer ? treeRssMB(sluiceServer.pid) : null,
    nginx: treeRssMB(nginx.pid),
  };

  const transfer = async (srv: Server, w: HttpWorkload, round: number): Promise<Run> => {
    if (w === 'w6') await srv.removeUpload();
    await run('sync', [], { timeoutMs: 120_000 }); // write-back of earlier runs should not land in this one
    const resp = path.join(dir, `response-${srv.name}.txt`);
    fs.rmSync(resp, { force: true });
    const sampler = startSampler(srv.pid);
    let r: CurlResult;
    let s: SampleResult;
    try {
      r =
        w === 'w5'
          ? await curl({ url: srv.downloadUrl, headers: srv.headers, tls13Cipher: cipher, maxTimeS })
          : await curl({ url: srv.uploadUrl, uploadFile: big, output: resp, headers: srv.headers, tls13Cipher: cipher, maxTimeS });
    } finally {
      s = sampler.stop();
    }
    const body = fs.existsSync(resp) ? fs.readFileSync(resp, 'utf8') : '';
    if (r.httpCode < 200 || r.httpCode >= 300) throw new Error(`${srv.name} ${w}: HTTP ${r.httpCode} ${body.slice(0, 300)}`);
    const moved = w === 'w5' ? r.sizeDownload : r.sizeUpload;
    if (moved !== size) throw new Error(`${srv.name} ${w}: moved ${moved} of ${size} bytes`);
    if (w === 'w6') srv.checkUpload(body);
    const out: Run = {
      server: srv.name,
      round,
      mbps: size / r.timeTotal / MB,
      seconds: r.timeTotal,
      cpuSeconds: s.cpuSeconds,
      peakRssMB: s.peakRssBytes / MB,
    };
    logTransfer(log, w, out);
    return out;
  };

  const done = await runRounds(workloads, rounds, servers, transfer, { log, sluice, sluiceError });
  return done.map(({ w, runs, error }) =>
    summarise(w, runs, size, rounds, error, { cipher, curlVersion, nginxVersion: nginx.version, sluiceMode: sluice?.mode ?? null, idleRssMB }),
  );
}

function summarise(
  w: HttpWorkload,
  runs: readonly Run[],
  size: number,
  rounds: number,
  error: string | undefined,
  env: {
    cipher: string;
    curlVersion: string;
    nginxVersion: string;
    sluiceMode: string | null;
    idleRssMB: { sluiceAtStart: number | null; sluice: number | null; nginx: number };
  },
): WorkloadResult {
  const f = transferFigures(runs, rounds, size, 'nginx');
  const { sluice, peer, ratio } = f;
  const rss = f.sluicePeakRssMB;
  const pass = ratio === null || rss === null ? null : ratio >= TARGET_RATIO && rss < RSS_LIMIT_MB;
  return {
    id: w,
    title: w === 'w5' ? `HTTPS ${formatBytes(size)} download` : `HTTPS ${formatBytes(size)} upload (raw PUT)`,
    unit: 'MB/s',
    sluice,
    peerName: `nginx ${env.nginxVersion}${w === 'w6' ? ' PUT' : ''}`,
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
      client: `${env.curlVersion}; HTTP/1.1; TLS 1.3 ${env.cipher}`,
      sluiceMode: env.sluiceMode,
      sluiceCpuSecondsPerGiB: f.sluiceCpuSecondsPerGiB,
      nginxCpuSecondsPerGiB: f.peerCpuSecondsPerGiB,
      sluiceStartRssMB: env.idleRssMB.sluiceAtStart,
      sluiceIdleRssMB: env.idleRssMB.sluice,
      nginxPeakRssMB: f.peerPeakRssMB,
      nginxIdleRssMB: env.idleRssMB.nginx,
      sluiceSecondsMedian: f.sluiceSecondsMedian,
      nginxSecondsMedian: f.peerSecondsMedian,
      runs,
    },
  };
}

export function formatHttpTable(results: readonly WorkloadResult[]): string {
  const rows = results.map((r) => {
    const d = (r.details ?? {}) as Record<string, number | null>;
    return [
      `${r.id.toUpperCase()} ${r.title}`,
      fmt(r.sluice, 1),
      fmt(r.peer, 1),
      r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}×`,
      `≥ ${r.targetRatio}×`,
      fmt(d.sluiceCpuSecondsPerGiB, 2),
      fmt(d.nginxCpuSecondsPerGiB, 2),
      fmt(r.sluicePeakRssMB, 0),
      r.pass === null ? 'n/a' : r.pass ? 'pass' : 'FAIL',
    ];
  });
  const table = formatTable(
    ['workload', 'Sluice MB/s', 'nginx MB/s', 'ratio', 'target', 'Sluice CPU s/GiB', 'nginx CPU s/GiB', 'Sluice peak RSS MB (< 200)', 'result'],
    rows,
  );
  const d = (results[0]?.details ?? {}) as Record<string, unknown>;
  const n = (k: string) => fmt(d[k] as number | null, 0);
  return `${table}\nmedians of ${d.rounds} rounds; ${d.client}; Sluice RSS at start ${n('sluiceStartRssMB')} MB, before the first timed transfer ${n('sluiceIdleRssMB')} MB, nginx ${n('nginxIdleRssMB')} MB (peak ${n('nginxPeakRssMB')} MB); MB = 10^6 bytes`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).map((a) => a.toLowerCase());
  const bad = args.filter((a) => a !== 'w5' && a !== 'w6');
  if (bad.length) {
    process.stderr.write(`unknown workload(s) ${bad.join(', ')}: this benchmark runs w5 and w6\n`);
    process.exit(2);
  }
  deadline(envInt('BENCH_TIMEOUT', 2700) * 1000, 'the HTTP benchmark');
  let code = 0;
  try {
    const results = await runHttpBench(args.length ? { workloads: args as HttpWorkload[] } : {});
    await runCleanup();
    console.log(formatHttpTable(results));
    for (const r of results) if (r.error) console.log(`${r.id}: ${r.error}`);
    emitResults(results);
  } catch (e) {
    process.stderr.write(`[http] failed: ${(e as Error).stack ?? String(e)}\n`);
    code = 1;
  } finally {
    await runCleanup();
  }
  process.exit(code);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
