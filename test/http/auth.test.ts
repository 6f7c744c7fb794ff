/**
 * Web sign-in and sessions over real HTTP: the cookie's flags, CSRF (Origin) on cookie-
 * authenticated changes with no side effect when refused, logout, fixation, lockout, sessions
 * ending when a user is disabled, and the Secure __Host- cookie + HSTS under TLS.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { DIALECTS, tempDir } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { bearer, errorCode, serve, tokenFor, tree, type Served } from './helpers.js';

interface Login {
  readonly status: number;
  readonly setCookie: string[];
  readonly cookie: string | undefined;
  readonly body: unknown;
}

for (const dialect of DIALECTS) {
  describe(`HTTP web sign-in (${dialect})`, () => {
    let s: Served;
    let origin: string;

    async function login(loginName: string, password = TEST_PASSWORD, headers: Record<string, string> = {}): Promise<Login> {
      const r = await fetch(`${s.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ login: loginName, password }),
      });
      const setCookie = r.headers.getSetCookie();
      const c = setCookie.find((x) => x.startsWith('sluice_session='));
      return { status: r.status, setCookie, cookie: c?.split(';')[0], body: await r.json() };
    }

    before(async () => {
      s = await serve(dialect);
      origin = s.base;
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      for (const u of ['alice', 'erin', 'fred', 'lock']) await t.user(u, { org: 'Acme' });
      for (const u of ['alice', 'erin']) await t.core.admin.grants.set(t.system, u, '/acme/inbox', 'list,read,write,delete');
    });
    after(() => s.close());

    it('login sets an HttpOnly, SameSite=Strict, Path=/ session cookie and answers { user }', async () => {
      const l = await login('alice');
      assert.equal(l.status, 200);
      assert.deepEqual(l.body, { user: { login: 'alice', role: 'partner', org: 'Acme' } });
      const c = l.setCookie.find((x) => x.startsWith('sluice_session='));
      assert.ok(c, JSON.stringify(l.setCookie));
      const attrs = c.split(';').map((a) => a.trim().toLowerCase());
      assert.ok(attrs.includes('httponly'), c);
      assert.ok(attrs.includes('samesite=strict'), c);
      assert.ok(attrs.includes('path=/'), c);
      assert.ok(!attrs.some((a) => a.startsWith('domain=')), c);
      assert.ok(!attrs.includes('secure'), 'plain HTTP on loopback: no Secure flag');
      assert.ok(
        attrs.some((a) => a.startsWith('expires=')),
        c,
      );
      assert.ok((l.cookie?.length ?? 0) > 30);
      const me = await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie: l.cookie! } });
      assert.equal(me.status, 200);
      assert.deepEqual(await me.json(), { user: { login: 'alice', role: 'partner', org: 'Acme' }, method: 'session' });
    });

    it('refuses wrong credentials alike (401, WWW-Authenticate, no cookie), and malformed bodies (400)', async () => {
      for (const [who, pw] of [
        ['alice', 'wrong password!'],
        ['nobody', 'whatever password'],
        ['ALICE ', 'wrong'],
      ] as const) {
        const r = await fetch(`${s.base}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ login: who, password: pw }),
        });
        assert.equal(r.status, 401, who);
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
        assert.deepEqual(r.headers.getSetCookie(), []);
        assert.deepEqual(await r.json(), { error: { code: 'UNAUTHENTICATED', message: 'invalid credentials' } });
      }
      for (const body of [
        '{"login":"alice"}',
        '{"login":"alice","password":"x","remember":true}',
        '{"login":["alice"],"password":"x"}',
        'login=alice&password=x',
      ]) {
        const r = await fetch(`${s.base}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': body.startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded' },
          body,
        });
        assert.ok(r.status === 400 || r.status === 415, body);
        assert.equal(errorCode(await r.json()), 'INVALID_INPUT', body);
      }
    });

    it('locks an account out after repeated failures, across the HTTP login', async () => {
      for (let i = 0; i < 5; i++) assert.equal((await login('lock', 'not the password')).status, 401);
      const l = await login('lock');
      assert.equal(l.status, 401, 'the right password no longer works while locked out');
      assert.equal(l.cookie, undefined);
    });

    it('refuses cookie-authenticated changes without a same-origin Origin (CSRF), with no side effect', async () => {
      const { cookie } = await login('erin');
      assert.ok(cookie);
      const before = await tree(s.t);
      const mkdir = (headers: Record<string, string>, name: string) =>
        fetch(`${s.base}/api/v1/fs-ops/mkdir`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ path: `/acme/inbox/${name}` }),
        });
      for (const [what, headers] of [
        ['no Origin', {}],
        ['foreign Origin', { origin: 'https://evil.test' }],
        ['Origin null', { origin: 'null' }],
        ['look-alike Origin', { origin: `${origin}.evil.test` }],
        ['userinfo Origin', { origin: `http://127.0.0.1@evil.test` }],
        ['other port', { origin: 'http://127.0.0.1:1' }],
        ['Referer is not enough', { referer: `${origin}/app` }],
      ] as const) {
        const r = await mkdir(headers, 'csrf');
        assert.equal(r.status, 403, what);
        assert.equal(errorCode(await r.json()), 'PERMISSION_DENIED', what);
      }
      const up = await fetch(`${s.base}/api/v1/fs/acme/inbox/csrf.txt`, { method: 'PUT', headers: { cookie, origin: 'https://evil.test' }, body: 'x' });
      assert.equal(up.status, 403);
      assert.deepEqual(await tree(s.t), before, 'nothing changed after the refusals');

      // The same requests from our own origin work; so does a bearer token without any Origin.
      assert.equal((await mkdir({ origin }, 'same-origin')).status, 201);
      const put = await fetch(`${s.base}/api/v1/fs/acme/inbox/own.txt`, { method: 'PUT', headers: { cookie, origin }, body: 'mine' });
      assert.equal(put.status, 201);
      const del = await fetch(`${s.base}/api/v1/fs/acme/inbox/own.txt`, { method: 'DELETE', headers: { cookie, origin: 'https://evil.test' } });
      assert.equal(del.status, 403);
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/inbox/own.txt`, { headers: { cookie } })).status, 200, 'still there');
      // Reading needs no Origin (safe method; SameSite=Strict keeps the cookie off cross-site requests).
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/inbox/`, { headers: { cookie, origin: 'https://evil.test' } })).status, 200);
      const tok = await tokenFor(s.t, 'erin');
      const viaBearer = await fetch(`${s.base}/api/v1/fs-ops/mkdir`, {
        method: 'POST',
        headers: { ...bearer(tok), 'content-type': 'application/json' },
        body: JSON.stringify({ path: '/acme/inbox/bearer' }),
      });
      assert.equal(viaBearer.status, 201);
    });

    it('refuses a cross-site login (login CSRF) and a planted session value (fixation)', async () => {
      const foreign = await login('alice', TEST_PASSWORD, { origin: 'https://evil.test' });
      assert.equal(foreign.status, 403);
      assert.equal(foreign.cookie, undefined);
      const planted = 'sluice_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie: planted } })).status, 401);
      const l = await login('alice', TEST_PASSWORD, { cookie: planted, origin });
      assert.equal(l.status, 200);
      assert.ok(l.cookie && l.cookie !== planted, 'a fresh session id is issued at login');
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie: planted } })).status, 401);
    });

    it('logout ends the session on the server and clears the cookie', async () => {
      const { cookie } = await login('alice');
      assert.ok(cookie);
      const noOrigin = await fetch(`${s.base}/api/v1/auth/logout`, { method: 'POST', headers: { cookie } });
      assert.equal(noOrigin.status, 403, 'logout is a change: same-origin only');
      const r = await fetch(`${s.base}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, origin } });
      assert.equal(r.status, 204);
      const cleared = r.headers.getSetCookie().find((c) => c.startsWith('sluice_session='));
      assert.ok(cleared && /sluice_session=;/.test(cleared) && /expires=Thu, 01 Jan 1970/i.test(cleared), cleared);
      const me = await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie } });
      assert.equal(me.status, 401, 'the old cookie is dead');
      // Logging out without a session is harmless.
      assert.equal((await fetch(`${s.base}/api/v1/auth/logout`, { method: 'POST' })).status, 204);
    });

    it('ends sessions when the user is disabled or their password changes', async () => {
      const a = await login('fred');
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie: a.cookie! } })).status, 200);
      await s.t.core.admin.users.update(s.t.system, 'fred', { password: 'another long password 42' });
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie: a.cookie! } })).status, 401);
      const b = await login('fred', 'another long password 42');
      assert.equal(b.status, 200);
      await s.t.core.admin.users.update(s.t.system, 'fred', { status: 'disabled' });
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie: b.cookie! } })).status, 401);
      assert.equal((await login('fred', 'another long password 42')).status, 401);
    });
  });

  describe(`HTTPS (${dialect})`, () => {
    let s: Served;
    let dir: ReturnType<typeof tempDir>;
    let ca: Buffer;

    before(async () => {
      dir = tempDir('tls');
      const key = path.join(dir.path, 'key.pem');
      const cert = path.join(dir.path, 'cert.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
        ],
        { stdio: 'ignore' },
      );
      ca = fs.readFileSync(cert);
      s = await serve(dialect, { SLUICE_TLS_CERT: cert, SLUICE_TLS_KEY: key });
      await s.t.user('alice', { org: 'Acme' });
    });
    after(async () => {
      await s.close();
      await dir.cleanup();
    });

    const request = (method: string, p: string, body?: string) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: s.port, method, path: p, ca, headers: body ? { 'content-type': 'application/json' } : {} },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    it('serves HTTPS with HSTS and a Secure __Host- session cookie', async () => {
      const h = await request('GET', '/healthz');
      assert.equal(h.status, 200);
      assert.match(String(h.headers['strict-transport-security']), /max-age=\d+/);
      const l = await request('POST', '/api/v1/auth/login', JSON.stringify({ login: 'alice', password: TEST_PASSWORD }));
      assert.equal(l.status, 200, l.text);
      const cookie = ([] as string[]).concat(l.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-sluice_session='));
      assert.ok(cookie, JSON.stringify(l.headers['set-cookie']));
      const attrs = cookie.split(';').map((a) => a.trim().toLowerCase());
      for (const a of ['secure', 'httponly', 'samesite=strict', 'path=/']) assert.ok(attrs.includes(a), `${a} in ${cookie}`);
      assert.ok(!attrs.some((a) => a.startsWith('domain=')));
      // Plain HTTP on the TLS port is not answered as HTTP.
      const plain = await fetch(`http://127.0.0.1:${s.port}/healthz`)
        .then((r) => r.status)
        .catch(() => 'refused');
      assert.notEqual(plain, 200);
    });
  });
}
