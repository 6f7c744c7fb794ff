/**
 * Revocation reaches HTTP requests already running, within about a second: disabling a user or an
 * organisation, changing a role, revoking a token or a grant, an account expiring. Each case
 * starts a PUT (its body still arriving) and a GET (its body still being read) with a token
 * issued before the change; both are cut, no file becomes visible, and the next request with the
 * same token is refused (after a role change it runs with the new role).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, serve, sleep, tokenFor, type Served } from './helpers.js';

interface Running {
  write(b: Buffer): boolean;
  end(): void;
  done: Promise<{ status: number } | { error: string }>;
}

/** A PUT whose body the test writes piece by piece. */
function slowPut(port: number, path: string, token: string): Running {
  const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path, headers: { ...bearer(token), 'transfer-encoding': 'chunked' } });
  const done = new Promise<{ status: number } | { error: string }>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', (e) => resolve({ error: e.message }));
  });
  return { write: (b) => req.write(b), end: () => req.end(), done };
}

/** A GET read one piece, then paused: returns how to resume it and how many bytes arrived in the end. */
function pausedGet(port: number, path: string, token: string): Promise<{ status: number; resume(): Promise<number> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: bearer(token) }, (res) => {
      let got = 0;
      res.once('data', (c: Buffer) => {
        got += c.length;
        res.pause();
        resolve({
          status: res.statusCode ?? 0,
          resume: () =>
            new Promise<number>((r) => {
              res.on('data', (d: Buffer) => (got += d.length));
              res.on('end', () => r(got));
              res.on('aborted', () => r(got));
              res.on('error', () => r(got));
              res.on('close', () => r(got));
              res.resume();
            }),
        });
      });
    });
    req.on('error', reject);
  });
}

const BIG = 24 * 1024 * 1024;

for (const dialect of DIALECTS) {
  describe(`revocation reaches running HTTP transfers (${dialect})`, () => {
    let s: Served;
    const fs = (p: string) => `/api/v1/fs${p}`;

    before(async () => {
      s = await serve(dialect);
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Revo', ik: '123456780' });
      await s.t.core.admin.folders.create(s.t.system, '/revo', { org: 'Revo' });
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Revo Two', betriebsnummer: '98000006' });
      await s.t.core.admin.folders.create(s.t.system, '/revo2', { org: 'Revo Two' });
      const big = Buffer.alloc(BIG, 7);
      await s.t.core.files.upload(
        s.t.system,
        '/revo/big.bin',
        (async function* () {
          yield big;
        })(),
      );
      await s.t.core.files.upload(
        s.t.system,
        '/revo2/big.bin',
        (async function* () {
          yield big;
        })(),
      );
    });
    after(() => s.close());

    const cases: { why: string; org?: string; revoke: (login: string, token: string) => Promise<unknown> }[] = [
      { why: 'user disabled', revoke: (l) => s.t.core.admin.users.update(s.t.system, l, { status: 'disabled' }) },
      { why: 'role changed', revoke: (l) => s.t.core.admin.users.update(s.t.system, l, { role: 'staff' }) },
      { why: 'organisation disabled', org: 'Revo Two', revoke: () => s.t.core.admin.orgs.update(s.t.system, 'Revo Two', { status: 'disabled' }) },
      {
        why: 'token revoked',
        revoke: async (l) => {
          for (const tk of await s.t.core.admin.tokens.list(s.t.system, l)) await s.t.core.admin.tokens.revoke(s.t.system, tk.id);
        },
      },
      { why: 'grant revoked', revoke: (l) => s.t.core.admin.grants.revoke(s.t.system, l, '/revo') },
      { why: 'account expired', revoke: async () => sleep(1600) },
    ];

    for (const c of cases) {
      it(`${c.why}: a running PUT and GET are cut, nothing is committed, the token is refused`, async () => {
        const login = `h-${c.why.split(' ')[0]}`;
        const org = c.org ?? 'Revo';
        const dir = org === 'Revo' ? '/revo' : '/revo2';
        await s.t.user(login, { org });
        if (c.why === 'account expired') await s.t.core.admin.users.update(s.t.system, login, { expiresAt: Date.now() + 1500 });
        await s.t.core.admin.grants.set(s.t.system, login, dir, 'list,read,write');
        const token = await tokenFor(s.t, login);

        const put = slowPut(s.port, fs(`${dir}/${login}.bin`), token);
        put.write(Buffer.alloc(64 * 1024, 1));
        const get = await pausedGet(s.port, fs(`${dir}/big.bin`), token);
        assert.equal(get.status, 200);
        await sleep(100);
        await c.revoke(login, token);
        const t0 = Date.now();
        // The PUT keeps sending; the server must stop it within about a second.
        let outcome: { status: number } | { error: string } | undefined;
        void put.done.then((o) => (outcome = o));
        while (!outcome && Date.now() - t0 < 4000) {
          put.write(Buffer.alloc(64 * 1024, 2));
          await sleep(50);
        }
        assert.ok(outcome, `${c.why}: the upload was stopped`);
        assert.ok(Date.now() - t0 < 3500, `${c.why}: stopped within about a second (${Date.now() - t0} ms)`);
        if ('status' in outcome) assert.ok(outcome.status >= 400, `${c.why}: status ${outcome.status}`);
        put.end();
        // The GET, resumed after the change, ends short.
        await sleep(1200);
        const got = await get.resume();
        assert.ok(got < BIG, `${c.why}: the download was cut (${got} of ${BIG} bytes)`);
        // Nothing was committed, and the next request is refused.
        await assert.rejects(s.t.core.files.stat(s.t.system, `${dir}/${login}.bin`), (e: { code?: string }) => e.code === 'NOT_FOUND');
        const next = await fetch(`${s.base}${fs(`${dir}/`)}`, { headers: bearer(token) });
        // A changed role is not a revocation of the credential: the next request signs in with the new role.
        if (c.why === 'role changed') assert.equal(next.status, 200);
        else assert.ok(next.status === 401 || next.status === 404, `${c.why}: next request ${next.status}`);
      });
    }
  });
}
