/**
 * curl as the HTTP client of the benchmarks: one transfer per call, HTTP/1.1, TLS 1.3 with one
 * pinned cipher suite (so both servers must use the same one), self-signed certificates
 * accepted, `Expect: 100-continue` off (so neither server's handling of it skews an upload).
 */
import { spawn } from 'node:child_process';
import { run } from './exec.js';
import { sha256Stream } from './fixtures.js';

export interface CurlOptions {
  readonly url: string;
  readonly method?: string;
  /** Upload this file as the request body (curl -T: PUT unless `method` says otherwise). */
  readonly uploadFile?: string;
  /** Where the response body goes (default /dev/null). */
  readonly output?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** TLS 1.3 cipher suite the client offers, alone (default TLS_AES_256_GCM_SHA384). */
  readonly tls13Cipher?: string;
  /** curl --max-time in seconds (default 600). */
  readonly maxTimeS?: number;
}

export interface CurlResult {
  readonly httpCode: number;
  /** Seconds from start to the end of the transfer (curl's time_total). */
  readonly timeTotal: number;
  readonly sizeDownload: number;
  readonly sizeUpload: number;
  /** Bytes per second as curl reports them (size / time_total). */
  readonly speedDownload: number;
  readonly speedUpload: number;
}

export const DEFAULT_TLS13_CIPHER = 'TLS_AES_256_GCM_SHA384';

function args(o: CurlOptions): string[] {
  const a = ['-sS', '-k', '-g', '--http1.1', '--max-time', String(o.maxTimeS ?? 600), '-H', 'Expect:'];
  if (o.url.startsWith('https:')) a.push('--tlsv1.3', '--tls13-ciphers', o.tls13Cipher ?? DEFAULT_TLS13_CIPHER);
  if (o.method) a.push('-X', o.method);
  if (o.uploadFile) a.push('-T', o.uploadFile);
  if (headerLines(o)) a.push('-H', '@-'); // from standard input: a bearer token stays out of `ps`
  return a;
}

function headerLines(o: CurlOptions): string {
  return Object.entries(o.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
}

const WRITE_OUT = '%{http_code} %{time_total} %{size_download} %{size_upload} %{speed_download} %{speed_upload}';

function parseWriteOut(text: string): CurlResult {
  const [code, total, down, up, sDown, sUp] = text.trim().split(/\s+/).map(Number);
  return {
    httpCode: code ?? 0,
    timeTotal: total ?? 0,
    sizeDownload: down ?? 0,
    sizeUpload: up ?? 0,
    speedDownload: sDown ?? 0,
    speedUpload: sUp ?? 0,
  };
}

/** One timed transfer; the body goes to `output` (default /dev/null). Throws if curl fails. */
export async function curl(o: CurlOptions): Promise<CurlResult> {
  const r = await run('curl', [...args(o), '-o', o.output ?? '/dev/null', '-w', WRITE_OUT, o.url], {
    timeoutMs: ((o.maxTimeS ?? 600) + 30) * 1000,
    input: headerLines(o),
  });
  return parseWriteOut(r.stdout);
}

/** A download whose body is hashed on the way (not for timing: the hashing shares the CPU). */
export function curlSha256(o: CurlOptions): Promise<{ sha256: string; bytes: number; httpCode: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', [...args(o), '-o', '-', '-w', `%{stderr}${WRITE_OUT}`, o.url], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {});
    child.stdin.end(headerLines(o));
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), ((o.maxTimeS ?? 600) + 30) * 1000);
    const hashed = sha256Stream(child.stdout);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      hashed.then((h) => {
        if (code !== 0) return reject(new Error(`curl ${o.url} exited with ${code}: ${err.trim()}`));
        resolve({ ...h, httpCode: parseWriteOut(err.split('\n').pop() ?? '').httpCode });
      }, reject);
    });
  });
}
