/** Ports and HTTP(S) requests on loopback, with self-signed certificates accepted. */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { sleep } from './proc.js';

/** A TCP port that was free a moment ago on `host` (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One small HTTP(S) request (the body is read whole: not for transfers). TLS certificates are
 * not checked: the peers here use throwaway self-signed ones.
 */
export function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<Reply> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      { method: opts.method ?? 'GET', headers: opts.headers ?? {}, rejectUnauthorized: false, agent: false, timeout: opts.timeoutMs ?? 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 1_000_000) body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer within ${(opts.timeoutMs ?? 10_000) / 1000} s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * Polls `url` until it answers with `okStatus` (default any 2xx), `alive()` turns false (the
 * server died: fails at once), or `timeoutMs` passes.
 */
export async function waitForUrl(
  url: string,
  opts: { timeoutMs?: number; okStatus?: number; headers?: Record<string, string>; alive?: () => boolean; intervalMs?: number } = {},
): Promise<Reply> {
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  let last = 'no answer';
  for (;;) {
    if (opts.alive && !opts.alive()) throw new Error(`${url}: the server exited before answering (${last})`);
    try {
      const r = await request(url, { timeoutMs: 5000, ...(opts.headers ? { headers: opts.headers } : {}) });
      if (opts.okStatus === undefined ? r.status >= 200 && r.status < 300 : r.status === opts.okStatus) return r;
      last = `status ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${(opts.timeoutMs ?? 60_000) / 1000} s (${last})`);
    await sleep(opts.intervalMs ?? 200);
  }
}
