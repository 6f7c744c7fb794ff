/**
 * W6-tus: a 1 GiB upload through tus (POST /api/v1/uploads, then one PATCH with the whole body)
 * over HTTPS, side by side with Sluice's raw PUT and nginx's PUT in the same run, the same client
 * (curl, HTTP/1.1, TLS 1.3, one pinned suite), rounds of PUT, tus, nginx (A B C A B C …). Then,
 * once and untimed, a resumed upload: tus-js-client sends the file in chunks, is cut off (abort:
 * the connection goes) past 50 %, and resumes from the server's offset — reported: the bytes sent
 * twice, which must be at most one chunk.
 *
 *   node --import tsx bench/tus.ts        (or: npm run bench -- w6-tus)
 *
 * Environment: BENCH_SIZE (default 1G), BENCH_ROUNDS (3), BENCH_TLS13_CIPHER, BENCH_BUILD=0,
 * BENCH_TUS_CHUNK (the resumed upload's chunk size, default 64M), BENCH_TIMEOUT (2700 s).
 *
 * What is measured: tus = curl's time_total of the POST plus that of the PATCH (both on fresh
 * connections, as the PUT's one), until the 204 that follows the commit of the file (the read-back
 * of the parts into the file's blob included). MB/s = bytes / time / 10^6; CPU seconds and peak
 * RSS of the server process tree as in bench/http.ts. Every upload's sha256 is checked (untimed).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tus from 'tus-js-client';
import { deadline, runCleanup } from './lib/cleanup.js';
import { curl, DEFAULT_TLS13_CIPHER } from './lib/curl.js';
import { ensureCommands, run } from './lib/exec.js';
import { makeRandomFile, selfSignedCert, tempDir } from './lib/fixtures.js';
import { request } from './lib/net.js';
import { startSampler, type SampleResult } from './lib/proc.js';
import { emitResults, type WorkloadResult } from './lib/result.js';
import { startSluice, type Sluice } from './lib/sluice.js';
import { envInt, envSize, fmt, formatBytes, GiB, max, MB, median, MiB } from './lib/stats.js';
import { formatTable } from './lib/table.js';
import { startNginx } from './http.js';

const TARGET_RATIO = 0.9;
const RSS_LIMIT_MB = 200;
type Side = 'put' | 'tus' | 'nginx';
interface Run {
  readonly side: Side;
  readonly round: number;
  readonly mbps: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly peakRssMB: number;
}

const nowIso = () => new Date().toISOString().slice(11, 19);
const log = (msg: string) => process.stderr.write(`[tus ${nowIso()}] ${msg}\n`);
const b64 = (s: string) => Buffer.from(s).toString('base64');

export async function runTusBench(): Promise<WorkloadResult[]> {
  const size = envSize('BENCH_SIZE', GiB);
  const rounds = envInt('BENCH_ROUNDS', 3);
  const chunk = envSize('BENCH_TUS_CHUNK', 64 * MiB);
  const cipher = process.env.BENCH_TLS13_CIPHER || DEFAULT_TLS13_CIPHER;
  const maxTimeS = Math.ceil(60 + size / (2 * MB));
  await ensureCommands({ nginx: 'nginx', openssl: 'openssl', curl: 'curl' }, log);

  const dir = tempDir('sluice-bench-tus');
  const tls = await selfSignedCert(dir);
  const big = path.join(dir, 'big.bin');
  log(`making a ${formatBytes(size)} random file`);
  const bigSha = await makeRandomFile(big, size);
  const nginx = await startNginx(dir, tls, log);
  const sluice: Sluice = await startSluice({ dir, tls, log });
  const auth = { Authorization: `Bearer ${sluice.token}` };
  const tusHeaders = { ...auth, 'Tus-Resumable': '1.0.0' };
  const fsUrl = (name: string) => `${sluice.baseUrl}/api/v1/fs${sluice.folder}/${name}`;

  const storedSha = async (name: string): Promise<string | undefined> => {
    const r = await request(`${sluice.baseUrl}/api/v1/fs-ops/stat?path=${encodeURIComponent(`${sluice.folder}/${name}`)}`, {
      headers: auth,
      timeoutMs: 60_000,
    });
    return r.status === 200 ? (JSON.parse(r.body) as { sha256?: string }).sha256 : undefined;
  };
  const remove = async (name: string) => {
    const r = await request(fsUrl(name), { method: 'DELETE', headers: auth, timeoutMs: 60_000 });
    if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE ${name}: ${r.status} ${r.body.slice(0, 200)}`);
  };

  async function timedTus(name: string): Promise<{ seconds: number; status: number }> {
    // Creation through request() (its Location header is needed), timed around the call; the PATCH through curl.
    const t0 = process.hrtime.bigint();
    const r = await request(`${sluice.baseUrl}/api/v1/uploads`, {
      method: 'POST',
      headers: { ...tusHeaders, 'Upload-Length': String(size), 'Upload-Metadata': `path ${b64(sluice.folder)},filename ${b64(name)}` },
      timeoutMs: 60_000,
    });
    const createS = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 201 || typeof r.headers.location !== 'string') throw new Error(`tus POST: HTTP ${r.status} ${r.body.slice(0, 200)}`);
    const patched = await curl({
      url: new URL(r.headers.location, sluice.baseUrl).toString(),
      method: 'PATCH',
      uploadFile: big,
      headers: { ...tusHeaders, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' },
      output: path.join(dir, 'patch.txt'),
      tls13Cipher: cipher,
      maxTimeS,
    });
    if (patched.sizeUpload !== size) throw new Error(`tus PATCH sent ${patched.sizeUpload} of ${size} bytes`);
    return { seconds: createS + patched.timeTotal, status: patched.httpCode };
  }

  const runs: Run[] = [];
  const transfer = async (side: Side, round: number): Promise<void> => {
    const name = `up-${side}.bin`;
    if (side === 'nginx') fs.rmSync(path.join(nginx.root, name), { force: true });
    else await remove(name);
    await run('sync', [], { timeoutMs: 120_000 });
    const pid = side === 'nginx' ? nginx.pid : sluice.pid;
    const sampler = startSampler(pid);
    let seconds: number;
    let s: SampleResult;
    try {
      if (side === 'tus') {
        const r = await timedTus(name);
        if (r.status !== 204) throw new Error(`tus PATCH: HTTP ${r.status} ${fs.readFileSync(path.join(dir, 'patch.txt'), 'utf8').slice(0, 200)}`);
        seconds = r.seconds;
      } else {
        const url = side === 'put' ? fsUrl(name) : `${nginx.baseUrl}/${name}`;
        const r = await curl({ url, uploadFile: big, output: path.join(dir, 'put.txt'), headers: side === 'put' ? auth : {}, tls13Cipher: cipher, maxTimeS });
        if (r.httpCode < 200 || r.httpCode >= 300) throw new Error(`${side} PUT: HTTP ${r.httpCode}`);
        if (r.sizeUpload !== size) throw new Error(`${side} PUT sent ${r.sizeUpload} of ${size} bytes`);
        seconds = r.timeTotal;
      }
    } finally {
      s = sampler.stop();
    }
    if (side === 'nginx') {
      const got = fs.statSync(path.join(nginx.root, name)).size;
      if (got !== size) throw new Error(`nginx stored ${got} of ${size} bytes`);
    } else if ((await storedSha(name)) !== bigSha) throw new Error(`${side}: the stored file's sha256 is not the file's`);
    const r: Run = { side, round, mbps: size / seconds / MB, seconds, cpuSeconds: s.cpuSeconds, peakRssMB: s.peakRssBytes / MB };
    runs.push(r);
    log(
      `round ${round} ${side.padEnd(5)} ${fmt(r.mbps, 1).padStart(7)} MB/s  ${fmt(seconds, 2)} s  cpu ${fmt(r.cpuSeconds, 2)} s  peak RSS ${fmt(r.peakRssMB, 0)} MB`,
    );
  };

  let error: string | undefined;
  try {
    // Warm-up (untimed): one tus upload.
    await timedTus('warm.bin');
    for (let round = 1; round <= rounds; round++) for (const side of ['put', 'tus', 'nginx'] as const) await transfer(side, round);
  } catch (e) {
    error = (e as Error).message;
    log(`failed: ${error}\n${sluice.logTail()}`);
  }

  // The resumed upload: tus-js-client in chunks, cut off past 50 %, resumed from HEAD's offset.
  let resume: { chunk: number; sentBeforeCut: number; offsetAtResume: number; resent: number; ok: boolean } | undefined;
  if (error === undefined) {
    try {
      resume = await resumed(sluice, big, size, bigSha, chunk, tusHeaders, storedSha);
      log(
        `resume: cut at ${formatBytes(resume.sentBeforeCut)} sent, server offset ${formatBytes(resume.offsetAtResume)}, re-sent ${resume.resent} bytes (chunk ${formatBytes(chunk)})`,
      );
    } catch (e) {
      error = `resume: ${(e as Error).message}`;
      log(error);
    }
  }
  await sluice.stop();

  const of = (side: Side) => runs.filter((r) => r.side === side);
  const med = (side: Side, f: (r: Run) => number) => (of(side).length === rounds ? median(of(side).map(f)) : null);
  const put = med('put', (r) => r.mbps);
  const tusMbps = med('tus', (r) => r.mbps);
  const ng = med('nginx', (r) => r.mbps);
  const rss = of('tus').length ? max(of('tus').map((r) => r.peakRssMB)) : null;
  const ratio = tusMbps !== null && put !== null ? tusMbps / put : null;
  const gib = size / GiB;
  const pass = ratio === null || rss === null || !resume ? null : ratio >= TARGET_RATIO && rss < RSS_LIMIT_MB && resume.ok;
  return [
    {
      id: 'w6-tus',
      title: `HTTPS ${formatBytes(size)} upload through tus vs Sluice's raw PUT`,
      unit: 'MB/s',
      sluice: tusMbps,
      peerName: "Sluice's raw PUT (same run)",
      peer: put,
      ratio,
      targetRatio: TARGET_RATIO,
      target: `≥ ${TARGET_RATIO}× of raw PUT, ≤ 1 chunk re-sent, RSS < ${RSS_LIMIT_MB} MB`,
      sluicePeakRssMB: rss,
      rssLimitMB: RSS_LIMIT_MB,
      pass,
      ...(error !== undefined ? { error } : {}),
      details: {
        bytes: size,
        rounds,
        nginxPutMbps: ng,
        tusVsNginx: tusMbps !== null && ng !== null ? tusMbps / ng : null,
        putVsNginx: put !== null && ng !== null ? put / ng : null,
        cpuSecondsPerGiB: {
          put: med('put', (r) => r.cpuSeconds / gib),
          tus: med('tus', (r) => r.cpuSeconds / gib),
          nginx: med('nginx', (r) => r.cpuSeconds / gib),
        },
        resume,
        client: `curl; HTTP/1.1; TLS 1.3 ${cipher}; resume: tus-js-client, chunk ${formatBytes(chunk)}`,
        runs,
      },
    },
  ];
}

/** tus-js-client over HTTPS: cut off past half, then resumed; the bytes it had sent that the server did not keep. */
async function resumed(
  sluice: Sluice,
  file: string,
  size: number,
  sha: string,
  chunkSize: number,
  headers: Record<string, string>,
  storedSha: (name: string) => Promise<string | undefined>,
) {
  const httpStack = new tus.DefaultHttpStack({ rejectUnauthorized: false } as never);
  const common = { headers, chunkSize, retryDelays: [], httpStack };
  let url: string | null = null;
  let sentBeforeCut = 0;
  await new Promise<void>((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(fs.createReadStream(file), {
      ...common,
      endpoint: `${sluice.baseUrl}/api/v1/uploads`,
      uploadSize: size,
      metadata: { path: sluice.folder, filename: 'resumed.bin' },
      onProgress(sent) {
        if (sent <= size / 2 || url !== null) return;
        sentBeforeCut = sent;
        url = up.url;
        void up.abort().then(resolve, reject);
      },
      onError: reject,
      onSuccess: () => reject(new Error('finished before the cut')),
    });
    up.start();
  });
  if (!url) throw new Error('no upload URL');
  const h = await request(url, { method: 'HEAD', headers, timeoutMs: 60_000 });
  const offsetAtResume = Number(h.headers['upload-offset']);
  await new Promise<void>((resolve, reject) => {
    const up = new tus.Upload(fs.createReadStream(file), { ...common, uploadUrl: url, uploadSize: size, onError: reject, onSuccess: () => resolve() });
    up.start();
  });
  if ((await storedSha('resumed.bin')) !== sha) throw new Error("the resumed file's sha256 is not the file's");
  const resent = Math.max(0, sentBeforeCut - offsetAtResume);
  return { chunk: chunkSize, sentBeforeCut, offsetAtResume, resent, ok: resent <= chunkSize };
}

export function formatTusTable(results: readonly WorkloadResult[]): string {
  const r = results[0]!;
  const d = (r.details ?? {}) as { nginxPutMbps: number | null; cpuSecondsPerGiB: Record<Side, number | null>; resume?: { resent: number; chunk: number } };
  const table = formatTable(
    [
      'workload',
      'tus MB/s',
      'raw PUT MB/s',
      'nginx PUT MB/s',
      'tus / PUT',
      'target',
      'CPU s/GiB tus / PUT / nginx',
      'tus peak RSS MB',
      're-sent after cut',
      'result',
    ],
    [
      [
        `W6-tus ${r.title}`,
        fmt(r.sluice, 1),
        fmt(r.peer, 1),
        fmt(d.nginxPutMbps, 1),
        r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}×`,
        `≥ ${r.targetRatio}×`,
        `${fmt(d.cpuSecondsPerGiB.tus, 2)} / ${fmt(d.cpuSecondsPerGiB.put, 2)} / ${fmt(d.cpuSecondsPerGiB.nginx, 2)}`,
        fmt(r.sluicePeakRssMB, 0),
        d.resume ? `${d.resume.resent} B (chunk ${formatBytes(d.resume.chunk)})` : 'n/a',
        r.pass === null ? 'n/a' : r.pass ? 'pass' : 'FAIL',
      ],
    ],
  );
  return `${table}\nmedians of ${String((r.details as { rounds?: number }).rounds)} rounds (PUT, tus, nginx in turn); MB = 10^6 bytes`;
}

async function main(): Promise<void> {
  deadline(envInt('BENCH_TIMEOUT', 2700) * 1000, 'the tus benchmark');
  let code = 0;
  try {
    const results = await runTusBench();
    await runCleanup();
    console.log(formatTusTable(results));
    for (const r of results) if (r.error) console.log(`${r.id}: ${r.error}`);
    emitResults(results);
  } catch (e) {
    process.stderr.write(`[tus] failed: ${(e as Error).stack ?? String(e)}\n`);
    code = 1;
  } finally {
    await runCleanup();
  }
  process.exit(code);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
