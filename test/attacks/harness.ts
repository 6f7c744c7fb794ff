/**
 * The attack suite's target: a real Sluice instance with its HTTP and SFTP front ends on loopback
 * (test/sftp/helpers.ts serveSftp), seeded with the corpus's cast (attack corpus §0):
 *
 *   root   administrator (bearer token `tokens.root`)
 *   alice  partner of Acme (IK 123456780): list,read,write,delete on /acme/inbox, K_alice
 *   bob    partner of Beta (Betriebsnummer 98000006): the same on /beta/inbox, K_bob,
 *          and /beta/inbox/secret.txt that nobody else may read
 *   evil   K_evil, authorized for nobody
 *
 * plus the checks every replay ends with (attack corpus §0 "Default Expect"):
 *   snapshot()/unchanged(): no state change (accounts, organisations, folders, files, grants,
 *     keys, tokens, settings, blobs) — read through a second database connection, not the core;
 *   safe()/sftpSafe(): a 4xx / an SFTP failure whose text holds no stack trace, SQL, server path
 *     or secret, and never a canary's content;
 *   egress: a TCP listener nothing may connect to (payloads point at it);
 *   healthy(): the server still answers /healthz and /readyz and serves alice over SFTP;
 *   events(): what the ledger recorded since a mark.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths as instancePaths } from '../../src/app/instance.js';
import type { TestDialect } from '../helpers/dialects.js';
import { tempDir } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { blobCount, rawHead, rawRequest, tokenFor, type RawResponse } from '../http/helpers.js';
import { serveSftp, type SftpServed } from '../sftp/helpers.js';
import type { SftpLimits } from '../../src/protocols/sftp/server.js';
import { connect, RawSftp, str, T, userKey, type Reply, type UserKey } from '../sftp/raw.js';

export const IK = '123456780';
export const BETRIEBSNUMMER = '98000006';
export const ALICE_FILE = '/acme/inbox/alice.txt';
export const ALICE_BODY = 'alice-owns-this\n';
export const BOB_SECRET = '/beta/inbox/secret.txt';
export const BOB_BODY = 'BOB-SECRET-7f3a9c\n';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

export interface Egress {
  readonly port: number;
  readonly url: string;
  /** Connections received so far (must stay 0). */
  readonly hits: number;
  close(): Promise<void>;
}

export interface Snapshot {
  readonly rows: Record<string, unknown[]>;
  readonly blobs: number;
}

export interface Target {
  readonly s: SftpServed;
  readonly base: string;
  readonly port: number;
  readonly tokens: { readonly root: string; readonly alice: string; readonly bob: string };
  readonly keys: { readonly alice: UserKey; readonly bob: UserKey; readonly evil: UserKey };
  readonly egress: Egress;
  /** A file outside every storage root; its content must never appear in an answer. */
  readonly outsideFile: string;
  readonly outsideBody: string;
  http(method: string, url: string, opts?: { token?: string; headers?: Record<string, string>; body?: string | Buffer; json?: unknown }): Promise<HttpAnswer>;
  raw(request: string | Buffer): Promise<RawResponse>;
  rawHead(method: string, target: string, headers?: Record<string, string | number>): string;
  snapshot(): Promise<Snapshot>;
  unchanged(before: Snapshot, what: string): Promise<void>;
  /** Asserts an answer is a refusal (4xx, or `allowed`) with the JSON error shape and nothing internal; returns the code. */
  safe(r: HttpAnswer | RawResponse, what: string, allowed?: readonly number[]): string;
  /** Asserts the text of any answer holds nothing internal and no canary. */
  clean(text: string, what: string): void;
  /** Asserts an SFTP reply is a failure status with a clean message. */
  sftpFailed(r: Reply, what: string): void;
  sftp(login?: 'alice' | 'bob'): Promise<RawSftp>;
  healthy(): Promise<void>;
  /** The ledger's last sequence number (a mark for events()). */
  mark(): Promise<number>;
  events(since: number, filter?: { action?: string; outcome?: string }): Promise<LedgerRow[]>;
  close(): Promise<void>;
}

export interface LedgerRow {
  readonly seq: number;
  readonly action: string;
  readonly outcome: string;
  readonly actor_login: string | null;
  readonly protocol: string;
  readonly target_path: string | null;
  readonly detail: string;
}

/** What an error text must never contain: stack frames, source files, SQL, driver errors. */
const INTERNALS =
  /\n\s+at |\bat [\w.<>]+ \(|node_modules|\.[cm]?[jt]s:\d|\/work\/|\/tmp\/|\/usr\/|\bselect\b[^"]{0,80}\bfrom\b|insert into|delete from|\bupdate\b[^"]{0,40}\bset\b|SQLITE_|syntax error|relation "|duplicate key|violates|ECONNREFUSED|TypeError|ReferenceError|RangeError|Cannot read prop/i;

export function egressCanary(): Promise<Egress> {
  return new Promise((resolve) => {
    let hits = 0;
    const sockets = new Set<net.Socket>();
    const server = net.createServer((sock) => {
      hits++;
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.destroy();
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}/`,
        get hits() {
          return hits;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

export async function attackTarget(dialect: TestDialect, opts: { env?: Record<string, string>; limits?: Partial<SftpLimits> } = {}): Promise<Target> {
  const s = await serveSftp(dialect, { env: { SLUICE_LOCKOUT_THRESHOLD: '1000', ...opts.env }, ...(opts.limits ? { limits: opts.limits } : {}) });
  const { t } = s;
  const egress = await egressCanary();
  const outside = tempDir('attack-outside');
  const outsideBody = `OUTSIDE-CANARY-${Math.random().toString(36).slice(2)}`;
  const outsideFile = path.join(outside.path, 'outside.txt');
  fs.writeFileSync(outsideFile, outsideBody);

  await t.user('root', { role: 'admin' });
  await t.core.admin.orgs.create(t.system, { name: 'Acme', ik: IK });
  await t.core.admin.orgs.create(t.system, { name: 'Beta', betriebsnummer: BETRIEBSNUMMER });
  await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
  await t.core.admin.folders.create(t.system, '/beta/inbox', { org: 'Beta' });
  await t.user('alice', { org: 'Acme' });
  await t.user('bob', { org: 'Beta' });
  await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write,delete');
  await t.core.admin.grants.set(t.system, 'bob', '/beta/inbox', 'list,read,write,delete');
  const keys = { alice: userKey(), bob: userKey(), evil: userKey() };
  await t.core.admin.keys.add(t.system, 'alice', keys.alice.publicLine);
  await t.core.admin.keys.add(t.system, 'bob', keys.bob.publicLine);
  const [root, alice, bob] = await Promise.all([tokenFor(t, 'root'), tokenFor(t, 'alice'), tokenFor(t, 'bob')]);
  const base = s.httpBase;
  const put = async (p: string, body: string, token: string) => {
    const r = await fetch(`${base}/api/v1/fs${p}`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body });
    assert.equal(r.status, 201, `seed ${p}`);
  };
  await put(ALICE_FILE, ALICE_BODY, alice);
  await put(BOB_SECRET, BOB_BODY, bob);
  const port = s.port;

  const dbOf = () => openDatabase({ url: t.config.databaseUrl, sqlitePath: instancePaths(t.config).sqlite });

  const target: Target = {
    s,
    base,
    port,
    tokens: { root, alice, bob },
    keys,
    egress,
    outsideFile,
    outsideBody,
    async http(method, url, o = {}) {
      const headers: Record<string, string> = { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers };
      let body: string | Buffer | undefined = o.body;
      if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        headers['content-type'] ??= 'application/json';
      }
      const r = await fetch(`${base}${url}`, { method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
      return { status: r.status, headers: r.headers, text: await r.text() };
    },
    raw: (request) => rawRequest(Number(new URL(base).port), request),
    rawHead,
    async snapshot() {
      const { db, close } = await dbOf();
      try {
        const rows: Record<string, unknown[]> = {};
        rows.users = await db
          .selectFrom('users')
          .select([
            'id',
            'login',
            'org_id',
            'role',
            'status',
            'display_name',
            'email',
            'password_hash',
            'expires_at',
            'mfa_state',
            'totp_secret',
            'mfa_recovery',
          ])
          .orderBy('id')
          .execute();
        rows.orgs = await db.selectFrom('orgs').selectAll().orderBy('id').execute();
        rows.folders = await db.selectFrom('folders').selectAll().orderBy('id').execute();
        rows.files = await db
          .selectFrom('files')
          .select(['id', 'folder_id', 'name', 'size', 'sha256', 'blob_key', 'metadata', 'modified_at'])
          .orderBy('id')
          .execute();
        rows.grants = await db.selectFrom('grants').selectAll().orderBy('id').execute();
        rows.ssh_keys = await db.selectFrom('ssh_keys').selectAll().orderBy('id').execute();
        rows.tokens = await db.selectFrom('tokens').select(['id', 'user_id', 'name', 'secret_hash', 'expires_at', 'revoked_at']).orderBy('id').execute();
        rows.passkeys = await db.selectFrom('passkeys').select(['id']).orderBy('id').execute();
        rows.canaries = await db.selectFrom('canaries').selectAll().execute();
        rows.settings = await db.selectFrom('settings').selectAll().execute();
        rows.blob_inline = await db.selectFrom('blob_inline').select(['blob_key']).orderBy('blob_key').execute();
        rows.blob_pending = await db.selectFrom('blob_pending').selectAll().execute();
        return { rows, blobs: blobCount(t) };
      } finally {
        await close();
      }
    },
    async unchanged(before, what) {
      const after = await target.snapshot();
      for (const table of Object.keys(before.rows)) {
        assert.deepEqual(after.rows[table], before.rows[table], `${what}: table ${table} changed`);
      }
      assert.equal(after.blobs, before.blobs, `${what}: blobs in the store changed`);
      assert.equal(egress.hits, 0, `${what}: an outbound connection reached the egress canary`);
      assert.equal(fs.readFileSync(outsideFile, 'utf8'), outsideBody, `${what}: the file outside every root changed`);
    },
    clean(text, what) {
      assert.ok(!INTERNALS.test(text), `${what}: internal detail in the answer: ${text.slice(0, 400)}`);
      assert.ok(!text.includes(t.dataDir) && !text.includes(outside.path), `${what}: a server path in the answer: ${text.slice(0, 400)}`);
      assert.ok(!text.includes(outsideBody) && !text.includes(BOB_BODY.trim()) && !/root:x?:0:0/.test(text), `${what}: a canary's content in the answer`);
    },
    safe(r, what, allowed) {
      const ok = allowed ? allowed.includes(r.status) : r.status >= 400 && r.status < 500;
      assert.ok(ok, `${what}: expected a refusal, got ${r.status} ${r.text.slice(0, 300)}`);
      target.clean(r.text, what);
      let body: unknown;
      try {
        body = JSON.parse(r.text);
      } catch {
        assert.fail(`${what}: not JSON: ${r.text.slice(0, 200)}`);
      }
      const e = (body as { error?: { code?: unknown; message?: unknown } }).error;
      assert.ok(e && typeof e.code === 'string' && typeof e.message === 'string', `${what}: not the JSON error shape: ${r.text.slice(0, 200)}`);
      return e.code as string;
    },
    sftpFailed(r, what) {
      assert.equal(r.type, 101, `${what}: expected a STATUS reply, got type ${r.type}`);
      assert.notEqual(r.code, 0, `${what}: the server answered OK`);
      target.clean(r.message ?? '', what);
    },
    async sftp(login = 'alice') {
      const c = await connect(port, login, { key: keys[login] });
      return RawSftp.open(c);
    },
    async healthy() {
      for (const p of ['/healthz', '/readyz']) {
        const r = await fetch(`${base}${p}`);
        assert.equal(r.status, 200, `${p} after the attack`);
        await r.arrayBuffer();
      }
      const me = await fetch(`${base}/api/v1/fs${ALICE_FILE}`, { headers: { authorization: `Bearer ${alice}` } });
      assert.equal(me.status, 200, 'alice can still download over HTTP');
      assert.equal(await me.text(), ALICE_BODY);
      const sftp = await target.sftp('alice');
      try {
        const st = await sftp.request(T.STAT, str(ALICE_FILE));
        assert.equal(st.type, 105, 'alice can still STAT over SFTP');
      } finally {
        sftp.end();
      }
    },
    async mark() {
      const { db, close } = await dbOf();
      try {
        const r = await db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.max('seq').as('m'))
          .executeTakeFirst();
        return Number(r?.m ?? 0);
      } finally {
        await close();
      }
    },
    async events(since, filter = {}) {
      const { db, close } = await dbOf();
      try {
        let q = db
          .selectFrom('audit_events')
          .select(['seq', 'action', 'outcome', 'actor_login', 'protocol', 'target_path', 'detail'])
          .where('seq', '>', since)
          .orderBy('seq');
        if (filter.action) q = q.where('action', '=', filter.action);
        if (filter.outcome) q = q.where('outcome', '=', filter.outcome);
        return (await q.execute()).map((r) => ({ ...r, seq: Number(r.seq) }));
      } finally {
        await close();
      }
    },
    async close() {
      await egress.close();
      await s.close();
      await outside.cleanup();
    },
  };
  return target;
}

export { TEST_PASSWORD };

/** Runs `fn` over `items` with at most `n` at a time (keeps sweeps quick without flooding the server). */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
