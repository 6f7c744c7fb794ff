/**
 * Passkeys over HTTP with a software authenticator: registration in a web session (list, rename,
 * remove), sign-in without a password, the passkey as the second factor after the password
 * (MFA_REQUIRED first), single-use challenges, wrong origin, a counter that did not grow, another
 * user's passkey after a password, tokens refused for registration, administrators' list and
 * removal, the ledger and the OpenAPI entries.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { bearer, ledger, serve, tokenFor, type Served } from './helpers.js';

const ORIGIN = 'http://localhost:18080';
type Json = Record<string, unknown> & { error?: { code: string; details?: Record<string, unknown> } };
interface Ceremony {
  ceremonyId: string;
  options: { challenge: string; rp: { id: string }; user: { id: string }; rpId?: string; allowCredentials?: { id: string }[] };
}

for (const dialect of DIALECTS) {
  describe(`HTTP passkeys (${dialect})`, () => {
    let s: Served;

    async function call(method: string, path: string, cookie: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
      const r = await fetch(`${s.base}${path}`, {
        method,
        headers: { ...(cookie ? { cookie, origin: s.base } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      const c = r.headers.getSetCookie().find((x) => x.startsWith('sluice_session='));
      return { status: r.status, body: (text ? JSON.parse(text) : null) as Json, cookie: c?.split(';')[0] };
    }
    /** Authenticators registered per user (a user with one needs it after the password). */
    const keys = new Map<string, SoftAuthenticator>();
    async function login(who: string) {
      const k = keys.get(who);
      if (k) {
        const o = (await call('POST', '/api/v1/auth/passkey/second-options', undefined, { login: who, password: TEST_PASSWORD })).body as unknown as Ceremony;
        const r = await call('POST', '/api/v1/auth/passkey', undefined, { ceremonyId: o.ceremonyId, response: k.get(o.options) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.cookie as string;
      }
      const r = await call('POST', '/api/v1/auth/login', undefined, { login: who, password: TEST_PASSWORD });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.cookie as string;
    }
    async function register(cookie: string, a: SoftAuthenticator, name?: string) {
      const o = await call('POST', '/api/v1/me/passkeys/options', cookie);
      assert.equal(o.status, 200, JSON.stringify(o.body));
      const c = o.body as unknown as Ceremony;
      const r = await call('POST', '/api/v1/me/passkeys', cookie, { ceremonyId: c.ceremonyId, response: a.create(c.options), ...(name ? { name } : {}) });
      const who = (await call('GET', '/api/v1/auth/me', cookie)).body.user as { login: string };
      if (r.status === 201 && !keys.has(who.login)) keys.set(who.login, a);
      return r;
    }
    async function passwordless(a: SoftAuthenticator, over: Parameters<SoftAuthenticator['get']>[1] = {}) {
      const o = await call('POST', '/api/v1/auth/passkey/options', undefined);
      assert.equal(o.status, 200);
      const c = o.body as unknown as Ceremony;
      return { ceremony: c, result: await call('POST', '/api/v1/auth/passkey', undefined, { ceremonyId: c.ceremonyId, response: a.get(c.options, over) }) };
    }

    before(async () => {
      s = await serve(dialect, { SLUICE_PUBLIC_URL: ORIGIN });
      await s.t.user('lena', { org: 'Acme' });
      await s.t.user('omar', { org: 'Acme' });
    });
    after(() => s.close());

    it('registers a passkey in a web session, lists, renames it; a token cannot register one', async () => {
      const cookie = await login('lena');
      const a = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
      const o = await call('POST', '/api/v1/me/passkeys/options', cookie);
      const c = o.body as unknown as Ceremony;
      assert.equal(c.options.rp.id, 'localhost');
      const reg = await call('POST', '/api/v1/me/passkeys', cookie, { ceremonyId: c.ceremonyId, response: a.create(c.options), name: 'Laptop' });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      assert.equal(reg.body.id, a.id);
      assert.equal(reg.body.name, 'Laptop');
      keys.set('lena', a);
      // The same ceremony again: used up.
      const again = await call('POST', '/api/v1/me/passkeys', cookie, { ceremonyId: c.ceremonyId, response: a.create(c.options) });
      assert.equal(again.status, 400);
      const list = await call('GET', '/api/v1/me/passkeys', cookie);
      assert.deepEqual(
        (list.body.passkeys as { id: string; name: string }[]).map((k) => [k.id, k.name]),
        [[a.id, 'Laptop']],
      );
      const ren = await call('PATCH', `/api/v1/me/passkeys/${a.id}`, cookie, { name: 'Work laptop' });
      assert.equal(ren.status, 200);
      assert.equal(ren.body.name, 'Work laptop');
      // Wrong origin in the answer: refused.
      const b = new SoftAuthenticator({ origin: 'http://evil.example', rpId: 'localhost' });
      assert.equal((await register(cookie, b)).status, 400);
      // A token may list but not register.
      const token = await tokenFor(s.t, 'lena');
      const viaToken = await fetch(`${s.base}/api/v1/me/passkeys/options`, { method: 'POST', headers: bearer(token) });
      assert.equal(viaToken.status, 403);
    });

    it('signs in without a password; the counter must grow; a challenge works once', async () => {
      const cookie = await login('omar');
      const a = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
      assert.equal((await register(cookie, a, 'Phone')).status, 201);
      const { ceremony, result } = await passwordless(a);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal((result.body.user as { login: string }).login, 'omar');
      assert.ok(result.cookie);
      assert.equal((await call('GET', '/api/v1/auth/me', result.cookie)).status, 200);
      // The same ceremony once more: refused.
      const replay = await call('POST', '/api/v1/auth/passkey', undefined, { ceremonyId: ceremony.ceremonyId, response: a.get(ceremony.options) });
      assert.equal(replay.status, 401);
      // A counter that did not grow (a cloned authenticator): refused.
      const cloned = await passwordless(a, { counter: 1 });
      assert.equal(cloned.result.status, 401);
      // Without user verification: refused for passwordless sign-in.
      const noUv = await passwordless(a, { flags: 0x01 });
      assert.equal(noUv.result.status, 401);
      // An unknown credential.
      const stranger = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
      assert.equal((await passwordless(stranger)).result.status, 401);
      const list = (await call('GET', '/api/v1/me/passkeys', cookie)).body.passkeys as { lastUsedAt: number | null }[];
      assert.ok(list[0]?.lastUsedAt);
    });

    it("after the password a passkey user gets MFA_REQUIRED and signs in with the passkey; not with another user's", async () => {
      await s.t.user('pia', { org: 'Acme' });
      const pc = await login('pia');
      const pa = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
      assert.equal((await register(pc, pa)).status, 201);
      const pw = await call('POST', '/api/v1/auth/login', undefined, { login: 'pia', password: TEST_PASSWORD });
      assert.equal(pw.status, 401);
      assert.equal(pw.body.error?.code, 'MFA_REQUIRED');
      assert.deepEqual(pw.body.error?.details, { totp: false, passkey: true });
      assert.equal(pw.cookie, undefined);
      // A wrong password gets no options.
      const wrong = await call('POST', '/api/v1/auth/passkey/second-options', undefined, { login: 'pia', password: 'wrong wrong wrong' });
      assert.equal(wrong.status, 401);
      const o = await call('POST', '/api/v1/auth/passkey/second-options', undefined, { login: 'pia', password: TEST_PASSWORD });
      assert.equal(o.status, 200);
      const c = o.body as unknown as Ceremony;
      assert.deepEqual(
        c.options.allowCredentials?.map((x) => x.id),
        [pa.id],
      );
      // Another user's passkey in answer to pia's password: refused (and the ceremony is spent).
      const omarKey = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
      const oc = await login('omar');
      assert.equal((await register(oc, omarKey)).status, 201);
      const o2 = (await call('POST', '/api/v1/auth/passkey/second-options', undefined, { login: 'pia', password: TEST_PASSWORD })).body as unknown as Ceremony;
      assert.equal((await call('POST', '/api/v1/auth/passkey', undefined, { ceremonyId: o2.ceremonyId, response: omarKey.get(o2.options) })).status, 401);
      const ok = await call('POST', '/api/v1/auth/passkey', undefined, { ceremonyId: c.ceremonyId, response: pa.get(c.options) });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal((ok.body.user as { login: string }).login, 'pia');
      const ev = await ledger(s.t, { action: 'auth.login' });
      const details = ev.filter((e) => e.actor_login === 'pia' && e.outcome === 'success').map((e) => JSON.parse(String(e.detail)) as { factors?: string[] });
      assert.ok(details.some((d) => JSON.stringify(d.factors) === JSON.stringify(['password', 'passkey'])));
      const refused = ev.filter((e) => e.outcome === 'failure').map((e) => String(e.detail));
      assert.ok(refused.some((d) => d.includes('passkey of another user than the password')));
    });

    it("the owner removes a passkey; administrators list and remove anyone's; partners may not", async () => {
      await s.t.user('root3', { role: 'admin' });
      const admin = await login('root3');
      const cookie = await login('lena');
      const other = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
      const added = await register(cookie, other, 'Spare');
      assert.equal(added.status, 201);
      assert.equal((await call('GET', '/api/v1/admin/users/lena/passkeys', cookie)).status, 403);
      const list = await call('GET', '/api/v1/admin/users/lena/passkeys', admin);
      assert.equal(list.status, 200);
      const ids = (list.body.passkeys as { id: string }[]).map((k) => k.id);
      assert.equal(ids.length, 2);
      assert.equal((await call('DELETE', `/api/v1/me/passkeys/${other.id}`, cookie)).status, 204);
      const rest = ids.find((x) => x !== other.id) as string;
      assert.equal((await call('DELETE', `/api/v1/admin/users/lena/passkeys/${rest}`, admin)).status, 204);
      assert.deepEqual((await call('GET', '/api/v1/me/passkeys', cookie)).body.passkeys, []);
      keys.delete('lena');
      // Without a passkey the password alone signs lena in again.
      assert.equal((await call('POST', '/api/v1/auth/login', undefined, { login: 'lena', password: TEST_PASSWORD })).status, 200);
      const actions = (await ledger(s.t)).filter((e) => e.action.startsWith('passkey.')).map((e) => `${e.action}:${e.outcome}`);
      for (const x of ['passkey.register:success', 'passkey.register:failure', 'passkey.rename:success', 'passkey.remove:success', 'passkey.register:denied'])
        assert.ok(actions.includes(x), x);
    });

    it('another user cannot rename or remove my passkey', async () => {
      const lena = await login('lena');
      const a = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
      assert.equal((await register(lena, a)).status, 201);
      await s.t.user('quin', { org: 'Acme' });
      const q = await login('quin');
      assert.equal((await call('DELETE', `/api/v1/me/passkeys/${a.id}`, q)).status, 404);
      assert.equal((await call('PATCH', `/api/v1/me/passkeys/${a.id}`, q, { name: 'mine now' })).status, 404);
      assert.equal(((await call('GET', '/api/v1/me/passkeys', lena)).body.passkeys as unknown[]).length, 1);
    });

    it('the routes are in the OpenAPI document', async () => {
      const doc = (await (await fetch(`${s.base}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      for (const [p, m] of [
        ['/api/v1/auth/passkey/options', 'post'],
        ['/api/v1/auth/passkey/second-options', 'post'],
        ['/api/v1/auth/passkey', 'post'],
        ['/api/v1/me/passkeys', 'get'],
        ['/api/v1/me/passkeys', 'post'],
        ['/api/v1/me/passkeys/options', 'post'],
        ['/api/v1/me/passkeys/{id}', 'patch'],
        ['/api/v1/me/passkeys/{id}', 'delete'],
        ['/api/v1/admin/users/{login}/passkeys', 'get'],
        ['/api/v1/admin/users/{login}/passkeys/{id}', 'delete'],
      ] as const)
        assert.ok(doc.paths[p]?.[m], `${m} ${p}`);
    });
  });
}
