/**
 * Every failed sign-in is in the ledger, whatever the method (issue 14 §6) — an SSH key that is
 * not registered included, over ssh2 and OpenSSH — and a flood of them cannot crowd out the rest:
 * repeats per address and minute are counted into one event (`detail.repeated`), the first is
 * recorded in full at once, and every other kind of failure keeps its own event. A lockout raises
 * ACCOUNT_LOCKED through the one alert path (ledger, and the configured webhook), over HTTP and
 * SFTP alike.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { eventually, ledger, type LedgerEvent } from '../http/helpers.js';
import { serveSftp, sftpBatch, sshKeygen, type SftpServed } from './helpers.js';
import { connect, RawSsh, userKey, type UserKey } from './raw.js';

const detail = (e: LedgerEvent) => JSON.parse(e.detail) as Record<string, unknown>;
const failures = async (s: SftpServed, filter: (d: Record<string, unknown>) => boolean) =>
  (await ledger(s.t)).filter((e) => e.outcome === 'failure' && filter(detail(e)));
/** Events plus the repeats they count: every failure, written or counted. */
const total = (events: LedgerEvent[]) => events.reduce((n, e) => n + (detail(e).repeated === undefined ? 1 : Number(detail(e).repeated)), 0);

/** Counts are per minute: start a burst with at least 20 s of the current minute left. */
async function roomInMinute(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 20_000) await new Promise((r) => setTimeout(r, left + 100));
}

/** POST /api/v1/auth/login from `localAddress`. */
function httpLogin(base: string, login: string, password: string, localAddress = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ login, password });
    const req = http.request(
      `${base}/api/v1/auth/login`,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

for (const dialect of DIALECTS) {
  describe(`failed sign-ins in the ledger, floods counted, lockout alerts (${dialect})`, () => {
    let s: SftpServed;
    let hook: http.Server;
    const hooked: Record<string, unknown>[] = [];
    let alice: UserKey;

    before(async () => {
      hook = http.createServer((req, res) => {
        let b = '';
        req.on('data', (c: Buffer) => (b += c.toString()));
        req.on('end', () => {
          hooked.push(JSON.parse(b) as Record<string, unknown>);
          res.end('ok');
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      s = await serveSftp(dialect, {
        env: {
          SLUICE_LOCKOUT_THRESHOLD: '3',
          SLUICE_ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
          SLUICE_ALERT_WEBHOOK_SECRET: 'a-secret-of-sixteen-chars',
          SLUICE_ALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
        },
        limits: { maxAuthAttempts: 1000 },
      });
      for (const u of ['alice', 'carol', 'dave']) await s.t.user(u, { org: 'Acme' });
      alice = userKey();
      await s.t.core.admin.keys.add(s.t.system, 'alice', alice.publicLine);
    });
    after(async () => {
      await s?.close();
      await new Promise((r) => hook?.close(r));
    });

    it('an SSH key that is not registered leaves a failed sign-in with its fingerprint (ssh2 and OpenSSH); an accepted key query writes nothing', async () => {
      const stranger = userKey();
      await assert.rejects(connect(s.port, 'alice', { key: stranger }), /authentication methods failed/);
      const fp = (await ledger(s.t)).map(detail).find((d) => d.reason === 'key not registered for this user');
      assert.ok(fp, 'the unregistered key is in the ledger');
      assert.equal(fp.method, 'publickey');
      assert.match(String(fp.fingerprint), /^SHA256:/);

      const k = await sshKeygen(s.dir, 'nobody-key');
      const r = await sftpBatch(s, 'nobody', k, ['ls /']);
      assert.notEqual(r.code, 0);
      const nobody = (await ledger(s.t, { action: 'auth.login' })).filter(
        (e) => e.outcome === 'failure' && e.protocol === 'sftp' && detail(e).reason === 'unknown user',
      );
      assert.ok(nobody.length >= 1, 'OpenSSH with a key for an unknown user is in the ledger');
      assert.match(String(detail(nobody.at(-1)!).fingerprint), /^SHA256:/);

      const before = (await ledger(s.t)).length;
      const c = await RawSsh.connect(s.port);
      assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
      c.close();
      assert.equal((await ledger(s.t)).length, before, 'a query for a registered key is no failure');
    });

    it('a flood from one address is counted, not written one by one; other failures keep their own events; no count is lost', async () => {
      await s.t.core.maintenance.flush();
      const flood = userKey();
      const isFlood = (d: Record<string, unknown>) => d.reason === 'key not registered for this user' && d.fingerprint !== undefined && d.query === true;
      const before = (await failures(s, isFlood)).length;
      await roomInMinute();
      const c = await RawSsh.connect(s.port);
      for (let i = 0; i < 200; i++) assert.equal(await c.query('alice', flood.publicLine), 'failure');
      // Meanwhile other kinds of failure, from this address and from another one, are recorded each.
      assert.equal(await httpLogin(s.httpBase, 'carol', 'wrong password 1'), 401);
      assert.equal(await httpLogin(s.httpBase, 'ghost', 'wrong password 2', '127.0.0.9'), 401);
      c.close();
      const written = (await failures(s, isFlood)).length - before;
      assert.ok(written <= 10, `${written} events for 200 identical failures (the first 5 of a minute each)`);
      assert.equal((await failures(s, (d) => d.reason === 'wrong password' && d.method === 'password')).length >= 1, true);
      assert.equal((await failures(s, (d) => d.reason === 'unknown user' && d.method === 'password')).length >= 1, true);
      // The minute's counts are written when it ends (or at flush, as before shutdown).
      await s.t.core.maintenance.flush();
      const fp = 'SHA256:' + createHash('sha256').update(flood.parsed.getPublicSSH()).digest('base64').replace(/=+$/, '');
      const mine = await failures(s, (d) => isFlood(d) && d.fingerprint === fp);
      assert.equal(total(mine), 200, 'every failure is counted');
      assert.ok(mine.some((e) => Number(detail(e).repeated) > 0 && detail(e).firstRepeat && detail(e).lastRepeat));

      // Many kinds from one address: at most 64 of them get their own events; the rest are counted as "various".
      const t0 = (await ledger(s.t)).length;
      await roomInMinute();
      for (let i = 0; i < 90; i++) {
        const k = await RawSsh.connect(s.port);
        assert.equal(await k.query(`nobody${i}`, flood.publicLine), 'failure');
        k.close();
      }
      await s.t.core.maintenance.flush();
      const fresh = (await ledger(s.t)).slice(t0).filter((e) => e.outcome === 'failure' && e.protocol === 'sftp');
      assert.ok(fresh.length <= 70, `${fresh.length} events for 90 kinds of failure from one address`);
      assert.equal(total(fresh), 90);
      assert.ok(fresh.some((e) => detail(e).reason === 'various' && Number(detail(e).repeated) > 0));
    });

    it('bad API tokens: the first in full, the rest counted', async () => {
      await s.t.core.maintenance.flush();
      const t0 = (await ledger(s.t)).length;
      for (let i = 0; i < 50; i++) {
        const r = await fetch(`${s.httpBase}/api/v1/fs/`, { headers: { authorization: `Bearer slc_${'x'.repeat(40)}` } });
        assert.equal(r.status, 401);
      }
      await s.t.core.maintenance.flush();
      const tokens = (await ledger(s.t, { action: 'auth.token' })).filter((e) => e.seq > t0 && e.outcome === 'failure');
      assert.ok(tokens.length <= 6, `${tokens.length} events`);
      assert.equal(total(tokens), 50);
    });

    it('a lockout raises ACCOUNT_LOCKED through the alert path, over HTTP and over SFTP', async () => {
      for (let i = 0; i < 3; i++) assert.equal(await httpLogin(s.httpBase, 'carol', `wrong ${i}`), 401);
      const c = await RawSsh.connect(s.port);
      for (let i = 0; i < 3; i++) assert.equal(await c.password('dave', `wrong ${i}`), 'failure');
      c.close();
      const alerts = (await ledger(s.t, { action: 'alert' })).map(detail).filter((d) => d.code === 'ACCOUNT_LOCKED');
      // carol failed once in the flood test already: locked at her third failure, here.
      assert.deepEqual(alerts.map((d) => [d.login, d.protocol]).sort(), [
        ['carol', 'web'],
        ['dave', 'sftp'],
      ]);
      await eventually(() => hooked.filter((a) => a.code === 'ACCOUNT_LOCKED').length === 2, 10_000, 'both alerts delivered to the webhook');
      // Locked: the right password is refused now, and that too is in the ledger.
      assert.equal(await httpLogin(s.httpBase, 'carol', TEST_PASSWORD), 401);
      assert.ok((await failures(s, (d) => d.reason === 'locked out')).length >= 1);
    });
  });
}
