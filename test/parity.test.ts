/**
 * Protocol parity: the same permission scenarios through HTTP and SFTP, against one instance.
 * For every scenario both protocols must give the same outcome — the same CoreError code (HTTP's
 * JSON code; SFTP's status as the one mapping table maps that code, with the same message) — write
 * no blob, and leave an audit event. One gate (architecture rule 1): a protocol that found its own
 * way around a check would show up here as a difference.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { DIALECTS } from './helpers/dialects.js';
import { blobCount, ledger, tokenFor } from './http/helpers.js';
import { STATUS as HTTP_STATUS } from '../src/protocols/http/errors.js';
import { SFTP_STATUS } from '../src/protocols/sftp/status.js';
import type { ErrorCode } from '../src/core/index.js';
import { serveSftp, type SftpServed } from './sftp/helpers.js';
import { connect, FX, OPEN, RawSftp, str, T, u32, userKey, WRITE_NEW, type UserKey } from './sftp/raw.js';

type Op =
  | { readonly op: 'upload'; readonly path: string; readonly size: number }
  | { readonly op: 'download'; readonly path: string }
  | { readonly op: 'list'; readonly path: string }
  | { readonly op: 'mkdir'; readonly path: string }
  | { readonly op: 'delete'; readonly path: string }
  | { readonly op: 'rename'; readonly from: string; readonly to: string };

/** What happened, protocol-neutral: 'ok', or the CoreError code with its message. */
interface Outcome {
  readonly code: ErrorCode | 'ok';
  readonly message?: string | undefined;
  /** The protocol's own answer, for messages. */
  readonly raw: string;
}

interface Scenario {
  readonly name: string;
  readonly user: string;
  /**
   * `sftpExpect`: where SFTP's path rules differ (as OpenSSH's sftp-server, it resolves '.' and '..'
   * clamped at the root, so such a path is authorized as the path it resolves to; HTTP refuses dot
   * segments).
   */
  readonly ops: readonly (Op & { readonly expect: ErrorCode | 'ok'; readonly sftpExpect?: ErrorCode | 'ok' })[];
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'no grant',
    user: 'nogrant',
    ops: [
      { op: 'upload', path: '/muster/inbox/x.csv', size: 10, expect: 'NOT_FOUND' },
      { op: 'download', path: '/muster/outbox/report.csv', expect: 'NOT_FOUND' },
      { op: 'list', path: '/muster/inbox', expect: 'NOT_FOUND' },
      { op: 'mkdir', path: '/muster/inbox/sub', expect: 'NOT_FOUND' },
      { op: 'delete', path: '/muster/outbox/report.csv', expect: 'NOT_FOUND' },
      { op: 'rename', from: '/muster/outbox/report.csv', to: '/muster/outbox/r2.csv', expect: 'NOT_FOUND' },
    ],
  },
  {
    name: 'read-only',
    user: 'reader',
    ops: [
      { op: 'upload', path: '/muster/outbox/new.csv', size: 10, expect: 'PERMISSION_DENIED' },
      { op: 'mkdir', path: '/muster/outbox/sub', expect: 'PERMISSION_DENIED' },
      { op: 'delete', path: '/muster/outbox/report.csv', expect: 'PERMISSION_DENIED' },
      { op: 'rename', from: '/muster/outbox/report.csv', to: '/muster/outbox/r2.csv', expect: 'PERMISSION_DENIED' },
    ],
  },
  {
    name: "another partner's folder",
    user: 'muster',
    ops: [
      { op: 'download', path: '/other/inbox/secret.csv', expect: 'NOT_FOUND' },
      { op: 'upload', path: '/other/inbox/x.csv', size: 10, expect: 'NOT_FOUND' },
      { op: 'list', path: '/other/inbox', expect: 'NOT_FOUND' },
      { op: 'delete', path: '/other/inbox/secret.csv', expect: 'NOT_FOUND' },
      { op: 'rename', from: '/muster/inbox/mine.csv', to: '/other/inbox/mine.csv', expect: 'NOT_FOUND' },
      { op: 'rename', from: '/other/inbox/secret.csv', to: '/muster/inbox/stolen.csv', expect: 'NOT_FOUND' },
    ],
  },
  {
    name: 'escaping paths',
    user: 'muster',
    ops: [
      { op: 'download', path: '/muster/inbox/../../other/inbox/secret.csv', expect: 'INVALID_PATH', sftpExpect: 'NOT_FOUND' },
      { op: 'upload', path: '/muster/inbox/../../other/inbox/x.csv', size: 10, expect: 'INVALID_PATH', sftpExpect: 'NOT_FOUND' },
      { op: 'download', path: '/muster/inbox/../../../../../other/inbox/secret.csv', expect: 'INVALID_PATH', sftpExpect: 'NOT_FOUND' },
      { op: 'upload', path: '/muster/inbox/..\\..\\other\\inbox\\x.csv', size: 10, expect: 'INVALID_PATH' },
      { op: 'rename', from: '/muster/inbox/mine.csv', to: '/muster/inbox/../../other/inbox/mine.csv', expect: 'INVALID_PATH', sftpExpect: 'NOT_FOUND' },
    ],
  },
  {
    name: 'over quota',
    user: 'muster',
    ops: [{ op: 'upload', path: '/muster/inbox/big.bin', size: 300 * 1024, expect: 'QUOTA_EXCEEDED' }],
  },
  {
    name: 'disabled user',
    user: 'gone',
    ops: [
      { op: 'list', path: '/muster/inbox', expect: 'UNAUTHENTICATED' },
      { op: 'download', path: '/muster/outbox/report.csv', expect: 'UNAUTHENTICATED' },
    ],
  },
];

const describeOp = (o: Op) => (o.op === 'rename' ? `rename ${o.from} -> ${o.to}` : `${o.op} ${o.path}`);

// --- HTTP ------------------------------------------------------------------------------------

/** The URL path for a virtual path, percent-encoding each name but keeping '..' and '\' literal (as a client would send them). */
const fsUrl = (p: string, trailing = false) =>
  '/api/v1/fs' +
  p
    .split('/')
    .map((seg) => encodeURIComponent(seg).replaceAll('%5C', '\\'))
    .join('/') +
  (trailing ? '/' : '');

function httpRequest(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    // node:http sends the path as written: no '..' normalisation (fetch would resolve it).
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers },
      },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function viaHttp(s: SftpServed, token: string, o: Op): Promise<Outcome> {
  let r: { status: number; body: string };
  switch (o.op) {
    case 'upload':
      r = await httpRequest(s.httpBase, token, 'PUT', fsUrl(o.path), randomBytes(o.size));
      break;
    case 'download':
      r = await httpRequest(s.httpBase, token, 'GET', fsUrl(o.path));
      break;
    case 'list':
      r = await httpRequest(s.httpBase, token, 'GET', fsUrl(o.path, true));
      break;
    case 'delete':
      r = await httpRequest(s.httpBase, token, 'DELETE', fsUrl(o.path));
      break;
    case 'mkdir':
      r = await httpRequest(s.httpBase, token, 'POST', '/api/v1/fs-ops/mkdir', JSON.stringify({ path: o.path }), { 'content-type': 'application/json' });
      break;
    case 'rename':
      r = await httpRequest(s.httpBase, token, 'POST', '/api/v1/fs-ops/rename', JSON.stringify({ from: o.from, to: o.to }), {
        'content-type': 'application/json',
      });
      break;
  }
  if (r.status < 300) return { code: 'ok', raw: String(r.status) };
  const e = (JSON.parse(r.body) as { error: { code: ErrorCode; message: string } }).error;
  assert.equal(r.status, HTTP_STATUS[e.code], `HTTP status for ${e.code}`);
  return { code: e.code, message: e.message, raw: `${r.status} ${e.code}` };
}

// --- SFTP ------------------------------------------------------------------------------------

interface SftpAnswer {
  readonly status: number;
  readonly message: string;
}

async function viaSftpRaw(sftp: RawSftp, o: Op): Promise<SftpAnswer> {
  const done = (code: number | undefined, message: string | undefined): SftpAnswer => ({ status: code ?? 0, message: message ?? '' });
  switch (o.op) {
    case 'upload': {
      const h = await sftp.open(o.path, WRITE_NEW);
      if (!h.handle) return done(h.code, h.message);
      const data = randomBytes(o.size);
      let fail: SftpAnswer | undefined;
      for (let off = 0; off < data.length && !fail; off += 32 * 1024) {
        const w = await sftp.write(h.handle, off, data.subarray(off, off + 32 * 1024));
        if (w.code !== FX.OK) fail = done(w.code, w.message);
      }
      const c = await sftp.close(h.handle);
      return fail ?? done(c.code, c.message);
    }
    case 'download': {
      const h = await sftp.open(o.path, OPEN.READ);
      if (!h.handle) return done(h.code, h.message);
      const r = await sftp.read(h.handle, 0, 1024);
      await sftp.close(h.handle);
      return r.data ? done(FX.OK, '') : done(r.code, r.message);
    }
    case 'list': {
      const h = await sftp.request(T.OPENDIR, str(o.path));
      if (!h.handle) return done(h.code, h.message);
      await sftp.close(h.handle);
      return done(FX.OK, '');
    }
    case 'delete': {
      const r = await sftp.request(T.REMOVE, str(o.path));
      return done(r.code, r.message);
    }
    case 'mkdir': {
      const r = await sftp.request(T.MKDIR, str(o.path), u32(0));
      return done(r.code, r.message);
    }
    case 'rename': {
      const r = await sftp.request(T.RENAME, str(o.from), str(o.to));
      return done(r.code, r.message);
    }
  }
}

for (const dialect of DIALECTS) {
  describe(`protocol parity: HTTP and SFTP (${dialect})`, () => {
    let s: SftpServed;
    const tokens: Record<string, string> = {};
    const keys: Record<string, UserKey> = {};

    before(async () => {
      s = await serveSftp(dialect);
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Muster', quotaBytes: 200 * 1024 });
      await t.core.admin.orgs.create(t.system, { name: 'Other' });
      await t.core.admin.folders.create(t.system, '/muster/inbox', { org: 'Muster' });
      await t.core.admin.folders.create(t.system, '/muster/outbox', { org: 'Muster' });
      await t.core.admin.folders.create(t.system, '/other/inbox', { org: 'Other' });
      for (const [login, org] of [
        ['muster', 'Muster'],
        ['reader', 'Muster'],
        ['nogrant', 'Muster'],
        ['gone', 'Muster'],
        ['other', 'Other'],
      ] as const) {
        await t.user(login, { org });
        keys[login] = userKey();
        await t.core.admin.keys.add(t.system, login, keys[login].publicLine);
        tokens[login] = await tokenFor(t, login);
      }
      await t.core.admin.grants.set(t.system, 'muster', '/muster/inbox', 'list,read,write,delete');
      await t.core.admin.grants.set(t.system, 'reader', '/muster/outbox', 'list,read');
      await t.core.admin.grants.set(t.system, 'gone', '/muster', 'all');
      await t.core.admin.grants.set(t.system, 'other', '/other/inbox', 'all');
      const put = async (p: string, b: Buffer) =>
        t.core.files.upload(
          t.system,
          p,
          (async function* () {
            yield b;
          })(),
        );
      await put('/muster/outbox/report.csv', Buffer.from('IK;Betrag\n'));
      await put('/muster/inbox/mine.csv', Buffer.from('mine'));
      await put('/other/inbox/secret.csv', Buffer.from('secret'));
      await t.core.admin.users.update(t.system, 'gone', { status: 'disabled' });
    });
    after(() => s?.close());

    for (const sc of SCENARIOS) {
      it(`${sc.name}: same outcome over HTTP and SFTP, no blob written, an audit event`, async () => {
        const tree = async () =>
          JSON.stringify(await s.t.core.files.list(s.t.system, '/muster/inbox')) +
          JSON.stringify(await s.t.core.files.list(s.t.system, '/other/inbox')) +
          JSON.stringify(await s.t.core.files.list(s.t.system, '/muster/outbox'));
        const treeBefore = await tree();
        const blobsBefore = blobCount(s.t);

        // SFTP: a user that cannot sign in gets no session at all.
        let sftp: RawSftp | undefined;
        let authError: Error | undefined;
        try {
          sftp = await RawSftp.open(await connect(s.port, sc.user, { key: keys[sc.user]! }));
        } catch (e) {
          authError = e as Error;
        }
        try {
          for (const o of sc.ops) {
            const what = `${sc.name}: ${describeOp(o)}`;
            const before = await ledger(s.t);
            const h = await viaHttp(s, tokens[sc.user]!, o);
            assert.equal(h.code, o.expect, `${what} over HTTP: ${h.raw} ${h.message ?? ''}`);
            const afterHttp = await ledger(s.t);

            if (o.expect === 'UNAUTHENTICATED') {
              assert.ok(authError, `${what}: SFTP signed in a user HTTP refuses`);
              assert.match(authError.message, /authentication methods failed/i, what);
            } else {
              assert.ok(sftp, `${what}: SFTP sign-in failed: ${authError?.message}`);
              const a = await viaSftpRaw(sftp, o);
              const want = o.sftpExpect ?? o.expect;
              const expectStatus = want === 'ok' ? FX.OK : SFTP_STATUS[want];
              assert.equal(a.status, expectStatus, `${what} over SFTP: status ${a.status} "${a.message}", expected ${expectStatus} (${want})`);
              if (h.message !== undefined && o.sftpExpect === undefined) assert.equal(a.message, h.message, `${what}: the same message on both protocols`);
            }
            const afterSftp = await ledger(s.t);

            const httpEvents = afterHttp.slice(before.length).filter((e) => e.protocol === 'http' && e.outcome !== 'success');
            const sftpEvents = afterSftp.slice(afterHttp.length).filter((e) => e.protocol === 'sftp' && e.outcome !== 'success');
            assert.ok(httpEvents.length >= 1, `${what}: an audit event for the HTTP attempt`);
            if (o.expect !== 'UNAUTHENTICATED') assert.ok(sftpEvents.length >= 1, `${what}: an audit event for the SFTP attempt`);
          }
          if (sc.user === 'gone') {
            const fails = (await ledger(s.t, { action: 'auth.login' })).filter((e) => e.protocol === 'sftp' && e.outcome === 'failure');
            assert.ok(
              fails.some((e) => JSON.parse(e.detail).reason === 'user disabled'),
              'the SFTP sign-in of the disabled user is recorded with its reason',
            );
          }
        } finally {
          sftp?.end();
        }
        assert.equal(blobCount(s.t), blobsBefore, 'no blob written (or left behind)');
        assert.equal(await tree(), treeBefore, 'nothing changed');
      });
    }

    it('control: the same operations succeed for a user with the rights, on both protocols', async () => {
      const h = await viaHttp(s, tokens.muster!, { op: 'upload', path: '/muster/inbox/ok-http.csv', size: 100 });
      assert.equal(h.code, 'ok');
      const sftp = await RawSftp.open(await connect(s.port, 'muster', { key: keys.muster! }));
      try {
        assert.equal((await viaSftpRaw(sftp, { op: 'upload', path: '/muster/inbox/ok-sftp.csv', size: 100 })).status, FX.OK);
        assert.equal((await viaSftpRaw(sftp, { op: 'download', path: '/muster/inbox/ok-http.csv' })).status, FX.OK);
        assert.equal((await viaHttp(s, tokens.muster!, { op: 'download', path: '/muster/inbox/ok-sftp.csv' })).code, 'ok');
      } finally {
        sftp.end();
      }
    });
  });
}
