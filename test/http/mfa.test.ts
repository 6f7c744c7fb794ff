/**
 * Two-factor sign-in over HTTP: login with and without `otp` (MFA_REQUIRED only after a right
 * password), self-service enrolment (start, confirm, disable with a code) in a web session, the
 * rules around it (tokens cannot enrol, CSRF Origin check, 409 while active), the OpenAPI entries.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { bearer, serve, tokenFor, type Served } from './helpers.js';

const codeAt = (base32: string, ms: number) => TOTP.generate({ secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: ms });
const STEP = 30_000;

for (const dialect of DIALECTS) {
  describe(`HTTP two-factor sign-in (${dialect})`, () => {
    let s: Served;

    async function login(login: string, password: string, otp?: string) {
      const r = await fetch(`${s.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login, password, ...(otp !== undefined ? { otp } : {}) }),
      });
      const c = r.headers.getSetCookie().find((x) => x.startsWith('sluice_session='));
      return { status: r.status, body: (await r.json()) as { error?: { code: string; message: string } }, cookie: c?.split(';')[0] };
    }
    async function call(method: string, path: string, cookie: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
      const r = await fetch(`${s.base}${path}`, {
        method,
        headers: { ...(cookie ? { cookie, origin: s.base } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> & { error?: { code: string } }, headers: r.headers };
    }

    before(async () => {
      s = await serve(dialect, { SLUICE_LOCKOUT_THRESHOLD: '10' });
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Acme' });
      for (const u of ['mia', 'noah']) await s.t.user(u, { org: 'Acme' });
      // mia: two factors, enrolled by an administrator (confirmed with the previous step's code).
      const e = await s.t.core.admin.mfa.enable(s.t.system, 'mia');
      await s.t.core.admin.mfa.confirm(s.t.system, 'mia', codeAt(e.secret, Date.now() - STEP));
      secret = e.secret;
    });
    let secret = '';
    after(() => s.close());

    it('login of a two-factor user: MFA_REQUIRED without a code (only after the right password), 401 for a wrong code, 200 with the code', async () => {
      const without = await login('mia', TEST_PASSWORD);
      assert.equal(without.status, 401);
      assert.equal(without.body.error?.code, 'MFA_REQUIRED');
      assert.equal(without.cookie, undefined);
      const wrongPw = await login('mia', 'not the password at all');
      assert.equal(wrongPw.status, 401);
      assert.deepEqual(wrongPw.body, { error: { code: 'UNAUTHENTICATED', message: 'invalid credentials' } });
      const wrongPwWithCode = await login('mia', 'not the password at all', codeAt(secret, Date.now()));
      assert.deepEqual(wrongPwWithCode.body, { error: { code: 'UNAUTHENTICATED', message: 'invalid credentials' } });
      const good = codeAt(secret, Date.now());
      const wrong = await login('mia', TEST_PASSWORD, good === '000000' ? '111111' : '000000');
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.body, { error: { code: 'UNAUTHENTICATED', message: 'invalid credentials' } });
      const ok = await login('mia', TEST_PASSWORD, good);
      assert.equal(ok.status, 200);
      assert.ok(ok.cookie);
      const me = await call('GET', '/api/v1/auth/me', ok.cookie);
      assert.equal((me.body.user as { login: string }).login, 'mia');
      // The same code again: refused.
      const replay = await login('mia', TEST_PASSWORD, good);
      assert.equal(replay.status, 401);
      assert.equal(replay.body.error?.code, 'UNAUTHENTICATED');
      // A user without two factors ignores no field and needs none.
      assert.equal((await login('noah', TEST_PASSWORD)).status, 200);
      // Bearer tokens are unchanged for two-factor users.
      const token = await tokenFor(s.t, 'mia');
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: bearer(token) })).status, 200);
    });

    it('self-service: start (secret once), confirm with a code, 409 while active, disable with a current code', async () => {
      const l = await login('noah', TEST_PASSWORD);
      const cookie = l.cookie!;
      assert.equal((await call('GET', '/api/v1/me/mfa', cookie)).body.state, 'off');
      // A token cannot enrol (a stolen token must not add a second factor to an account).
      const token = await tokenFor(s.t, 'noah');
      const byToken = await call('POST', '/api/v1/me/mfa', undefined, undefined, bearer(token));
      assert.equal(byToken.status, 403);
      // CSRF: a cookie request without our Origin is refused and changes nothing.
      const csrf = await fetch(`${s.base}/api/v1/me/mfa`, { method: 'POST', headers: { cookie, origin: 'https://evil.example' } });
      assert.equal(csrf.status, 403);
      assert.equal((await call('GET', '/api/v1/me/mfa', cookie)).body.state, 'off');

      const start = await call('POST', '/api/v1/me/mfa', cookie);
      assert.equal(start.status, 201);
      assert.equal(start.headers.get('cache-control'), 'no-store');
      const b32 = start.body.secret as string;
      assert.match(b32, /^[A-Z2-7]{32}$/);
      assert.match(start.body.uri as string, /^otpauth:\/\/totp\/Sluice:noah\?.*secret=/);
      assert.equal(start.body.state, 'pending');
      // Pending: sign-in unchanged.
      assert.equal((await login('noah', TEST_PASSWORD)).status, 200);
      assert.equal((await call('POST', '/api/v1/me/mfa/recovery-codes', cookie)).status, 409); // SG-1: not while pending
      const bad = await call('POST', '/api/v1/me/mfa/confirm', cookie, { code: '12345x' });
      assert.equal(bad.status, 400);
      const now = Date.now();
      const confirmed = await call('POST', '/api/v1/me/mfa/confirm', cookie, { code: codeAt(b32, now - STEP) });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      assert.equal(confirmed.body.state, 'active');
      assert.equal((await call('POST', '/api/v1/me/mfa', cookie)).status, 409);
      assert.equal((await login('noah', TEST_PASSWORD)).body.error?.code, 'MFA_REQUIRED');
      const rc = await call('POST', '/api/v1/me/mfa/recovery-codes', cookie);
      assert.equal(rc.status, 201);
      assert.equal(rc.headers.get('cache-control'), 'no-store');
      const codes = rc.body.codes as string[];
      assert.equal(codes.length, 10);
      assert.equal((await login('noah', TEST_PASSWORD, codes[0])).status, 200);
      assert.equal((await login('noah', TEST_PASSWORD, codes[0])).status, 401);
      assert.equal((await call('GET', '/api/v1/me/mfa', cookie)).body.recoveryCodes, 9);
      // Disable: the body needs a code; a wrong one is refused.
      assert.equal((await call('DELETE', '/api/v1/me/mfa', cookie, {})).status, 400);
      const wrong = await call('DELETE', '/api/v1/me/mfa', cookie, { code: codeAt(b32, now - STEP) }); // the confirming code, replayed
      assert.equal(wrong.status, 400);
      const off = await call('DELETE', '/api/v1/me/mfa', cookie, { code: codeAt(b32, now) });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      assert.equal(off.body.state, 'off');
      assert.equal((await login('noah', TEST_PASSWORD)).status, 200);
      assert.equal((await login('noah', TEST_PASSWORD, codes[1])).status, 200); // wiped with the disabling: otp is ignored, the password alone signs in
      assert.equal((await call('GET', '/api/v1/me/mfa', cookie)).body.recoveryCodes, 0);
      const ev = (await s.t.core.audit.events(s.t.system, { limit: 10_000 }))
        .filter((e) => e.action.startsWith('mfa.') && e.login === 'noah')
        .map((e) => `${e.action}:${e.outcome}:${e.protocol}`);
      for (const x of [
        'mfa.enrol:success:web',
        'mfa.confirm:failure:web',
        'mfa.confirm:success:web',
        'mfa.disable:failure:web',
        'mfa.disable:success:web',
        'mfa.enrol:denied:http',
        'mfa.recovery:success:web',
      ])
        assert.ok(ev.includes(x), `${x} in ${ev.join()}`);
    });

    it("administrators manage a user's two-factor sign-in over the API; partners cannot", async () => {
      await s.t.user('olga', { org: 'Acme' });
      await s.t.user('root2', { role: 'admin' });
      const admin = bearer(await tokenFor(s.t, 'root2'));
      const partner = bearer(await tokenFor(s.t, 'noah'));
      const base = '/api/v1/admin/users/olga/mfa';
      assert.equal((await call('POST', base, undefined, undefined, partner)).status, 403);
      assert.equal((await call('GET', base, undefined, undefined, admin)).body.state, 'off');
      const e = await call('POST', base, undefined, undefined, admin);
      assert.equal(e.status, 201);
      assert.equal(e.headers.get('cache-control'), 'no-store');
      assert.equal(e.body.state, 'pending');
      assert.match(String(e.body.uri), /^otpauth:\/\/totp\//);
      const olgaSecret = String(e.body.secret);
      assert.equal((await login('olga', TEST_PASSWORD)).status, 200, 'pending: sign-in unchanged');
      assert.equal((await call('POST', `${base}/confirm`, undefined, { code: '12345x' }, admin)).status, 400);
      const ok = await call('POST', `${base}/confirm`, undefined, { code: codeAt(olgaSecret, Date.now() - STEP) }, admin);
      assert.equal(ok.body.state, 'active');
      assert.equal((await login('olga', TEST_PASSWORD)).body.error?.code, 'MFA_REQUIRED');
      const codes = await call('POST', `${base}/recovery-codes`, undefined, undefined, admin);
      assert.equal(codes.status, 201);
      assert.equal((codes.body.codes as string[]).length, 10);
      assert.equal((await call('GET', base, undefined, undefined, admin)).body.recoveryCodes, 10);
      const off = await call('DELETE', base, undefined, undefined, admin);
      assert.equal(off.body.state, 'off');
      assert.equal((await login('olga', TEST_PASSWORD)).status, 200, 'off again: password alone');
      const ledger = (await s.t.core.audit.events(s.t.system, { login: 'root2', limit: 1000 })).map((ev) => ev.action);
      for (const a of ['mfa.enrol', 'mfa.confirm', 'mfa.recovery', 'mfa.disable']) assert.ok(ledger.includes(a), `${a} recorded`);
    });

    it('documents the routes and the otp field in the OpenAPI document', async () => {
      const doc = (await (await fetch(`${s.base}/api/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>>;
      };
      assert.ok(doc.paths['/api/v1/me/mfa']?.get && doc.paths['/api/v1/me/mfa']?.post && doc.paths['/api/v1/me/mfa']?.delete);
      assert.ok(doc.paths['/api/v1/me/mfa/confirm']?.post);
      assert.ok(doc.paths['/api/v1/me/mfa/recovery-codes']?.post);
      assert.ok(doc.paths['/api/v1/admin/users/{login}/mfa']?.post);
      assert.ok(doc.paths['/api/v1/admin/users/{login}/mfa/confirm']?.post);
      assert.ok(doc.paths['/api/v1/auth/login']!.post!.requestBody!.content['application/json']!.schema.properties.otp);
    });
  });
}
