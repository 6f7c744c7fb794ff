/**
 * OIDC sign-in against a real OpenID provider (oidc-provider on loopback), browser-less: the
 * redirects are followed over HTTP with a cookie jar per site. Provisioning of staff, role from
 * the groups claim (and its change), no role → refused, partner role refused, matching by
 * issuer+sub and never by name or e-mail, the flow bound to the browser and used once, the ledger.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { startOp, type TestOp } from '../helpers/oidc-op.js';
import { ledger, serve, type Served } from './helpers.js';

const PUBLIC = 'http://localhost:18082';
const REDIRECT = `${PUBLIC}/api/v1/auth/oidc/callback`;

class Jar {
  private readonly c = new Map<string, string>();
  take(r: Response) {
    for (const sc of r.headers.getSetCookie()) {
      const [pair = '', ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const gone =
        value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now()));
      if (gone) this.c.delete(name);
      else this.c.set(name, value);
    }
  }
  get(name: string) {
    return this.c.get(name);
  }
  header() {
    return [...this.c].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

for (const dialect of DIALECTS) {
  describe(`OIDC sign-in (${dialect})`, () => {
    let s: Served;
    let op: TestOp;

    /** The browser: start at Sluice, through the provider, back to Sluice's callback. Returns the callback's answer. */
    async function signIn(account: string, opts: { dropFlowCookie?: boolean; keepCallback?: (url: string) => void } = {}) {
      op.account = account;
      const sluice = new Jar();
      const idp = new Jar();
      let r = await fetch(`${s.base}/api/v1/auth/oidc/start`, { redirect: 'manual' });
      assert.equal(r.status, 302);
      sluice.take(r);
      let next = r.headers.get('location') as string;
      assert.ok(next.startsWith(op.issuer), next);
      for (let hops = 0; hops < 20; hops++) {
        if (next.startsWith(REDIRECT)) break;
        const url = new URL(next, op.issuer).href;
        r = await fetch(url, { redirect: 'manual', headers: { cookie: idp.header() } });
        idp.take(r);
        assert.ok(r.status >= 300 && r.status < 400, `${r.status} at ${url}: ${await r.text()}`);
        next = r.headers.get('location') as string;
      }
      assert.ok(next.startsWith(REDIRECT), next);
      opts.keepCallback?.(next);
      const cb = next.replace(PUBLIC, s.base);
      r = await fetch(cb, { redirect: 'manual', headers: opts.dropFlowCookie ? {} : { cookie: sluice.header() } });
      sluice.take(r);
      const body = await r.text();
      return { status: r.status, body, session: sluice.get('sluice_session'), flowCookie: sluice.get('sluice_oidc') };
    }
    async function me(session: string | undefined) {
      const r = await fetch(`${s.base}/api/v1/auth/me`, { headers: session ? { cookie: `sluice_session=${session}` } : {} });
      return { status: r.status, body: (await r.json()) as { user?: { login: string; role: string } } };
    }

    before(async () => {
      op = await startOp(REDIRECT);
      s = await serve(dialect, {
        SLUICE_PUBLIC_URL: PUBLIC,
        SLUICE_OIDC_ISSUER: op.issuer,
        SLUICE_OIDC_CLIENT_ID: op.clientId,
        SLUICE_OIDC_CLIENT_SECRET: op.clientSecret,
        SLUICE_OIDC_ROLE_CLAIM: 'groups',
        SLUICE_OIDC_ROLES: 'sluice-admins:admin,sluice-staff:staff,sluice-partners:partner',
        SLUICE_OIDC_PROVISION: 'true',
        SLUICE_OIDC_ORG: 'Kasse',
      });
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Kasse' });
      await s.t.user('carl', { org: 'Kasse', role: 'staff' });
      op.accounts['sub-ann'] = { preferred_username: 'ann', email: 'ann@kasse.example', groups: ['everyone', 'sluice-staff'] };
      op.accounts['sub-bob'] = { preferred_username: 'bob', groups: ['everyone'] };
      op.accounts['sub-carl-elsewhere'] = { preferred_username: 'carl', email: 'carl@kasse.example', groups: ['sluice-staff'] };
      op.accounts['sub-pat'] = { preferred_username: 'pat', groups: ['sluice-partners'] };
    });
    after(async () => {
      await s.close();
      await op.close();
    });

    it('the app can ask whether the button is shown', async () => {
      assert.deepEqual(await (await fetch(`${s.base}/api/v1/auth/oidc`)).json(), { enabled: true });
    });

    it('a staff member is provisioned at first sign-in, found by subject the next time; the role follows the claim', async () => {
      const first = await signIn('sub-ann');
      assert.equal(first.status, 200);
      assert.match(first.body, /url=\/"/);
      assert.ok(first.session);
      assert.equal(first.flowCookie, undefined);
      const m = await me(first.session);
      assert.equal(m.status, 200);
      assert.deepEqual([m.body.user?.login, m.body.user?.role], ['ann', 'staff']);
      op.accounts['sub-ann'] = { ...op.accounts['sub-ann'], groups: ['sluice-admins', 'sluice-staff'] };
      const second = await signIn('sub-ann');
      const m2 = await me(second.session);
      assert.deepEqual([m2.body.user?.login, m2.body.user?.role], ['ann', 'admin']);
      const users = await s.t.core.admin.users.list(s.t.system, {});
      assert.equal(users.filter((u) => u.login.startsWith('ann')).length, 1);
      const ev = await ledger(s.t, { action: 'auth.login' });
      assert.ok(
        ev.some((e) => e.actor_login === 'ann' && e.outcome === 'success' && String(e.detail).includes('"oidc"') && String(e.detail).includes('sub-ann')),
      );
      assert.ok((await ledger(s.t, { action: 'user.update' })).some((e) => String(e.detail).includes('"previousRole":"staff"')));
    });

    it('a user whose claim maps to no role, and a partner, are refused', async () => {
      for (const who of ['sub-bob', 'sub-pat']) {
        const r = await signIn(who);
        assert.equal(r.status, 200);
        assert.match(r.body, /signin=refused/);
        assert.equal(r.session, undefined);
      }
      const reasons = (await ledger(s.t, { action: 'auth.login' })).filter((e) => e.outcome === 'failure').map((e) => String(e.detail));
      assert.ok(reasons.some((d) => d.includes('no role for the claim values') && d.includes('sub-bob')));
      assert.ok(reasons.some((d) => d.includes('the partner role is not allowed') && d.includes('sub-pat')));
    });

    it('the same name or e-mail as a local user does not sign in as that user', async () => {
      const r = await signIn('sub-carl-elsewhere');
      const m = await me(r.session);
      assert.equal(m.status, 200);
      assert.notEqual(m.body.user?.login, 'carl');
      assert.equal(m.body.user?.login, 'carl-2');
    });

    it('the flow is bound to the browser (its cookie) and works once', async () => {
      const noCookie = await signIn('sub-ann', { dropFlowCookie: true });
      assert.match(noCookie.body, /signin=refused/);
      assert.equal(noCookie.session, undefined);
      let cb = '';
      const ok = await signIn('sub-ann', {
        keepCallback: (u) => {
          cb = u;
        },
      });
      assert.ok(ok.session);
      // The same callback with a flow cookie again: the flow is spent. Start a new flow and present the old code with it.
      const start = await fetch(`${s.base}/api/v1/auth/oidc/start`, { redirect: 'manual' });
      const j = new Jar();
      j.take(start);
      const flow = j.get('sluice_oidc') as string;
      const replay = await fetch(cb.replace(PUBLIC, s.base), { redirect: 'manual', headers: { cookie: `sluice_oidc=${flow}` } });
      assert.match(await replay.text(), /signin=refused/);
      assert.ok(!replay.headers.getSetCookie().some((c) => c.startsWith('sluice_session=') && !c.startsWith('sluice_session=;')));
    });
  });
}
