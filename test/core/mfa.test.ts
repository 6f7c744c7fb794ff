/**
 * Two-factor sign-in (TOTP) in the core: enrolment, codes at the edges of the window, replay,
 * lockout, the secret at rest, the binding of the second factor to the first, self-service rules.
 * A fake clock drives time, so every step boundary is exact.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Secret, TOTP } from 'otpauth';
import { DIALECTS, freshDatabase, tempDir, type FreshDatabase, type TempDir } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { loadConfig } from '../../src/config/config.js';
import { openInstance, restoreInstance, type Instance } from '../../src/app/instance.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import type { MfaChallenge, Principal } from '../../src/core/index.js';

const STEP = 30_000;
/** A fixed time 5 s into a 30 s step. */
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) + 5_000;
const ctx = { protocol: 'web' as const, remoteAddr: '192.0.2.9' };

export const codeAt = (base32: string, ms: number) =>
  TOTP.generate({ secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: ms });

for (const dialect of DIALECTS) {
  describe(`core two-factor sign-in (${dialect})`, () => {
    let inst: Instance;
    let db: FreshDatabase;
    let dir: TempDir;
    let sys: Principal;
    let now = T0;
    const secrets = new Map<string, string>();

    async function events(action: string, login?: string) {
      const all = await inst.core.audit.events(sys, { action, limit: 10_000 });
      return all.filter((e) => !login || e.login === login || (e.detail as { login?: string }).login === login);
    }
    /** A user with two-factor sign-in active; returns the base32 secret. */
    async function mfaUser(login: string): Promise<string> {
      await inst.core.admin.users.create(sys, { login, org: 'Praxis', password: TEST_PASSWORD });
      const e = await inst.core.admin.mfa.enable(sys, login);
      await inst.core.admin.mfa.confirm(sys, login, codeAt(e.secret, now));
      now += STEP; // the confirming code's step is used up
      secrets.set(login, e.secret);
      return e.secret;
    }

    before(async () => {
      db = await freshDatabase(dialect);
      dir = tempDir('mfa');
      const config = loadConfig({
        SLUICE_DATA_DIR: dir.path,
        ...(db.url ? { SLUICE_DATABASE_URL: db.url } : {}),
        SLUICE_LOG_LEVEL: 'silent',
        SLUICE_NODE_ID: 'test',
        SLUICE_LOCKOUT_THRESHOLD: '3',
      });
      inst = await openInstance(config, { create: true, log: pino({ level: 'silent' }), clock: { now: () => now } });
      sys = inst.system({ protocol: 'cli' }, 'test');
      await inst.core.admin.orgs.create(sys, { name: 'Praxis' });
    });
    after(async () => {
      await inst.close();
      await db.cleanup();
      await dir.cleanup();
    });

    it('enrolment is pending until a valid code confirms it; the secret is 160 bits and the URI names the user', async () => {
      await inst.core.admin.users.create(sys, { login: 'anna', org: 'Praxis', password: TEST_PASSWORD });
      assert.equal((await inst.core.admin.mfa.status(sys, 'anna')).state, 'off');
      const e = await inst.core.admin.mfa.enable(sys, 'anna');
      assert.equal(e.state, 'pending');
      assert.match(e.secret, /^[A-Z2-7]{32}$/); // 32 base32 characters = 160 bits
      assert.match(e.uri, /^otpauth:\/\/totp\/Sluice:anna\?/);
      assert.ok(e.uri.includes(`secret=${e.secret}`) && e.uri.includes('algorithm=SHA1') && e.uri.includes('digits=6') && e.uri.includes('period=30'));
      // Pending changes nothing at sign-in.
      const p = await inst.core.auth.password('anna', TEST_PASSWORD, ctx);
      assert.equal(p.method, 'password');
      await assert.rejects(inst.core.admin.mfa.confirm(sys, 'anna', '000000'), { code: 'INVALID_INPUT' });
      assert.equal((await inst.core.admin.mfa.status(sys, 'anna')).state, 'pending');
      const s = await inst.core.admin.mfa.confirm(sys, 'anna', codeAt(e.secret, now));
      assert.equal(s.state, 'active');
      assert.equal((await inst.core.admin.users.get(sys, 'anna')).mfa, 'active');
      await assert.rejects(inst.core.admin.mfa.enable(sys, 'anna'), { code: 'CONFLICT' });
      await assert.rejects(inst.core.admin.mfa.confirm(sys, 'anna', codeAt(e.secret, now + STEP)), { code: 'CONFLICT' });
      const kinds = (await inst.core.audit.events(sys, { limit: 10_000 })).map((x) => x.action).filter((a) => a.startsWith('mfa.'));
      assert.deepEqual(
        kinds.filter((k) => k !== 'mfa.status'),
        ['mfa.enrol', 'mfa.confirm', 'mfa.confirm'],
      ); // started, the wrong code, confirmed
      // The code that confirmed cannot sign in afterwards.
      await assert.rejects(inst.core.auth.password('anna', TEST_PASSWORD, ctx, { otp: codeAt(e.secret, now) }), { code: 'UNAUTHENTICATED' });
      secrets.set('anna', e.secret);
    });

    it('a password alone answers MFA_REQUIRED, but only when the password is right', async () => {
      const secret = await mfaUser('bert');
      await assert.rejects(inst.core.auth.password('bert', TEST_PASSWORD, ctx), { code: 'MFA_REQUIRED' });
      // A wrong password says nothing about two factors, with or without a code.
      await assert.rejects(inst.core.auth.password('bert', 'wrong password here', ctx), { code: 'UNAUTHENTICATED', message: 'invalid credentials' });
      await assert.rejects(inst.core.auth.password('bert', 'wrong password here', ctx, { otp: codeAt(secret, now) }), {
        code: 'UNAUTHENTICATED',
        message: 'invalid credentials',
      });
      const p = await inst.core.auth.password('bert', TEST_PASSWORD, ctx, { otp: codeAt(secret, now) });
      assert.equal(p.method, 'password+totp');
      const ok = (await events('auth.login', 'bert')).filter((e) => e.outcome === 'success').at(-1)!;
      assert.deepEqual((ok.detail as { factors: string[] }).factors, ['password', 'totp']);
    });

    it('accepts one step of drift either way, refuses two, and every code works once', async () => {
      const secret = await mfaUser('carl');
      const signIn = (otp: string) => inst.core.auth.password('carl', TEST_PASSWORD, ctx, { otp });
      now += STEP;
      // Previous step's code, now.
      const prev = codeAt(secret, now - STEP);
      await signIn(prev);
      await assert.rejects(signIn(prev), { code: 'UNAUTHENTICATED' }); // replay
      // The current code is still good (a later step), once.
      const cur = codeAt(secret, now);
      await signIn(cur);
      await assert.rejects(signIn(cur), { code: 'UNAUTHENTICATED' });
      // Next step's code (a fast phone) works now; afterwards the current step is used up.
      now += STEP;
      await signIn(codeAt(secret, now + STEP));
      await assert.rejects(signIn(codeAt(secret, now)), { code: 'UNAUTHENTICATED' }); // not later than the accepted step
      // Two steps away: refused.
      now += 3 * STEP;
      await assert.rejects(signIn(codeAt(secret, now - 2 * STEP)), { code: 'UNAUTHENTICATED' });
      await assert.rejects(signIn(codeAt(secret, now + 2 * STEP)), { code: 'UNAUTHENTICATED' });
      await inst.core.admin.users.update(sys, 'carl', { unlock: true });
      await assert.rejects(signIn('12345'), { code: 'UNAUTHENTICATED' });
      await signIn(codeAt(secret, now).replace(/^(\d{3})/, '$1 ')); // "123 456" as typed
      const reasons = (await events('auth.login', 'carl')).filter((e) => e.outcome === 'failure').map((e) => (e.detail as { reason: string }).reason);
      assert.ok(reasons.includes('replayed code') && reasons.includes('wrong code') && reasons.includes('malformed code'), reasons.join());
      // Parallel sign-ins with one code: exactly one wins.
      now += STEP;
      const code = codeAt(secret, now);
      const r = await Promise.allSettled([signIn(code), signIn(code)]);
      assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1);
    });

    it('wrong codes count toward the password lockout; a locked or disabled user gets the generic failure', async () => {
      const secret = await mfaUser('dora');
      for (let i = 0; i < 3; i++)
        await assert.rejects(inst.core.auth.password('dora', TEST_PASSWORD, ctx, { otp: '000000' === codeAt(secret, now) ? '111111' : '000000' }), {
          code: 'UNAUTHENTICATED',
        });
      const u = await inst.core.admin.users.get(sys, 'dora');
      assert.ok(u.lockedUntil !== null && u.lockedUntil > now, 'locked after three wrong codes');
      // Locked: even the right password with the right code fails, and the password step fails first.
      await assert.rejects(inst.core.auth.password('dora', TEST_PASSWORD, ctx, { otp: codeAt(secret, now) }), {
        code: 'UNAUTHENTICATED',
        message: 'invalid credentials',
      });
      await inst.core.admin.users.update(sys, 'dora', { unlock: true });
      // A right password does not reset the counter between code guesses (only a full sign-in does).
      await assert.rejects(inst.core.auth.password('dora', TEST_PASSWORD, ctx, { otp: '999999' === codeAt(secret, now) ? '888888' : '999999' }), {
        code: 'UNAUTHENTICATED',
      });
      await assert.rejects(inst.core.auth.password('dora', TEST_PASSWORD, ctx), { code: 'MFA_REQUIRED' });
      assert.equal((await inst.core.admin.users.get(sys, 'dora')).lockedUntil, null);
      const raw = await inst.core.admin.users.get(sys, 'dora');
      assert.equal(raw.status, 'active');
      await inst.core.admin.users.update(sys, 'dora', { status: 'disabled' });
      await assert.rejects(inst.core.auth.password('dora', TEST_PASSWORD, ctx, { otp: codeAt(secret, now) }), {
        code: 'UNAUTHENTICATED',
        message: 'invalid credentials',
      });
      await assert.rejects(inst.core.auth.password('dora', TEST_PASSWORD, ctx), { code: 'UNAUTHENTICATED', message: 'invalid credentials' }); // not MFA_REQUIRED
    });

    it('keeps the secret encrypted at rest, bound to its user', async () => {
      const secret = await mfaUser('emil');
      await mfaUser('fritz');
      const { db: raw, close } = await openDatabase({ url: db.url, sqlitePath: `${dir.path}/sluice.db` });
      try {
        const rows = await raw.selectFrom('users').select(['login', 'totp_secret']).where('login', 'in', ['emil', 'fritz']).execute();
        const emil = rows.find((r) => r.login === 'emil')!.totp_secret!;
        const bytes = Buffer.from(Secret.fromBase32(secret).bytes);
        assert.ok(!emil.toUpperCase().includes(secret), 'no base32 secret in the column');
        assert.ok(
          !emil.includes(bytes.toString('hex')) && !emil.includes(bytes.toString('base64url')) && !emil.includes(bytes.toString('base64').replace(/=+$/, '')),
          'no raw secret in the column',
        );
        assert.match(emil, /^v1\.[0-9a-f-]{36}\.[A-Za-z0-9_-]+$/);
        // Emil's ciphertext in Fritz's row does not open: Fritz cannot sign in, even with Emil's code.
        await raw.updateTable('users').set({ totp_secret: emil }).where('login', '=', 'fritz').execute();
      } finally {
        await close();
      }
      await assert.rejects(inst.core.auth.password('fritz', TEST_PASSWORD, ctx, { otp: codeAt(secret, now) }), { code: 'UNAUTHENTICATED' });
      const last = (await events('auth.login', 'fritz')).at(-1)!;
      assert.equal((last.detail as { reason: string }).reason, 'secret unusable');
      await inst.core.auth.password('emil', TEST_PASSWORD, ctx, { otp: codeAt(secret, now) });
    });

    it('binds the second factor to the user, protocol and address of the first, once', async () => {
      const gSecret = await mfaUser('gina');
      const hSecret = await mfaUser('hans');
      const sftp = { protocol: 'sftp' as const, remoteAddr: '192.0.2.10', client: 'SSH-2.0-test' };
      const step = async (login: string) => {
        const r = await inst.core.auth.passwordStep(login, TEST_PASSWORD, sftp);
        assert.equal(r.kind, 'needs-totp');
        return (r as { challenge: MfaChallenge }).challenge;
      };
      // Gina's first factor, Hans's name and code: refused, and Gina's challenge is spent.
      let c = await step('gina');
      await assert.rejects(inst.core.auth.secondFactor(c, 'hans', codeAt(hSecret, now), sftp), { code: 'UNAUTHENTICATED' });
      await assert.rejects(inst.core.auth.secondFactor(c, 'gina', codeAt(gSecret, now), sftp), { code: 'UNAUTHENTICATED' });
      // Another address or protocol: refused.
      c = await step('gina');
      await assert.rejects(inst.core.auth.secondFactor(c, 'gina', codeAt(gSecret, now), { ...sftp, remoteAddr: '198.51.100.1' }), { code: 'UNAUTHENTICATED' });
      c = await step('gina');
      await assert.rejects(inst.core.auth.secondFactor(c, 'gina', codeAt(gSecret, now), { ...sftp, protocol: 'http' }), { code: 'UNAUTHENTICATED' });
      // A forged challenge: refused.
      await assert.rejects(inst.core.auth.secondFactor({ login: 'gina', next: 'totp' }, 'gina', codeAt(gSecret, now), sftp), { code: 'UNAUTHENTICATED' });
      // Two second requests at once with one challenge (and two valid codes): one sign-in at most.
      c = await step('gina');
      const par = await Promise.allSettled([
        inst.core.auth.secondFactor(c, 'gina', codeAt(gSecret, now), sftp),
        inst.core.auth.secondFactor(c, 'gina', codeAt(gSecret, now + STEP), sftp),
      ]);
      assert.equal(par.filter((x) => x.status === 'fulfilled').length, 1);
      now += 2 * STEP;
      // A wrong code keeps the challenge; the right one signs in once; the challenge is then spent.
      c = await step('gina');
      await assert.rejects(inst.core.auth.secondFactor(c, 'gina', '000000' === codeAt(gSecret, now) ? '111111' : '000000', sftp), { code: 'UNAUTHENTICATED' });
      const p = await inst.core.auth.secondFactor(c, 'GINA', codeAt(gSecret, now), sftp);
      assert.equal(p.login, 'gina');
      assert.equal(p.method, 'password+totp');
      now += STEP;
      await assert.rejects(inst.core.auth.secondFactor(c, 'gina', codeAt(gSecret, now), sftp), { code: 'UNAUTHENTICATED' });
      // An expired challenge: refused.
      c = await step('gina');
      now += 6 * 60_000;
      await assert.rejects(inst.core.auth.secondFactor(c, 'gina', codeAt(gSecret, now), sftp), { code: 'UNAUTHENTICATED' });
      const reasons = (await inst.core.audit.events(sys, { action: 'auth.login', limit: 10_000 }))
        .filter((e) => e.outcome === 'failure' && (e.detail as { method?: string }).method === 'totp')
        .map((e) => (e.detail as { reason: string }).reason);
      for (const r of [
        'second factor for another user or connection than the first',
        'second factor already used',
        'second factor already in progress',
        'no first factor',
        'first factor expired',
        'wrong code',
      ])
        assert.ok(reasons.includes(r), r);
      assert.ok((await inst.core.audit.events(sys, { action: 'auth.factor', limit: 10_000 })).length >= 5, 'first factors are in the ledger');
      // A user without two factors is signed in by the first step.
      await inst.core.admin.users.create(sys, { login: 'ida', org: 'Praxis', password: TEST_PASSWORD });
      assert.equal((await inst.core.auth.passwordStep('ida', TEST_PASSWORD, sftp)).kind, 'signed-in');
    });

    it('SG-1: recovery codes exist only while two-factor sign-in is on, work once each, are hashed, and are wiped when it is turned off', async () => {
      await inst.core.admin.users.create(sys, { login: 'kai', org: 'Praxis', password: TEST_PASSWORD });
      const session = await inst.core.auth.session(
        (await inst.core.auth.startSession(await inst.core.auth.password('kai', TEST_PASSWORD, ctx))).sessionId,
        ctx,
      );
      // Off, then pending: no recovery codes.
      await assert.rejects(inst.core.account.mfa.recoveryCodes(session), { code: 'CONFLICT' });
      await assert.rejects(inst.core.admin.mfa.recoveryCodes(sys, 'kai'), { code: 'CONFLICT' });
      const e = await inst.core.account.mfa.start(session);
      await assert.rejects(inst.core.account.mfa.recoveryCodes(session), { code: 'CONFLICT' });
      await inst.core.account.mfa.confirm(session, codeAt(e.secret, now));
      now += STEP;
      const { codes } = await inst.core.account.mfa.recoveryCodes(session);
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      for (const c of codes) assert.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
      assert.equal((await inst.core.account.mfa.status(session)).recoveryCodes, 10);
      const { db: raw, close } = await openDatabase({ url: db.url, sqlitePath: `${dir.path}/sluice.db` });
      try {
        const stored = (await raw.selectFrom('users').select('mfa_recovery').where('login', '=', 'kai').executeTakeFirstOrThrow()).mfa_recovery!;
        for (const c of codes) assert.ok(!stored.includes(c) && !stored.includes(c.replace('-', '')), 'only hashes are stored');
      } finally {
        await close();
      }
      // Each works once, in place of a code; typed in capitals without the dash too.
      const p = await inst.core.auth.password('kai', TEST_PASSWORD, ctx, { otp: codes[0] });
      assert.equal(p.method, 'password+recovery');
      const ev = (await events('auth.login', 'kai')).filter((x) => x.outcome === 'success').at(-1)!;
      assert.deepEqual((ev.detail as { factors: string[] }).factors, ['password', 'recovery-code']);
      await assert.rejects(inst.core.auth.password('kai', TEST_PASSWORD, ctx, { otp: codes[0] }), { code: 'UNAUTHENTICATED' });
      await inst.core.auth.password('kai', TEST_PASSWORD, ctx, { otp: codes[1]!.replace('-', '').toUpperCase() });
      await assert.rejects(inst.core.auth.password('kai', TEST_PASSWORD, ctx, { otp: 'aaaaa-aaaaa' }), { code: 'UNAUTHENTICATED' });
      assert.equal((await inst.core.admin.mfa.status(sys, 'kai')).recoveryCodes, 8);
      // Through the two-step (SSH) path as well.
      const sftp = { protocol: 'sftp' as const, remoteAddr: '192.0.2.10' };
      const step = await inst.core.auth.passwordStep('kai', TEST_PASSWORD, sftp);
      assert.equal(step.kind, 'needs-totp');
      assert.equal((await inst.core.auth.secondFactor((step as { challenge: MfaChallenge }).challenge, 'kai', codes[2], sftp)).method, 'password+recovery');
      // New codes replace the old ones.
      const second = (await inst.core.admin.mfa.recoveryCodes(sys, 'kai')).codes;
      await assert.rejects(inst.core.auth.password('kai', TEST_PASSWORD, ctx, { otp: codes[3] }), { code: 'UNAUTHENTICATED' });
      // Off and on again: every old code is gone.
      await inst.core.admin.mfa.disable(sys, 'kai');
      const again = await inst.core.admin.mfa.enable(sys, 'kai');
      await inst.core.admin.mfa.confirm(sys, 'kai', codeAt(again.secret, now));
      now += STEP;
      assert.equal((await inst.core.admin.mfa.status(sys, 'kai')).recoveryCodes, 0);
      await assert.rejects(inst.core.auth.password('kai', TEST_PASSWORD, ctx, { otp: second[0] }), { code: 'UNAUTHENTICATED' });
      // A recovery code also turns it off for oneself (the phone is gone).
      const third = (await inst.core.admin.mfa.recoveryCodes(sys, 'kai')).codes;
      const s2 = await inst.core.auth.session(
        (await inst.core.auth.startSession(await inst.core.auth.password('kai', TEST_PASSWORD, ctx, { otp: codeAt(again.secret, now) }))).sessionId,
        ctx,
      );
      assert.equal((await inst.core.account.mfa.disable(s2, third[0])).state, 'off');
      const rec = (await inst.core.audit.events(sys, { action: 'mfa.recovery', limit: 10_000 })).map((x) => x.outcome);
      assert.deepEqual(rec, ['success', 'success', 'success']);
    });

    it('survives backup and restore: the sealed secret opens with the restored keys, the used steps stay used', async () => {
      const secret = await mfaUser('lena');
      const used = codeAt(secret, now);
      await inst.core.auth.password('lena', TEST_PASSWORD, ctx, { otp: used });
      const work = tempDir('mfa-backup');
      const db2 = await freshDatabase(dialect);
      try {
        const backupDir = `${work.path}/backup`;
        await inst.core.backup.create(sys, { to: backupDir, passphrase: 'a long backup passphrase' });
        const config2 = loadConfig({
          SLUICE_DATA_DIR: `${work.path}/data`,
          ...(db2.url ? { SLUICE_DATABASE_URL: db2.url } : {}),
          SLUICE_LOG_LEVEL: 'silent',
          SLUICE_NODE_ID: 'test',
        });
        await restoreInstance(config2, { from: backupDir, passphrase: 'a long backup passphrase', log: pino({ level: 'silent' }) });
        const restored = await openInstance(config2, { log: pino({ level: 'silent' }), clock: { now: () => now } });
        try {
          await assert.rejects(restored.core.auth.password('lena', TEST_PASSWORD, ctx), { code: 'MFA_REQUIRED' });
          await assert.rejects(restored.core.auth.password('lena', TEST_PASSWORD, ctx, { otp: used }), { code: 'UNAUTHENTICATED' });
          now += STEP;
          assert.equal((await restored.core.auth.password('lena', TEST_PASSWORD, ctx, { otp: codeAt(secret, now) })).method, 'password+totp');
        } finally {
          await restored.close();
        }
      } finally {
        await db2.cleanup();
        await work.cleanup();
      }
    });

    it('self-service needs a web session; turning it off needs a current code; admin disable forgets the secret', async () => {
      await inst.core.admin.users.create(sys, { login: 'jan', org: 'Praxis', password: TEST_PASSWORD });
      const pw = await inst.core.auth.password('jan', TEST_PASSWORD, ctx);
      const { sessionId } = await inst.core.auth.startSession(pw);
      const session = await inst.core.auth.session(sessionId, ctx);
      await assert.rejects(inst.core.account.mfa.start(pw), { code: 'PERMISSION_DENIED' }); // not a session principal
      const token = await inst.core.admin.tokens.create(sys, 'jan');
      await assert.rejects(inst.core.account.mfa.start(await inst.core.auth.token(token.token, ctx)), { code: 'PERMISSION_DENIED' });
      const e = await inst.core.account.mfa.start(session);
      assert.equal((await inst.core.account.mfa.status(session)).state, 'pending');
      await assert.rejects(inst.core.account.mfa.confirm(session, '12'), { code: 'INVALID_INPUT' });
      assert.equal((await inst.core.account.mfa.confirm(session, codeAt(e.secret, now))).state, 'active');
      await assert.rejects(inst.core.account.mfa.start(session), { code: 'CONFLICT' });
      // The session keeps working (it was made with every factor the account had then).
      await inst.core.auth.session(sessionId, ctx);
      await assert.rejects(inst.core.account.mfa.disable(session, codeAt(e.secret, now)), { code: 'INVALID_INPUT' }); // the confirming code, replayed
      now += STEP;
      assert.equal((await inst.core.account.mfa.disable(session, codeAt(e.secret, now))).state, 'off');
      await inst.core.auth.password('jan', TEST_PASSWORD, ctx);
      // Administrator: disable wipes the secret columns.
      const secret = secrets.get('anna')!;
      void secret;
      assert.equal((await inst.core.admin.mfa.disable(sys, 'anna')).state, 'off');
      const { db: raw, close } = await openDatabase({ url: db.url, sqlitePath: `${dir.path}/sluice.db` });
      try {
        const r = await raw.selectFrom('users').select(['mfa_state', 'totp_secret', 'totp_last_step']).where('login', '=', 'anna').executeTakeFirstOrThrow();
        assert.deepEqual(r, { mfa_state: null, totp_secret: null, totp_last_step: null });
      } finally {
        await close();
      }
      await inst.core.auth.password('anna', TEST_PASSWORD, ctx);
      // Partners cannot manage others' second factor.
      const partner = await inst.core.auth.password('jan', TEST_PASSWORD, ctx);
      await assert.rejects(inst.core.admin.mfa.disable(partner, 'bert'), { code: 'PERMISSION_DENIED' });
      const actions = (await inst.core.audit.events(sys, { limit: 10_000 })).map((x) => `${x.action}:${x.outcome}`);
      for (const a of [
        'mfa.enrol:success',
        'mfa.confirm:success',
        'mfa.confirm:failure',
        'mfa.disable:success',
        'mfa.disable:failure',
        'mfa.enrol:denied',
        'mfa.disable:denied',
      ])
        assert.ok(actions.includes(a), a);
    });
  });
}
