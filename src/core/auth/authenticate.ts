/**
 * Authentication: the only code that creates Principals for users.
 *
 * Contract:
 * - Every failure answers with the same UNAUTHENTICATED error and message ("invalid
 *   credentials"), whether the login is unknown, the password wrong, the user disabled, expired
 *   or locked out; the ledger records the real reason.
 * - Unknown logins spend the same hashing time as known ones.
 * - Failed password attempts and wrong second-factor codes count per user in the database, so the
 *   lockout holds across protocols and nodes.
 * - A user with two-factor sign-in active is signed in only with a valid TOTP code after the first
 *   factor (auth/mfa.ts); API tokens and web sessions are credentials issued after a full sign-in
 *   and need no code.
 * - Tokens and session ids are stored only as SHA-256 hashes; a token of a disabled or expired
 *   user, a revoked or an expired token, authenticates nobody.
 */
import { roleExemptFromLockdown } from '../access/exemptions.js';
import { createHash, randomBytes } from 'node:crypto';
import { CoreError } from '../errors.js';
import { mintPrincipal, type Principal, type RequestContext, type Role } from '../principal.js';
import { writeTx } from '../tx.js';
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import type { Hasher } from './passwords.js';
import { lockdownOf } from '../ops/lockdown.js';
import { alertsOf } from '../ops/alerts.js';
import { MAX_PASSWORD_LENGTH } from './passwords.js';
import { createMfa, issueChallenge, mfaActive, type MfaChallenge } from './mfa.js';
import { countFailedSignIn } from './lockout.js';
import { failuresOf } from './failures.js';
import { createPasskeys } from './passkeys.js';
import { createPasskeyPolicy, PASSKEY_REFUSAL, passkeyRequiredError } from './passkey-policy.js';

export const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
const bad = () => new CoreError('UNAUTHENTICATED', 'invalid credentials');
/**
 * The error for a refused sign-in. Only a lockdown is named, and only after the credential was
 * verified: it tells a legitimate partner why, and an attacker nothing about the account.
 */
export const refusedError = (why: string | undefined) =>
  why === LOCKDOWN_REFUSAL ? new CoreError('LOCKED', 'the service is locked down') : why === PASSKEY_REFUSAL ? passkeyRequiredError() : bad();

export const TOKEN_PREFIX = 'slc_';
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
export const newSecret = () => randomBytes(32).toString('base64url');

function canonicalLogin(login: unknown): string | undefined {
  if (typeof login !== 'string') return undefined;
  const l = login.trim().toLowerCase();
  return /^[a-z0-9._@-]{1,64}$/.test(l) ? l : undefined;
}

/** Why a user may not sign in now, or undefined when they may. */
export const LOCKDOWN_REFUSAL = 'lockdown';

export async function refusal(deps: CoreDeps, u: UserRow, now: number): Promise<string | undefined> {
  if (u.status !== 'active') return 'user disabled';
  if (!roleExemptFromLockdown(u.role) && (await lockdownOf(deps).current()).mode === 'closed') return LOCKDOWN_REFUSAL;
  if (u.expires_at !== null && Number(u.expires_at) <= now) return 'user expired';
  if (u.org_id) {
    const org = await deps.db.selectFrom('orgs').select('status').where('id', '=', u.org_id).executeTakeFirst();
    if (!org || org.status !== 'active') return 'organisation disabled';
  }
  return undefined;
}

export function principalFor(
  u: UserRow,
  ctx: RequestContext,
  method: string,
  tokenId: string | null = null,
  sessionId: string | null = null,
  keyId: string | null = null,
): Principal {
  return mintPrincipal({
    kind: 'user',
    userId: u.id,
    login: u.login,
    orgId: u.org_id,
    role: u.role as Role,
    protocol: ctx.protocol,
    remoteAddr: ctx.remoteAddr ?? null,
    client: ctx.client ? ctx.client.slice(0, 200) : null,
    method,
    tokenId,
    sessionId,
    keyId,
  });
}

export type SignInStep = { readonly kind: 'signed-in'; readonly principal: Principal } | { readonly kind: 'needs-totp'; readonly challenge: MfaChallenge };

export function createAuthenticator(deps: CoreDeps, hasher: Hasher) {
  const { db, clock, settings } = deps;
  const mfa = createMfa(
    deps,
    (u, ctx, method, keyId) => principalFor(u, ctx, method, null, null, keyId ?? null),
    (u, now) => refusal(deps, u, now),
    refusedError,
  );
  const passkeys = createPasskeys(deps, principalFor, (u, now) => refusal(deps, u, now), refusedError);
  const passkeyPolicy = createPasskeyPolicy(deps);

  /**
   * A user whom the policy requires to sign in with a passkey, signing in without one: refused
   * (recorded). On the web with a passkey registered, the answer asks for it (MFA_REQUIRED).
   */
  async function refuseWithoutPasskey(user: UserRow, ctx: RequestContext): Promise<void> {
    if (!(await passkeyPolicy.requires(user))) return;
    const registered = await passkeys.has(user.id);
    if (ctx.protocol === 'web' && registered) {
      await mfa.failure(ctx, user, user.login, 'passkey required', { firstFactor: 'password' });
      throw new CoreError('MFA_REQUIRED', 'a passkey is required', { details: { totp: false, passkey: true, passkeyRequired: true } });
    }
    await loginFailure(ctx, user.login, PASSKEY_REFUSAL, user);
    throw passkeyRequiredError(registered);
  }

  async function loginFailure(ctx: RequestContext, login: string, reason: string, user?: UserRow) {
    await failuresOf(deps).record({
      action: 'auth.login',
      outcome: 'failure',
      ctx,
      claimedLogin: login.slice(0, 64),
      claimedUserId: user?.id,
      orgId: user?.org_id ?? null,
      detail: { method: 'password', reason },
    });
    return bad();
  }

  /**
   * The password factor: verifies the password (counting failures toward the lockout) and that
   * the user may sign in. Returns the user row; writes no success.
   */
  async function passwordFactor(loginIn: unknown, password: unknown, ctx: RequestContext): Promise<UserRow> {
    const login = canonicalLogin(loginIn);
    if (typeof password !== 'string' || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
      throw await loginFailure(ctx, String(loginIn ?? '').slice(0, 64), 'malformed password');
    }
    const user = login ? await db.selectFrom('users').selectAll().where('login', '=', login).executeTakeFirst() : undefined;
    if (user?.status === 'decoy') {
      await hasher.dummyVerify(password);
      await loginFailure(ctx, user.login, 'decoy account', user);
      await alertsOf(deps).raise({
        code: 'DECOY_LOGIN',
        severity: 'critical',
        message: `sign-in attempt on decoy account ${user.login} from ${ctx.remoteAddr ?? 'unknown address'} over ${ctx.protocol}`,
        detail: { login: user.login, remoteAddr: ctx.remoteAddr ?? null, protocol: ctx.protocol, client: ctx.client ?? null },
      });
      throw bad();
    }
    if (!user || !user.password_hash) {
      await hasher.dummyVerify(password);
      throw await loginFailure(ctx, login ?? String(loginIn ?? '').slice(0, 64), user ? 'no password set' : 'unknown user', user);
    }
    const now = clock.now();
    if (user.locked_until !== null && Number(user.locked_until) > now) {
      await hasher.dummyVerify(password);
      throw await loginFailure(ctx, login!, 'locked out', user);
    }
    const ok = await hasher.verify(user.password_hash, password);
    if (!ok) {
      await countFailedSignIn(deps, user, ctx, 'auth.login', { method: 'password', reason: 'wrong password' });
      throw bad();
    }
    const why = await refusal(deps, user, now);
    if (why) {
      await loginFailure(ctx, user.login, why, user);
      throw refusedError(why);
    }
    return user;
  }

  /** A sign-in by password alone (the user has no second factor). */
  async function passwordSuccess(user: UserRow, ctx: RequestContext): Promise<Principal> {
    const p = principalFor(user, ctx, 'password');
    await writeTx(db, clock, async (s) => {
      await s.trx.updateTable('users').set({ failed_logins: 0, locked_until: null, last_login_at: s.now }).where('id', '=', user.id).execute();
      await s.audit({ action: 'auth.login', outcome: 'success', actor: p });
    });
    return p;
  }

  return {
    /** Passkey management (for core/index.ts: account.passkeys, admin.passkeys). */
    passkeyStore: passkeys,
    /** Which roles and organisations must sign in with a passkey (for core/index.ts: admin.passkeyPolicy, OIDC). */
    passkeyPolicy,
    /**
     * Password sign-in where every factor arrives in one request (HTTP login). For a user with
     * two-factor sign-in active, `opts.otp` must hold a valid code: without one the answer is
     * MFA_REQUIRED — given only once the password was verified and the user may sign in, so it
     * never tells a guesser anything.
     */
    async password(loginIn: unknown, password: unknown, ctx: RequestContext, opts: { otp?: unknown } = {}): Promise<Principal> {
      const user = await passwordFactor(loginIn, password, ctx);
      await refuseWithoutPasskey(user, ctx);
      // Web sign-in: a passkey is a second factor as well (SSH has no way to ask for one).
      const passkey = ctx.protocol === 'web' && (await passkeys.has(user.id));
      if (mfaActive(user) || passkey) {
        if (opts.otp === undefined || opts.otp === null || opts.otp === '' || !mfaActive(user)) {
          await mfa.failure(ctx, user, user.login, 'second factor required', { firstFactor: 'password' });
          throw new CoreError('MFA_REQUIRED', mfaActive(user) ? 'a verification code is required' : 'a passkey is required', {
            details: { totp: mfaActive(user), passkey },
          });
        }
        return mfa.totpFactor(user, opts.otp, ctx, 'password');
      }
      return passwordSuccess(user, ctx);
    },

    /** Options for sign-in with a passkey and no password (discoverable credentials). */
    passkeyOptions: () => passkeys.loginOptions(),

    /**
     * Options for a passkey as the second factor: verifies the password first (failures as for
     * password()), then asks for one of that user's passkeys.
     */
    async passkeySecondOptions(loginIn: unknown, password: unknown, ctx: RequestContext) {
      const user = await passwordFactor(loginIn, password, ctx);
      if (!(await passkeys.has(user.id))) throw new CoreError('CONFLICT', 'this account has no passkey');
      return passkeys.secondOptions(user);
    },

    /** Finishes a passkey sign-in (either kind) with the authenticator's answer. */
    passkey: (ceremonyId: unknown, response: unknown, ctx: RequestContext) => passkeys.finish(ceremonyId, response, ctx),

    /**
     * Password as the first of possibly two steps (SSH): signs in a user without two-factor
     * sign-in; for one with it, returns the challenge the second factor must present
     * (`secondFactor`). Failures as for password().
     */
    async passwordStep(loginIn: unknown, password: unknown, ctx: RequestContext): Promise<SignInStep> {
      const user = await passwordFactor(loginIn, password, ctx);
      await refuseWithoutPasskey(user, ctx);
      if (mfaActive(user)) return { kind: 'needs-totp', challenge: await issueChallenge(deps, user, 'password', ctx) };
      return { kind: 'signed-in', principal: await passwordSuccess(user, ctx) };
    },

    /** The TOTP code for a challenge from passwordStep or publicKey (see auth/mfa.ts for the binding rules). */
    secondFactor: (challenge: MfaChallenge, login: unknown, code: unknown, ctx: RequestContext): Promise<Principal> =>
      mfa.secondFactor(challenge, login, code, ctx),

    /** Bearer token (REST scripts). */
    async token(raw: unknown, ctx: RequestContext): Promise<Principal> {
      if (typeof raw !== 'string' || !raw.startsWith(TOKEN_PREFIX) || raw.length > 200) {
        await failuresOf(deps).record({ action: 'auth.token', outcome: 'failure', ctx, detail: { method: 'token', reason: 'malformed token' } });
        throw bad();
      }
      const row = await db
        .selectFrom('tokens')
        .innerJoin('users', 'users.id', 'tokens.user_id')
        .selectAll('users')
        .select(['tokens.id as token_id', 'tokens.expires_at as token_expires', 'tokens.revoked_at', 'tokens.last_used_at'])
        .where('tokens.secret_hash', '=', sha256hex(raw))
        .executeTakeFirst();
      const now = clock.now();
      let why: string | undefined;
      if (!row) why = 'unknown token';
      else if (row.revoked_at !== null) why = 'token revoked';
      else if (row.token_expires !== null && Number(row.token_expires) <= now) why = 'token expired';
      else why = await refusal(deps, row, now);
      if (why || !row) {
        await failuresOf(deps).record({
          action: 'auth.token',
          outcome: 'failure',
          ctx,
          claimedUserId: row?.id,
          claimedLogin: row?.login,
          orgId: row?.org_id ?? null,
          detail: { reason: why, ...(row ? { token: row.token_id } : {}) },
        });
        throw refusedError(why);
      }
      const p = principalFor(row, ctx, 'token', row.token_id);
      // Token use is recorded at most once a minute per token; every file operation names the token anyway.
      if (row.last_used_at === null || now - Number(row.last_used_at) > 60_000) {
        await writeTx(db, clock, async (s) => {
          await s.trx.updateTable('tokens').set({ last_used_at: s.now }).where('id', '=', row.token_id).execute();
          await s.audit({ action: 'auth.token', outcome: 'success', actor: p });
        });
      }
      return p;
    },

    /**
     * Starts a web session for a principal that just signed in; returns the cookie value. The
     * session ends at expiresAt (SLUICE_SESSION_MAX) or after SLUICE_SESSION_IDLE without use.
     */
    async startSession(p: Principal): Promise<{ sessionId: string; expiresAt: number; id: string }> {
      if (!p.userId) throw new CoreError('INVALID_INPUT', 'sessions are for users');
      const sessionId = newSecret();
      const id = `ses_${randomBytes(16).toString('hex')}`;
      const expiresAt = await writeTx(db, clock, async (s) => {
        const expires = s.now + settings.sessionTtlMs;
        await s.trx
          .insertInto('sessions')
          .values({
            id_hash: sha256hex(sessionId),
            id,
            user_id: p.userId as string,
            created_at: s.now,
            expires_at: expires,
            last_seen_at: s.now,
            remote_addr: p.remoteAddr,
            client: p.client,
          })
          .execute();
        await s.audit({ action: 'session.start', outcome: 'success', actor: p, detail: { session: id, method: p.method, expiresAt: expires } });
        return expires;
      });
      return { sessionId, expiresAt, id };
    },

    /**
     * Cookie session (web app). Refused once past its absolute lifetime or idle for
     * SLUICE_SESSION_IDLE (the row is then removed and the end recorded). Use is written back at
     * most once a minute (last seen), so the idle limit holds to within a minute.
     */
    async session(raw: unknown, ctx: RequestContext): Promise<Principal> {
      if (typeof raw !== 'string' || raw.length < 20 || raw.length > 100) throw bad();
      const row = await db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .selectAll('users')
        .select(['sessions.expires_at as session_expires', 'sessions.id_hash', 'sessions.id as session_id', 'sessions.last_seen_at as session_seen'])
        .where('sessions.id_hash', '=', sha256hex(raw))
        .executeTakeFirst();
      const now = clock.now();
      if (!row) throw bad();
      const idle = settings.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
      const over = Number(row.session_expires) <= now ? 'lifetime' : Number(row.session_seen) + idle <= now ? 'idle' : undefined;
      if (over) {
        await writeTx(db, clock, async (s) => {
          const gone = await s.trx.deleteFrom('sessions').where('id_hash', '=', row.id_hash).executeTakeFirst();
          if (Number(gone.numDeletedRows) !== 1) return;
          await s.audit({
            action: 'session.expire',
            outcome: 'success',
            ctx,
            claimedLogin: row.login,
            claimedUserId: row.id,
            orgId: row.org_id,
            detail: { session: row.session_id, reason: over === 'idle' ? 'idle timeout' : 'lifetime reached' },
          });
        });
        throw bad();
      }
      const why = await refusal(deps, row, now);
      if (why) throw refusedError(why);
      if (now - Number(row.session_seen) >= Math.min(60_000, Math.floor(idle / 10))) {
        await db.updateTable('sessions').set({ last_seen_at: now }).where('id_hash', '=', row.id_hash).execute();
      }
      return principalFor(row, ctx, 'session', null, row.session_id);
    },

    async endSession(raw: unknown, p: Principal): Promise<void> {
      if (typeof raw !== 'string') return;
      await writeTx(db, clock, async (s) => {
        await s.trx.deleteFrom('sessions').where('id_hash', '=', sha256hex(raw)).execute();
        await s.audit({ action: 'auth.logout', outcome: 'success', actor: p, detail: p.sessionId ? { session: p.sessionId } : {} });
      });
    },
  };
}

/**
 * The principal of local administration (CLI, start-up tasks): full rights, recorded as such.
 * Not part of the core object that front ends receive: only the composition root hands it out.
 */
export function systemPrincipal(ctx: RequestContext, who = 'system'): Principal {
  return mintPrincipal({
    kind: 'system',
    userId: null,
    login: who,
    orgId: null,
    role: 'admin',
    protocol: ctx.protocol,
    remoteAddr: ctx.remoteAddr ?? null,
    client: ctx.client ?? null,
    method: 'system',
    tokenId: null,
  });
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
