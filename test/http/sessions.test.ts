/**
 * Web sessions over HTTP: idle timeout and absolute lifetime (sessions aged in the database, no
 * waiting), one's own list with the current one marked, ending one, logout everywhere, the
 * administrators' list and end, the refusals (another user's session, a partner at the admin
 * list, CSRF), the ledger and the OpenAPI entries.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths as instancePaths } from '../../src/app/instance.js';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { bearer, ledger, serve, tokenFor, type Served } from './helpers.js';

interface SessionJson {
  id: string;
  protocol: string;
  login: string;
  org: string | null;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  idleExpiresAt: number;
  remoteAddr: string | null;
  client: string | null;
  current: boolean;
}

for (const dialect of DIALECTS) {
  describe(`HTTP web sessions (${dialect})`, () => {
    let s: Served;

    async function login(who: string, ua = 'test-browser/1.0') {
      const r = await fetch(`${s.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': ua },
        body: JSON.stringify({ login: who, password: TEST_PASSWORD }),
      });
      assert.equal(r.status, 200);
      const c = r.headers.getSetCookie().find((x) => x.startsWith('sluice_session='));
      assert.ok(c);
      return c.split(';')[0] as string;
    }
    async function call(method: string, path: string, cookie: string | undefined, headers: Record<string, string> = {}) {
      const r = await fetch(`${s.base}${path}`, { method, headers: { ...(cookie ? { cookie, origin: s.base } : {}), ...headers } });
      const text = await r.text();
      return { status: r.status, body: (text ? JSON.parse(text) : null) as { sessions: SessionJson[]; error?: { code: string } }, headers: r.headers };
    }
    const me = async (cookie: string) => (await call('GET', '/api/v1/auth/me', cookie)).status;
    /** Moves a session's times into the past (a second connection, as an operator would see the rows). */
    async function age(id: string, set: { last_seen_at?: number; expires_at?: number }) {
      const { db, close } = await openDatabase({ url: s.t.config.databaseUrl, sqlitePath: instancePaths(s.t.config).sqlite });
      try {
        const r = await db.updateTable('sessions').set(set).where('id', '=', id).executeTakeFirst();
        assert.equal(Number(r.numUpdatedRows), 1);
      } finally {
        await close();
      }
    }

    before(async () => {
      s = await serve(dialect, { SLUICE_SESSION_IDLE: '30m', SLUICE_SESSION_MAX: '12h' });
      await s.t.user('ella', { org: 'Acme' });
      await s.t.user('finn', { org: 'Acme' });
      await s.t.user('root2', { role: 'admin' });
    });
    after(() => s.close());

    it('lists my sessions with the current one marked; ends another one; its cookie stops working', async () => {
      const a = await login('ella', 'browser-a');
      const b = await login('ella', 'browser-b');
      const list = await call('GET', '/api/v1/me/sessions', a);
      assert.equal(list.status, 200);
      const mine = list.body.sessions;
      assert.equal(mine.length, 2);
      const cur = mine.filter((x) => x.current);
      assert.equal(cur.length, 1);
      assert.equal(cur[0]?.client, 'browser-a');
      const other = mine.find((x) => !x.current) as SessionJson;
      assert.equal(other.client, 'browser-b');
      assert.match(other.id, /^ses_[0-9a-f]{32}$/);
      assert.equal(other.login, 'ella');
      assert.equal(other.org, 'Acme');
      assert.equal(other.remoteAddr, '127.0.0.1');
      assert.equal(other.expiresAt - other.createdAt, 12 * 3_600_000);
      assert.equal(other.idleExpiresAt - other.lastSeenAt, 30 * 60_000);
      // No cookie value or hash in the answer.
      assert.ok(!JSON.stringify(list.body).includes(b.split('=')[1] as string));

      const del = await call('DELETE', `/api/v1/me/sessions/${other.id}`, a);
      assert.equal(del.status, 204);
      assert.equal(await me(b), 401);
      assert.equal(await me(a), 200);
      assert.equal((await call('GET', '/api/v1/me/sessions', a)).body.sessions.length, 1);
      // Gone: a second end answers 404.
      assert.equal((await call('DELETE', `/api/v1/me/sessions/${other.id}`, a)).status, 404);
      assert.equal((await call('DELETE', '/api/v1/me/sessions/not-an-id', a)).status, 400);
    });

    it("another user's session is not mine to end (404, as an unknown one), and a change without Origin is refused", async () => {
      const e = await login('ella');
      const f = await login('finn');
      const finns = (await call('GET', '/api/v1/me/sessions', f)).body.sessions;
      const fid = finns.find((x) => x.current)?.id as string;
      assert.equal((await call('DELETE', `/api/v1/me/sessions/${fid}`, e)).status, 404);
      assert.equal(await me(f), 200);
      // CSRF: a cookie without a same-origin Origin changes nothing.
      const r = await fetch(`${s.base}/api/v1/me/sessions/${fid}`, { method: 'DELETE', headers: { cookie: f } });
      assert.equal(r.status, 403);
      assert.equal(await me(f), 200);
    });

    it('logout everywhere ends all my sessions and clears the cookie; tokens keep working', async () => {
      const a = await login('finn');
      const b = await login('finn');
      const token = await tokenFor(s.t, 'finn');
      const r = await call('POST', '/api/v1/auth/logout-everywhere', a);
      assert.equal(r.status, 204);
      assert.ok(r.headers.getSetCookie().some((c) => c.startsWith('sluice_session=;')));
      assert.equal(await me(a), 401);
      assert.equal(await me(b), 401);
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: bearer(token) })).status, 200);
      // With a token: its list is empty, and it may end nothing it cannot see.
      const viaToken = await fetch(`${s.base}/api/v1/me/sessions`, { headers: bearer(token) });
      assert.deepEqual(await viaToken.json(), { sessions: [] });
    });

    it('a session idle for SLUICE_SESSION_IDLE or past SLUICE_SESSION_MAX authenticates nobody and is recorded as expired', async () => {
      const idle = await login('ella', 'idle-browser');
      const old = await login('ella', 'old-browser');
      const list = (await call('GET', '/api/v1/me/sessions', idle)).body.sessions;
      const idleId = list.find((x) => x.client === 'idle-browser')?.id as string;
      const oldId = list.find((x) => x.client === 'old-browser')?.id as string;
      const now = Date.now();
      // 29 minutes idle: still good (and its use is written back).
      await age(idleId, { last_seen_at: now - 29 * 60_000 });
      assert.equal(await me(idle), 200);
      const seen = (await call('GET', '/api/v1/me/sessions', idle)).body.sessions.find((x) => x.id === idleId) as SessionJson;
      assert.ok(seen.lastSeenAt >= now);
      // 31 minutes idle: ended.
      await age(idleId, { last_seen_at: Date.now() - 31 * 60_000 });
      assert.equal(await me(idle), 401);
      // Past the absolute end although in use.
      await age(oldId, { expires_at: Date.now() - 1 });
      assert.equal(await me(old), 401);
      // Neither is listed any more (nor answers again).
      const rest = await login('ella');
      const ids = (await call('GET', '/api/v1/me/sessions', rest)).body.sessions.map((x) => x.id);
      assert.ok(!ids.includes(idleId) && !ids.includes(oldId));
      const ev = await ledger(s.t, { action: 'session.expire' });
      const reasons = ev.map((x) => JSON.parse(String(x.detail)) as { session: string; reason: string });
      assert.deepEqual(reasons.find((x) => x.session === idleId)?.reason, 'idle timeout');
      assert.deepEqual(reasons.find((x) => x.session === oldId)?.reason, 'lifetime reached');
    });

    it("administrators list everybody's sessions and end one; partners are refused", async () => {
      const admin = await login('root2');
      const f = await login('finn', 'finn-browser');
      const e = await login('ella');
      assert.equal((await call('GET', '/api/v1/admin/sessions', e)).status, 403);
      const all = await call('GET', '/api/v1/admin/sessions', admin);
      assert.equal(all.status, 200);
      const logins = new Set(all.body.sessions.map((x) => x.login));
      assert.ok(logins.has('finn') && logins.has('ella') && logins.has('root2'));
      const only = (await call('GET', '/api/v1/admin/sessions?login=finn', admin)).body.sessions;
      assert.ok(only.length >= 1 && only.every((x) => x.login === 'finn' && x.protocol === 'web'));
      assert.equal((await call('GET', '/api/v1/admin/sessions?login=nobody', admin)).status, 404);
      const fid = only.find((x) => x.client === 'finn-browser')?.id as string;
      assert.equal((await call('DELETE', `/api/v1/admin/sessions/${fid}`, e)).status, 403);
      assert.equal(await me(f), 200);
      assert.equal((await call('DELETE', `/api/v1/admin/sessions/${fid}`, admin)).status, 204);
      assert.equal(await me(f), 401);
      assert.equal(await me(admin), 200);

      const ev = await ledger(s.t);
      const ends = ev.filter((x) => x.action === 'session.end').map((x) => ({ ...x, d: JSON.parse(String(x.detail)) as Record<string, unknown> }));
      assert.ok(ends.some((x) => x.outcome === 'success' && x.actor_login === 'root2' && x.d.session === fid && x.d.via === 'admin' && x.d.login === 'finn'));
      assert.ok(ends.some((x) => x.outcome === 'failure' && x.actor_login === 'ella' && x.d.reason === 'no such session'));
      assert.ok(ev.some((x) => x.action === 'session.end' && x.outcome === 'denied' && x.actor_login === 'ella'));
      assert.ok(ev.some((x) => x.action === 'session.end-all' && x.actor_login === 'finn'));
      assert.ok(ev.some((x) => x.action === 'session.start' && x.actor_login === 'finn' && x.protocol === 'web'));
    });

    it('the routes are in the OpenAPI document', async () => {
      const doc = (await (await fetch(`${s.base}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      assert.ok(doc.paths['/api/v1/me/sessions']?.get);
      assert.ok(doc.paths['/api/v1/me/sessions/{id}']?.delete);
      assert.ok(doc.paths['/api/v1/auth/logout-everywhere']?.post);
      assert.ok(doc.paths['/api/v1/admin/sessions']?.get);
      assert.ok(doc.paths['/api/v1/admin/sessions/{id}']?.delete);
    });
  });
}
