/**
 * Access explained over real HTTP: who can see a folder and through which grant (user grants,
 * organisation grants, inherited from above, only the name on the way to a grant below,
 * administrators), what a user can see — and that the explanation agrees with what the user is
 * actually allowed over the file API. Partners are refused by the core, the refusal recorded.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, errorCode, serve, tokenFor, type Served } from './helpers.js';

interface Entry {
  login: string;
  org: string | null;
  permissions: string;
  through: string;
  active: boolean;
  inactiveReason: string | null;
  grants: { path: string; subject: string; permissions: string }[];
}

for (const dialect of DIALECTS) {
  describe(`HTTP access views (${dialect})`, () => {
    let s: Served;
    let admin: string;
    const get = async (p: string, tok = admin) => {
      const r = await fetch(`${s.base}${p}`, { headers: bearer(tok) });
      return { status: r.status, body: (await r.json()) as unknown };
    };

    before(async () => {
      s = await serve(dialect);
      const sys = s.t.system;
      await s.t.user('root', { role: 'admin' });
      admin = await tokenFor(s.t, 'root');
      await s.t.core.admin.orgs.create(sys, { name: 'Praxis Nord', ik: '123456780' });
      await s.t.core.admin.orgs.create(sys, { name: 'Labor Süd', betriebsnummer: '98000006' });
      await s.t.core.admin.folders.create(sys, '/nord/inbox/2026', { org: 'Praxis Nord' });
      await s.t.core.admin.folders.create(sys, '/nord/outbox', { org: 'Praxis Nord' });
      await s.t.user('anna', { org: 'Praxis Nord' });
      await s.t.user('bernd', { org: 'Praxis Nord' });
      await s.t.user('clara', { org: 'Labor Süd' });
      await s.t.user('dora', { org: 'Labor Süd' });
      await s.t.core.admin.grants.set(sys, 'org:Praxis Nord', '/nord', 'list,read');
      await s.t.core.admin.grants.set(sys, 'anna', '/nord/inbox', 'write');
      await s.t.core.admin.grants.set(sys, 'clara', '/nord/inbox/2026', 'list');
      await s.t.core.admin.users.update(sys, 'bernd', { status: 'disabled' });
    });
    after(() => s.close());

    it('who can see /nord/inbox, and through which grant', async () => {
      const r = await get(`/api/v1/admin/access/folder?path=${encodeURIComponent('/nord/inbox')}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const entries = (r.body as { path: string; entries: Entry[] }).entries;
      const by = Object.fromEntries(entries.map((e) => [e.login, e]));
      assert.equal(by.anna!.permissions, 'list,read,write');
      assert.equal(by.anna!.through, 'grant');
      assert.deepEqual(by.anna!.grants.map((g) => `${g.subject} ${g.path} ${g.permissions}`).sort(), [
        'org:Praxis Nord /nord list,read',
        'user:anna /nord/inbox write',
      ]);
      assert.equal(by.bernd!.permissions, 'list,read');
      assert.deepEqual([by.bernd!.active, by.bernd!.inactiveReason], [false, 'user disabled']);
      assert.equal(by.clara!.through, 'below', 'clara sees the name only, on her way to /nord/inbox/2026');
      assert.equal(by.clara!.permissions, '');
      assert.deepEqual(
        by.clara!.grants.map((g) => g.path),
        ['/nord/inbox/2026'],
      );
      assert.equal(by.dora, undefined, 'no grant, no entry');
      assert.deepEqual([by.root!.through, by.root!.permissions], ['admin', 'all']);
      // The explanation agrees with the file API: anna may write there; clara sees only the way to her grant.
      const clara = await tokenFor(s.t, 'clara');
      const anna = await tokenFor(s.t, 'anna');
      assert.equal((await fetch(`${s.base}/api/v1/fs/nord/inbox/x.txt`, { method: 'PUT', headers: bearer(anna), body: 'x' })).status, 201);
      const seen = await fetch(`${s.base}/api/v1/fs/nord/inbox/`, { headers: bearer(clara) });
      assert.equal(seen.status, 200);
      assert.deepEqual(
        ((await seen.json()) as { entries: { name: string }[] }).entries.map((e) => e.name),
        ['2026'],
      );
      assert.equal((await fetch(`${s.base}/api/v1/fs/nord/inbox/x.txt`, { headers: bearer(clara) })).status, 404);
      const missing = await get(`/api/v1/admin/access/folder?path=${encodeURIComponent('/nope')}`);
      assert.equal(missing.status, 404);
      assert.equal((await get(`/api/v1/admin/access/folder?path=${encodeURIComponent('/a/../b')}`)).status, 400);
    });

    it('what can anna see, and through which grant', async () => {
      const r = await get('/api/v1/admin/access/users/anna');
      assert.equal(r.status, 200);
      const a = r.body as { all: boolean; active: boolean; folders: { path: string; permissions: string; grants: { subject: string }[] }[] };
      assert.equal(a.all, false);
      assert.equal(a.active, true);
      assert.deepEqual(
        a.folders.map((f) => [f.path, f.permissions, f.grants.map((g) => g.subject).sort()]),
        [
          ['/nord', 'list,read', ['org:Praxis Nord']],
          ['/nord/inbox', 'list,read,write', ['org:Praxis Nord', 'user:anna']],
        ],
      );
      const root = (await get('/api/v1/admin/access/users/root')).body as { all: boolean };
      assert.equal(root.all, true);
      assert.equal((await get('/api/v1/admin/access/users/nobody')).status, 404);
    });

    it('partners are refused by the core, and the refusal is in the ledger', async () => {
      const anna = await tokenFor(s.t, 'anna');
      for (const p of [`/api/v1/admin/access/folder?path=%2Fnord`, '/api/v1/admin/access/users/anna']) {
        const r = await get(p, anna);
        assert.equal(r.status, 403, p);
        assert.equal(errorCode(r.body), 'PERMISSION_DENIED');
      }
      const denied = await s.t.core.audit.search(s.t.system, { user: 'anna', outcome: 'denied', action: 'access.*' });
      assert.deepEqual(denied.events.map((e) => e.action).sort(), ['access.folder', 'access.user']);
    });
  });
}
