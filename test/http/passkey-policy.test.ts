/**
 * Passkeys required, over real HTTP with a software authenticator: an administrator requires
 * passkeys for an organisation and for a role; their users' password sign-in is refused with
 * PASSKEY_REQUIRED (and recorded), or — with a passkey registered — asked for the passkey, which
 * then signs them in; SFTP's password step is refused too; everyone else signs in as before;
 * partners cannot change the policy (refused by the core, in the ledger).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { bearer, ledger, serve, tokenFor, type Served } from './helpers.js';

const ORIGIN = 'http://localhost:18080';
type Json = Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } };
interface Ceremony {
  ceremonyId: string;
  options: Parameters<SoftAuthenticator['get']>[0] & Parameters<SoftAuthenticator['create']>[0];
}

for (const dialect of DIALECTS) {
  describe(`HTTP passkey-required policy (${dialect})`, () => {
    let s: Served;
    let admin: string;
    const lenaKey = new SoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });

    async function call(method: string, path: string, opts: { cookie?: string; token?: string; body?: unknown } = {}) {
      const r = await fetch(`${s.base}${path}`, {
        method,
        headers: {
          ...(opts.cookie ? { cookie: opts.cookie, origin: s.base } : {}),
          ...(opts.token ? bearer(opts.token) : {}),
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
      const text = await r.text();
      const c = r.headers.getSetCookie().find((x) => x.startsWith('sluice_session='));
      return { status: r.status, body: (text ? JSON.parse(text) : null) as Json, cookie: c?.split(';')[0] };
    }
    const passwordLogin = (login: string) => call('POST', '/api/v1/auth/login', { body: { login, password: TEST_PASSWORD } });

    before(async () => {
      s = await serve(dialect, { SLUICE_PUBLIC_URL: ORIGIN });
      await s.t.user('root', { role: 'admin' });
      admin = await tokenFor(s.t, 'root');
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Praxis Nord', ik: '123456780' });
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Labor Süd', betriebsnummer: '98000006' });
      await s.t.user('lena', { org: 'Praxis Nord' });
      await s.t.user('nils', { org: 'Praxis Nord' });
      await s.t.user('omar', { org: 'Labor Süd' });
      await s.t.user('sina', { org: 'Labor Süd', role: 'staff' });
      // lena registers a passkey while no policy applies.
      const cookie = (await passwordLogin('lena')).cookie!;
      const o = (await call('POST', '/api/v1/me/passkeys/options', { cookie })).body as unknown as Ceremony;
      const reg = await call('POST', '/api/v1/me/passkeys', { cookie, body: { ceremonyId: o.ceremonyId, response: lenaKey.create(o.options) } });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
    });
    after(() => s.close());

    it('an administrator requires passkeys for an organisation; its users are refused without one', async () => {
      const set = await call('PUT', '/api/v1/admin/policy/passkeys', { token: admin, body: { roles: [], orgs: ['praxis nord'] } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body, { roles: [], orgs: ['Praxis Nord'] });
      assert.deepEqual((await call('GET', '/api/v1/admin/policy/passkeys', { token: admin })).body, { roles: [], orgs: ['Praxis Nord'] });

      // nils has no passkey: refused with a clear code, and the refusal is recorded.
      const nils = await passwordLogin('nils');
      assert.equal(nils.status, 401);
      assert.equal(nils.body.error?.code, 'PASSKEY_REQUIRED');
      assert.match(nils.body.error!.message, /passkey/);
      assert.equal(nils.cookie, undefined, 'no session');
      const fails = (await ledger(s.t, { action: 'auth.login' })).filter((e) => e.actor_login === 'nils' && e.outcome === 'failure');
      assert.ok(
        fails.some((e) => JSON.parse(e.detail).reason === 'passkey required'),
        JSON.stringify(fails),
      );
      // The same over SFTP's password step.
      await assert.rejects(s.t.core.auth.passwordStep('nils', TEST_PASSWORD, { protocol: 'sftp', remoteAddr: '127.0.0.1' }), { code: 'PASSKEY_REQUIRED' });

      // lena has one: the password step asks for it, and the passkey signs her in.
      const lena = await passwordLogin('lena');
      assert.equal(lena.status, 401);
      assert.equal(lena.body.error?.code, 'MFA_REQUIRED');
      assert.deepEqual(lena.body.error?.details, { totp: false, passkey: true, passkeyRequired: true });
      const o = (await call('POST', '/api/v1/auth/passkey/second-options', { body: { login: 'lena', password: TEST_PASSWORD } })).body as unknown as Ceremony;
      const second = await call('POST', '/api/v1/auth/passkey', { body: { ceremonyId: o.ceremonyId, response: lenaKey.get(o.options) } });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.ok(second.cookie);
      const pl = (await call('POST', '/api/v1/auth/passkey/options')).body as unknown as Ceremony;
      const passwordless = await call('POST', '/api/v1/auth/passkey', { body: { ceremonyId: pl.ceremonyId, response: lenaKey.get(pl.options) } });
      assert.equal(passwordless.status, 200, JSON.stringify(passwordless.body));

      // Another organisation signs in as before; SSH keys and tokens are untouched by the policy.
      assert.equal((await passwordLogin('omar')).status, 200);
      const nilsToken = await tokenFor(s.t, 'nils');
      assert.equal((await call('GET', '/api/v1/auth/me', { token: nilsToken })).status, 200);
    });

    it('a role can be required too; lifting the policy lets password sign-in back in', async () => {
      assert.equal((await passwordLogin('sina')).status, 200);
      const set = await call('PUT', '/api/v1/admin/policy/passkeys', { token: admin, body: { roles: ['staff'], orgs: [] } });
      assert.deepEqual(set.body, { roles: ['staff'], orgs: [] });
      const sina = await passwordLogin('sina');
      assert.equal(sina.status, 401);
      assert.equal(sina.body.error?.code, 'PASSKEY_REQUIRED');
      assert.equal((await passwordLogin('nils')).status, 200, 'Praxis Nord is no longer required');
      assert.equal((await passwordLogin('omar')).status, 200);
      await call('PUT', '/api/v1/admin/policy/passkeys', { token: admin, body: { roles: [], orgs: [] } });
      assert.equal((await passwordLogin('sina')).status, 200);
      const unknown = await call('PUT', '/api/v1/admin/policy/passkeys', { token: admin, body: { roles: [], orgs: ['Nirgendwo'] } });
      assert.equal(unknown.status, 404);
      const bad = await call('PUT', '/api/v1/admin/policy/passkeys', { token: admin, body: { roles: ['root'], orgs: [] } });
      assert.equal(bad.status, 400);
      const changes = await ledger(s.t, { action: 'policy.passkeys.set' });
      assert.equal(changes.filter((e) => e.outcome === 'success').length, 3);
    });

    it('partners cannot change the policy: refused by the core, in the ledger', async () => {
      const omar = await tokenFor(s.t, 'omar');
      for (const [m, b] of [
        ['GET', undefined],
        ['PUT', { roles: [], orgs: [] }],
      ] as const) {
        const r = await call(m, '/api/v1/admin/policy/passkeys', { token: omar, ...(b ? { body: b } : {}) });
        assert.equal(r.status, 403, m);
        assert.equal(r.body.error?.code, 'PERMISSION_DENIED');
      }
      const denied = (await ledger(s.t)).filter((e) => e.actor_login === 'omar' && e.outcome === 'denied' && e.action.startsWith('policy.'));
      assert.deepEqual(denied.map((e) => e.action).sort(), ['policy.passkeys.get', 'policy.passkeys.set']);
    });
  });
}
