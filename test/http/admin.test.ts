/**
 * Administration over REST: organisations, users, SSH keys, folders, grants, tokens and ledger
 * verification, end to end with real HTTP; partners are refused (the core decides, HTTP maps).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, errorCode, serve, tokenFor, type Served } from './helpers.js';

function ed25519Line(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const str = (b: Buffer) => {
    const l = Buffer.alloc(4);
    l.writeUInt32BE(b.length);
    return Buffer.concat([l, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${comment}`;
}

for (const dialect of DIALECTS) {
  describe(`HTTP administration (${dialect})`, () => {
    let s: Served;
    let admin: string;
    const call = async (method: string, p: string, body?: unknown, tok = admin) => {
      const r = await fetch(`${s.base}${p}`, {
        method,
        headers: { ...bearer(tok), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    };

    before(async () => {
      s = await serve(dialect);
      await s.t.user('root', { role: 'admin' });
      admin = await tokenFor(s.t, 'root');
    });
    after(() => s.close());

    it('manages organisations: create, list, get by id or name, patch', async () => {
      const c = await call('POST', '/api/v1/admin/orgs', {
        name: 'Praxis Dr. Muster',
        ik: '123456780',
        contacts: [{ email: 'it@muster.test', name: 'IT' }],
        quotaBytes: 1_000_000,
      });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const org = c.body as { id: string; name: string; ik: string; quotaBytes: number; status: string; createdAt: string; contacts: unknown[] };
      assert.equal(org.name, 'Praxis Dr. Muster');
      assert.equal(org.ik, '123456780');
      assert.equal(org.status, 'active');
      assert.match(org.createdAt, /^\d{4}-\d\d-\d\dT.*Z$/);
      assert.deepEqual(org.contacts, [{ email: 'it@muster.test', name: 'IT' }]);
      assert.equal((await call('POST', '/api/v1/admin/orgs', { name: 'praxis dr. muster' })).status, 409);
      const list = await call('GET', '/api/v1/admin/orgs');
      assert.equal(list.status, 200);
      assert.deepEqual(
        (list.body as { name: string; usedBytes: number }[]).map((o) => [o.name, o.usedBytes]),
        [['Praxis Dr. Muster', 0]],
      );
      for (const ref of [org.id, encodeURIComponent('Praxis Dr. Muster')]) {
        const g = await call('GET', `/api/v1/admin/orgs/${ref}`);
        assert.equal(g.status, 200, ref);
        assert.equal((g.body as { id: string }).id, org.id);
      }
      const p = await call('PATCH', `/api/v1/admin/orgs/${org.id}`, { quotaBytes: null, betriebsnummer: '12345671' });
      assert.equal(p.status, 200);
      assert.equal((p.body as { quotaBytes: unknown }).quotaBytes, null);
      assert.equal((p.body as { betriebsnummer: string }).betriebsnummer, '12345671');
      const missing = await call('GET', '/api/v1/admin/orgs/nope');
      assert.equal(missing.status, 404);
      assert.equal(errorCode(missing.body), 'NOT_FOUND');
      const bad = await call('POST', '/api/v1/admin/orgs', { name: 'x', ik: '12' });
      assert.equal(bad.status, 400);
    });

    it('validates IK numbers and Betriebsnummern by their check digit, keeps them unique, finds by them', async () => {
      const wrongIk = await call('POST', '/api/v1/admin/orgs', { name: 'Klinik Falsch', ik: '123456789' });
      assert.equal(wrongIk.status, 400);
      assert.equal(errorCode(wrongIk.body), 'INVALID_INPUT');
      assert.match(JSON.stringify(wrongIk.body), /check digit of this IK number/);
      const wrongBn = await call('POST', '/api/v1/admin/orgs', { name: 'Firma Falsch', betriebsnummer: '98000007' });
      assert.equal(wrongBn.status, 400);
      assert.match(JSON.stringify(wrongBn.body), /check digit of this Betriebsnummer/);

      assert.equal((await call('POST', '/api/v1/admin/orgs', { name: 'Klinik Nord', ik: '260326822' })).status, 201);
      assert.equal((await call('POST', '/api/v1/admin/orgs', { name: 'Arbeitgeber Süd', betriebsnummer: '98000006' })).status, 201);
      const sameIk = await call('POST', '/api/v1/admin/orgs', { name: 'Klinik Zwei', ik: '260326822' });
      assert.equal(sameIk.status, 409);
      assert.equal(errorCode(sameIk.body), 'ALREADY_EXISTS');
      assert.match(JSON.stringify(sameIk.body), /Klinik Nord/);
      const created = await call('POST', '/api/v1/admin/orgs', { name: 'Klinik Drei' });
      const sameBn = await call('PATCH', `/api/v1/admin/orgs/${(created.body as { id: string }).id}`, { betriebsnummer: '98000006' });
      assert.equal(sameBn.status, 409);
      assert.match(JSON.stringify(sameBn.body), /Arbeitgeber Süd/);
      // Setting an organisation's own number again is no conflict.
      assert.equal((await call('PATCH', `/api/v1/admin/orgs/${encodeURIComponent('Klinik Nord')}`, { ik: '260326822' })).status, 200);

      const names = async (q: string) => ((await call('GET', `/api/v1/admin/orgs?q=${encodeURIComponent(q)}`)).body as { name: string }[]).map((o) => o.name);
      assert.deepEqual(await names('260326822'), ['Klinik Nord']);
      assert.deepEqual(await names('98000006'), ['Arbeitgeber Süd']);
      assert.deepEqual(await names('KLINIK'), ['Klinik Drei', 'Klinik Nord']);
      assert.deepEqual(await names('süd'), ['Arbeitgeber Süd']);
      assert.deepEqual(await names('%'), []);
      assert.deepEqual(await names('2603'), []);
    });

    it('manages users: create (generated password shown once), list by org, get, patch', async () => {
      const c = await call('POST', '/api/v1/admin/users', { login: 'Paula', org: 'Praxis Dr. Muster', generatePassword: true, displayName: 'Paula P.' });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const { user, password } = c.body as { user: Record<string, unknown>; password: string };
      assert.equal(user.login, 'paula');
      assert.equal(user.org, 'Praxis Dr. Muster');
      assert.equal(user.role, 'partner');
      assert.equal(user.lastLoginAt, null);
      assert.ok(typeof password === 'string' && password.length >= 16);
      assert.ok(!JSON.stringify(user).includes(password));
      const login = await fetch(`${s.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'paula', password }),
      });
      assert.equal(login.status, 200);
      const noPw = await call('POST', '/api/v1/admin/users', { login: 'keyonly', org: 'Praxis Dr. Muster' });
      assert.equal(noPw.status, 201);
      assert.equal((noPw.body as { password?: string }).password, undefined);
      const list = await call('GET', `/api/v1/admin/users?org=${encodeURIComponent('Praxis Dr. Muster')}`);
      assert.deepEqual(
        (list.body as { login: string }[]).map((u) => u.login),
        ['keyonly', 'paula'],
      );
      const g = await call('GET', '/api/v1/admin/users/paula');
      assert.equal((g.body as { lastLoginAt: string | null }).lastLoginAt !== null, true);
      const expires = new Date(Date.now() + 86_400_000).toISOString();
      const p = await call('PATCH', '/api/v1/admin/users/paula', { role: 'staff', expiresAt: expires });
      assert.equal(p.status, 200);
      assert.equal((p.body as { role: string }).role, 'staff');
      assert.equal((p.body as { expiresAt: string }).expiresAt, expires);
      assert.equal((await call('PATCH', '/api/v1/admin/users/paula', { expiresAt: 'tomorrow' })).status, 400);
      assert.equal((await call('POST', '/api/v1/admin/users', { login: 'nobody-org' })).status, 400);
      assert.equal((await call('POST', '/api/v1/admin/users', { login: 'paula', org: 'Praxis Dr. Muster' })).status, 409);
    });

    it('manages SSH keys: add, list, remove', async () => {
      const line = ed25519Line('paula@laptop');
      const a = await call('POST', '/api/v1/admin/users/paula/keys', { publicKey: line });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      const key = a.body as { id: string; algorithm: string; fingerprint: string; comment: string };
      assert.equal(key.algorithm, 'ssh-ed25519');
      assert.match(key.fingerprint, /^SHA256:/);
      assert.equal(key.comment, 'paula@laptop');
      assert.equal((await call('POST', '/api/v1/admin/users/paula/keys', { publicKey: line })).status, 409);
      assert.equal((await call('POST', '/api/v1/admin/users/paula/keys', { publicKey: 'ssh-dss AAAA' })).status, 400);
      const l = await call('GET', '/api/v1/admin/users/paula/keys');
      assert.deepEqual(
        (l.body as { id: string }[]).map((k) => k.id),
        [key.id],
      );
      assert.equal((await call('DELETE', `/api/v1/admin/users/paula/keys/${key.id}`)).status, 204);
      assert.deepEqual((await call('GET', '/api/v1/admin/users/paula/keys')).body, []);
      assert.equal((await call('DELETE', `/api/v1/admin/users/paula/keys/${key.id}`)).status, 404);
    });

    it('manages folders and grants; a grant takes effect over HTTP at once', async () => {
      const f = await call('POST', '/api/v1/admin/folders', { path: '/muster/inbox', org: 'Praxis Dr. Muster' });
      assert.equal(f.status, 201, JSON.stringify(f.body));
      assert.equal((f.body as { path: string; type: string }).path, '/muster/inbox');
      const folders = await call('GET', '/api/v1/admin/folders');
      assert.deepEqual(
        (folders.body as { path: string; org: string | null }[]).map((x) => [x.path, x.org]),
        [
          ['/muster', null],
          ['/muster/inbox', 'Praxis Dr. Muster'],
        ],
      );
      const paula = await tokenFor(s.t, 'paula');
      const url = `${s.base}/api/v1/fs/muster/inbox/`;
      assert.equal((await fetch(url, { headers: bearer(paula) })).status, 404, 'no grant yet: hidden');
      const g = await call('PUT', '/api/v1/admin/grants', { subject: 'paula', path: '/muster/inbox', permissions: 'list,read,write' });
      assert.equal(g.status, 200, JSON.stringify(g.body));
      assert.deepEqual(
        (({ subject, path, permissions }) => ({ subject, path, permissions }))(g.body as { subject: string; path: string; permissions: string }),
        { subject: 'user:paula', path: '/muster/inbox', permissions: 'list,read,write' },
      );
      assert.equal((await fetch(url, { headers: bearer(paula) })).status, 200);
      const og = await call('PUT', '/api/v1/admin/grants', { subject: 'org:Praxis Dr. Muster', path: '/muster/inbox', permissions: ['list'] });
      assert.equal(og.status, 200);
      const list = await call('GET', `/api/v1/admin/grants?path=${encodeURIComponent('/muster/inbox')}`);
      assert.deepEqual((list.body as { subject: string }[]).map((x) => x.subject).sort(), ['org:Praxis Dr. Muster', 'user:paula']);
      assert.equal((await call('PUT', '/api/v1/admin/grants', { subject: 'paula', path: '/muster/inbox', permissions: 'root' })).status, 400);
      // Revoke by query string and by JSON body.
      assert.equal((await call('DELETE', `/api/v1/admin/grants?subject=paula&path=${encodeURIComponent('/muster/inbox')}`)).status, 204);
      assert.equal((await fetch(url, { headers: bearer(paula) })).status, 200, 'still listable through the org grant');
      assert.equal((await call('DELETE', '/api/v1/admin/grants', { subject: 'org:Praxis Dr. Muster', path: '/muster/inbox' })).status, 204);
      assert.equal((await fetch(url, { headers: bearer(paula) })).status, 404);
      assert.equal((await call('DELETE', '/api/v1/admin/grants', { subject: 'paula', path: '/muster/inbox', extra: 1 })).status, 400);
      assert.equal((await call('DELETE', '/api/v1/admin/grants')).status, 400);
    });

    it('manages tokens: admins for anyone, users for themselves; secrets shown once', async () => {
      const c = await call('POST', '/api/v1/tokens', { login: 'paula', name: 'nightly sync', expiresIn: 3600 });
      assert.equal(c.status, 201);
      const tok = c.body as { token: string; id: string; login: string; name: string; expiresAt: string };
      assert.equal(tok.login, 'paula');
      assert.ok(Math.abs(Date.parse(tok.expiresAt) - Date.now() - 3_600_000) < 60_000);
      const me = await fetch(`${s.base}/api/v1/auth/me`, { headers: bearer(tok.token) });
      assert.deepEqual(await me.json(), { user: { login: 'paula', role: 'staff', org: 'Praxis Dr. Muster' }, method: 'token' });
      const listed = await call('GET', '/api/v1/tokens?login=paula');
      assert.ok((listed.body as { id: string }[]).some((x) => x.id === tok.id));
      assert.ok(!JSON.stringify(listed.body).includes(tok.token.slice(4)));
      // paula sees her own tokens, not root's; and cannot revoke root's.
      const own = await call('GET', '/api/v1/tokens', undefined, tok.token);
      assert.equal(own.status, 200);
      assert.ok((own.body as { login: string }[]).every((x) => x.login === 'paula'));
      assert.equal((await call('GET', '/api/v1/tokens?login=root', undefined, tok.token)).status, 403);
      const rootTokens = (await call('GET', '/api/v1/tokens')).body as { id: string }[];
      assert.equal((await call('DELETE', `/api/v1/tokens/${rootTokens[0]!.id}`, undefined, tok.token)).status, 404);
      assert.equal((await call('DELETE', `/api/v1/tokens/${tok.id}`)).status, 204);
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: bearer(tok.token) })).status, 401);
    });

    it('refuses partners and staff on every admin route (403) and keeps a verifiable ledger', async () => {
      const paula = await tokenFor(s.t, 'paula');
      for (const [method, p, body] of [
        ['GET', '/api/v1/admin/orgs', undefined],
        ['POST', '/api/v1/admin/orgs', { name: 'Mine' }],
        ['PATCH', '/api/v1/admin/users/paula', { role: 'admin' }],
        ['GET', '/api/v1/admin/users', undefined],
        ['POST', '/api/v1/admin/users/paula/keys', { publicKey: ed25519Line('x') }],
        ['POST', '/api/v1/admin/folders', { path: '/mine' }],
        ['PUT', '/api/v1/admin/grants', { subject: 'paula', path: '/muster', permissions: 'manage' }],
        ['GET', '/api/v1/admin/audit/verify', undefined],
        ['GET', '/api/v1/admin/audit/events', undefined],
      ] as const) {
        const r = await call(method, p, body, paula);
        assert.equal(r.status, 403, `${method} ${p}`);
        assert.equal(errorCode(r.body), 'PERMISSION_DENIED');
      }
      assert.equal(((await call('GET', '/api/v1/admin/users/paula')).body as { role: string }).role, 'staff');
      const v = await call('GET', '/api/v1/admin/audit/verify');
      assert.equal(v.status, 200);
      assert.equal((v.body as { ok: boolean }).ok, true);
      assert.ok((v.body as { events: number }).events > 20);
      // The denied attempts above are in the ledger, findable by login and action.
      const ev = await call('GET', '/api/v1/admin/audit/events?login=paula&action=org.create');
      assert.equal(ev.status, 200);
      const events = ev.body as { outcome: string; protocol: string; seq: number; time: string }[];
      assert.equal(events.length, 1);
      assert.equal(events[0]!.outcome, 'denied');
      assert.equal(events[0]!.protocol, 'http');
      const bad = await call('GET', '/api/v1/admin/audit/events?from=yesterday');
      assert.equal(bad.status, 400);
    });

    it('locks down and switches protocols off at run time; administrators keep access', async () => {
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Lock Co' });
      await s.t.core.admin.folders.create(s.t.system, '/lockco', { org: 'Lock Co' });
      await s.t.user('lena', { org: 'Lock Co' });
      await s.t.core.admin.grants.set(s.t.system, 'lena', '/lockco', 'all');
      const lena = await tokenFor(s.t, 'lena');
      assert.equal((await call('GET', '/api/v1/fs/lockco/', undefined, lena)).status, 200);
      const on = await call('PUT', '/api/v1/admin/lockdown', { mode: 'closed', reason: 'drill' });
      assert.equal(on.status, 200, JSON.stringify(on.body));
      assert.equal((on.body as { mode: string }).mode, 'closed');
      const refused = await call('GET', '/api/v1/fs/lockco/', undefined, lena);
      assert.equal(refused.status, 423);
      assert.equal(errorCode(refused.body), 'LOCKED');
      assert.equal((await call('GET', '/api/v1/fs/lockco/')).status, 200, 'administrator keeps access');
      assert.equal((await call('PUT', '/api/v1/admin/lockdown', { mode: 'off' })).status, 200);
      assert.equal((await call('PUT', '/api/v1/admin/protocols/http', { enabled: false })).status, 200);
      assert.equal((await call('GET', '/api/v1/fs/lockco/', undefined, lena)).status, 423);
      const st = await call('GET', '/api/v1/admin/lockdown');
      assert.deepEqual((st.body as { disabled: string[] }).disabled, ['http']);
      assert.equal((await call('PUT', '/api/v1/admin/protocols/http', { enabled: true })).status, 200);
      assert.equal((await call('GET', '/api/v1/fs/lockco/', undefined, lena)).status, 200);
      assert.equal((await call('PUT', '/api/v1/admin/lockdown', { mode: 'open-sesame' })).status, 400);
      assert.equal((await call('PUT', '/api/v1/admin/lockdown', { mode: 'off' }, lena)).status, 403);
    });
  });
}
