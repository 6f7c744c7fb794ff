/**
 * A real Sluice HTTP server for tests: a real instance (test/helpers/instance.ts) behind
 * buildHttpServer, listening on 127.0.0.1:0, plus clients that do not normalise what they send
 * (raw sockets) and a few helpers.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildHttpServer } from '../../src/protocols/http/server.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths as instancePaths } from '../../src/app/instance.js';
import type { TestDialect } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';

export interface Served {
  readonly t: TestInstance;
  readonly app: FastifyInstance;
  readonly port: number;
  readonly base: string;
  /** Log lines the server wrote (JSON objects). */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function serve(dialect: TestDialect, env: Record<string, string> = {}): Promise<Served> {
  const t = await testInstance(dialect, env);
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    {
      write(line: string) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ unparsable: line });
        }
      },
    },
  );
  const app = await buildHttpServer({ core: t.core, config: t.config, log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return {
    t,
    app,
    port: addr.port,
    base: `http://127.0.0.1:${addr.port}`,
    logs,
    async close() {
      await app.close();
      await t.cleanup();
    },
  };
}

/** A bearer token for a user (created through the core, as the CLI would). */
export async function tokenFor(t: TestInstance, login: string, expiresInMs?: number): Promise<string> {
  const r = await t.core.admin.tokens.create(t.system, login, expiresInMs !== undefined ? { expiresInMs } : {});
  return r.token;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export interface RawResponse {
  /** Everything the server sent, interim responses included. */
  readonly raw: Buffer;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly text: string;
  json(): unknown;
}

/** Parses one HTTP/1.1 response (Content-Length or close-delimited; no chunked bodies expected for errors). */
export function parseResponse(buf: Buffer): RawResponse {
  // Skip interim 1xx responses (100 Continue).
  let start = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', start);
    if (end === -1) throw new Error(`incomplete response: ${JSON.stringify(buf.subarray(start, start + 200).toString('latin1'))}`);
    const head = buf.subarray(start, end).toString('latin1');
    const [statusLine = '', ...lines] = head.split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    if (status >= 100 && status < 200) {
      start = end + 4;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let body = buf.subarray(end + 4);
    if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
    else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
    const text = body.toString('utf8');
    return { raw: buf, status, headers, body, text, json: () => JSON.parse(text) as unknown };
  }
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const nl = b.indexOf('\r\n', i);
    if (nl === -1) break;
    const n = parseInt(b.subarray(i, nl).toString('latin1'), 16);
    if (!n) break;
    out.push(b.subarray(nl + 2, nl + 2 + n));
    i = nl + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/**
 * Sends `request` as written (nothing normalised, no encoding fixed) and resolves with everything
 * the server sent until it closed the connection (send `Connection: close`).
 */
export function rawRequest(port: number, request: string | Buffer, opts: { timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(request));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`raw request timed out; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`));
    }, opts.timeoutMs ?? 10_000);
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined); // a reset after the answer is fine; judge what arrived
    s.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** A GET/PUT/... request line and headers, raw. */
export function rawHead(method: string, target: string, headers: Record<string, string | number> = {}): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Asserts the JSON error shape and returns the code. */
export function errorCode(body: unknown): string {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string') throw new Error(`not the JSON error shape: ${JSON.stringify(body)}`);
  return e.code;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `fn` returns true (polling), or fails after `ms`. */
export async function eventually(fn: () => Promise<boolean> | boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Every file and folder in the tree, as the system sees it: "path (type, size)". */
export async function tree(t: TestInstance, at = '/'): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string) => {
    let cursor: string | undefined;
    do {
      const page = await t.core.files.list(t.system, p, cursor !== undefined ? { cursor } : {});
      for (const e of page.entries) {
        out.push(`${e.path} (${e.type}, ${e.size})`);
        if (e.type === 'folder') await walk(e.path);
      }
      cursor = page.next;
    } while (cursor !== undefined);
  };
  await walk(at);
  return out.sort();
}

/** Number of blob files in the instance's store (finished or partial). */
export function blobCount(t: TestInstance): number {
  const dir = path.join(t.dataDir, 'blobs');
  let n = 0;
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else n++;
    }
  };
  walk(dir);
  return n;
}

export interface LedgerEvent {
  readonly seq: number;
  readonly action: string;
  readonly outcome: string;
  readonly actor_login: string | null;
  readonly protocol: string;
  readonly target_path: string | null;
  readonly detail: string;
}

/** Reads the ledger directly (a second connection to the instance's database). */
export async function ledger(t: TestInstance, filter: { action?: string; target?: string } = {}): Promise<LedgerEvent[]> {
  const { db, close } = await openDatabase({ url: t.config.databaseUrl, sqlitePath: instancePaths(t.config).sqlite });
  try {
    let q = db.selectFrom('audit_events').select(['seq', 'action', 'outcome', 'actor_login', 'protocol', 'target_path', 'detail']).orderBy('seq');
    if (filter.action) q = q.where('action', '=', filter.action);
    if (filter.target) q = q.where('target_path', '=', filter.target);
    return (await q.execute()).map((r) => ({ ...r, seq: Number(r.seq) }));
  } finally {
    await close();
  }
}
