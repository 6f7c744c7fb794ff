/**
 * Two-factor sign-in (TOTP as the second factor), for every protocol.
 *
 * A user's two-factor state is off, pending (a secret was issued, no code confirmed it yet) or
 * active. Only an active state asks for a code at sign-in; a pending one changes nothing until a
 * first valid code confirms it (so a typo in the authenticator app cannot lock anybody out).
 *
 * Contract of the second factor:
 * - It is checked only after the first factor (password or SSH key) was verified and the user may
 *   sign in (status, expiry, organisation, lockdown): a wrong password never reveals whether an
 *   account uses two factors.
 * - Where both factors arrive in one request (HTTP login), `totpFactor` completes the sign-in.
 *   Where they arrive in separate requests (SSH: password or publickey, then
 *   keyboard-interactive), the first factor yields an MfaChallenge: an opaque object minted here,
 *   known only in this process, bound to the user, the protocol, the address and the client
 *   string, valid for CHALLENGE_TTL_MS and good for one sign-in. `secondFactor` refuses a
 *   challenge it did not mint, an expired or used one, and one presented with another user name
 *   (the challenge is then spent: a name change starts over, RFC 4252 §5.1 partial success is per
 *   user).
 * - A wrong, malformed or replayed code counts toward the same lockout as a wrong password
 *   (failed_logins, SLUICE_LOCKOUT_THRESHOLD); a locked-out user's codes are not even checked. The
 *   counter is reset only when BOTH factors succeeded, so a known password cannot be used to
 *   reset it between code guesses.
 * - A code works once: the accepted time step is stored, and later codes must be for a later step
 *   (the update is conditional, so two parallel sign-ins with one code cannot both pass).
 * - Every failure answers the generic UNAUTHENTICATED "invalid credentials"; the ledger records
 *   auth.login with method totp and the real reason. The success event names the factors.
 * - A recovery code (attack corpus SG-1, CVE-2022-36071) stands in for a TOTP code: recovery codes
 *   can be made only while two-factor sign-in is active, are stored as hashes bound to the user,
 *   work once each (conditional update), and are wiped when two-factor sign-in is turned off or
 *   enrolled anew.
 */
import type { Scope } from '../gate.js';
import { CoreError } from '../errors.js';
import type { Principal, RequestContext } from '../principal.js';
import { recordEvent, writeTx, type WriteScope } from '../tx.js';
import { failuresOf } from './failures.js';
import type { Action } from '../actions.js';
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { countFailedSignIn, lockoutAlert } from './lockout.js';
import {
  base32Of,
  checkTotp,
  newRecoveryCodes,
  newTotpSecret,
  normaliseCode,
  normaliseRecoveryCode,
  openTotpSecret,
  recoveryHash,
  sealTotpSecret,
  totpUri,
  type TotpCheck,
} from './totp.js';

export type MfaState = 'off' | 'pending' | 'active';
export type FirstFactor = 'password' | 'publickey';

/** What a front end holds between the first and the second factor. Opaque: only the core reads it. */
export interface MfaChallenge {
  /** The canonical login the first factor was verified for. */
  readonly login: string;
  readonly next: 'totp';
}

export interface MfaStatus {
  readonly login: string;
  readonly state: MfaState;
  readonly changedAt: number | null;
  /** Unused recovery codes. */
  readonly recoveryCodes: number;
}

/** Shown once. */
export interface MfaRecoveryCodes {
  readonly login: string;
  readonly codes: readonly string[];
}

/** Shown once, when enrolment starts. */
export interface MfaEnrolment extends MfaStatus {
  /** The secret in base32, for typing into an authenticator app. */
  readonly secret: string;
  /** otpauth:// URI (what a QR code carries). */
  readonly uri: string;
}

export const CHALLENGE_TTL_MS = 5 * 60_000;

interface ChallengeState {
  readonly userId: string;
  readonly login: string;
  readonly first: FirstFactor;
  readonly detail: Record<string, unknown>;
  readonly protocol: string;
  readonly remoteAddr: string | null;
  readonly client: string | null;
  readonly expiresAt: number;
  done: boolean;
  /** A check is running: a parallel second request with the same challenge is refused. */
  busy: boolean;
}

const challenges = new WeakMap<object, ChallengeState>();

const bad = () => new CoreError('UNAUTHENTICATED', 'invalid credentials');

export const mfaStateOf = (u: Pick<UserRow, 'mfa_state'>): MfaState => (u.mfa_state === 'active' ? 'active' : u.mfa_state === 'pending' ? 'pending' : 'off');
export const mfaActive = (u: Pick<UserRow, 'mfa_state'>): boolean => u.mfa_state === 'active';

function recoveryList(u: Pick<UserRow, 'mfa_recovery'>): string[] {
  if (!u.mfa_recovery) return [];
  try {
    const v: unknown = JSON.parse(u.mfa_recovery);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

type FactorCheck =
  | { readonly ok: true; readonly kind: 'totp'; readonly step: number }
  | { readonly ok: true; readonly kind: 'recovery'; readonly hash: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a second factor: a TOTP code (six digits) or, failing that form, a recovery code. Pure:
 * the caller applies the result with applyFactor (so each code works once).
 */
function checkFactor(keyring: CoreDeps['keyring'], u: UserRow, code: unknown, now: number): FactorCheck {
  const rc = normaliseCode(code) === undefined ? normaliseRecoveryCode(code) : undefined;
  if (rc) {
    const h = recoveryHash(u.id, rc);
    return recoveryList(u).includes(h) ? { ok: true, kind: 'recovery', hash: h } : { ok: false, reason: 'wrong recovery code' };
  }
  const secret = keyring && u.totp_secret ? openTotpSecret(keyring, u.id, u.totp_secret) : undefined;
  if (!secret) return { ok: false, reason: 'secret unusable' };
  const r: TotpCheck = checkTotp(secret, code, now, u.totp_last_step === null ? null : Number(u.totp_last_step));
  return r.ok ? { ok: true, kind: 'totp', step: r.step } : r;
}

/** Uses up the code of a successful check inside a write transaction; false when it was used meanwhile. */
async function applyFactor(trx: WriteScope['trx'], u: UserRow, r: FactorCheck & { ok: true }, set: Partial<UserRow>): Promise<boolean> {
  let q = trx.updateTable('users').where('id', '=', u.id).where('mfa_state', '=', 'active');
  if (r.kind === 'totp') {
    q = q.where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', r.step)]));
    const res = await q.set({ ...set, totp_last_step: r.step }).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
  const left = recoveryList(u).filter((h) => h !== r.hash);
  const res = await q
    .where('mfa_recovery', '=', u.mfa_recovery)
    .set({ ...set, mfa_recovery: JSON.stringify(left) })
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

function canonicalLogin(login: unknown): string | undefined {
  if (typeof login !== 'string') return undefined;
  const l = login.trim().toLowerCase();
  return /^[a-z0-9._@-]{1,64}$/.test(l) ? l : undefined;
}

/**
 * Records that the first factor of an MFA user succeeded and returns the challenge for the
 * second. MUST be called only after the first factor was verified and refusal() passed.
 */
export async function issueChallenge(
  deps: CoreDeps,
  user: UserRow,
  first: FirstFactor,
  ctx: RequestContext,
  detail: Record<string, unknown> = {},
): Promise<MfaChallenge> {
  const c: MfaChallenge = Object.freeze({ login: user.login, next: 'totp' as const });
  challenges.set(c, {
    userId: user.id,
    login: user.login,
    first,
    detail,
    protocol: ctx.protocol,
    remoteAddr: ctx.remoteAddr ?? null,
    client: ctx.client ?? null,
    expiresAt: deps.clock.now() + CHALLENGE_TTL_MS,
    done: false,
    busy: false,
  });
  await recordEvent(deps.db, deps.clock, {
    action: 'auth.factor',
    outcome: 'success',
    ctx,
    claimedLogin: user.login,
    claimedUserId: user.id,
    orgId: user.org_id,
    detail: { method: first, next: 'totp', ...detail },
  });
  return c;
}

export function createMfa(
  deps: CoreDeps,
  mint: (u: UserRow, ctx: RequestContext, method: string, keyId?: string | null) => Principal,
  refusal: (u: UserRow, now: number) => Promise<string | undefined>,
  refusedError: (why: string | undefined) => CoreError,
) {
  const { db, clock } = deps;

  const failure = (
    ctx: RequestContext,
    user: Pick<UserRow, 'id' | 'login' | 'org_id'> | undefined,
    login: string,
    reason: string,
    extra: Record<string, unknown> = {},
  ) =>
    failuresOf(deps).record({
      action: 'auth.login',
      outcome: 'failure',
      ctx,
      claimedLogin: login.slice(0, 64),
      claimedUserId: user?.id,
      orgId: user?.org_id ?? null,
      detail: { method: 'totp', reason, ...extra },
    });

  /** Counts a failed code like a failed password (lockout) and records it. */
  const countFailure = (ctx: RequestContext, user: UserRow, reason: string, action: Action, extra: Record<string, unknown>) =>
    countFailedSignIn(deps, user, ctx, action, { method: 'totp', reason, ...extra });

  /**
   * The TOTP factor of a user whose first factor was verified (and refusal() passed). Returns the
   * principal (method "<first>+totp") or throws UNAUTHENTICATED.
   */
  async function totpFactor(user: UserRow, code: unknown, ctx: RequestContext, first: FirstFactor, detail: Record<string, unknown> = {}): Promise<Principal> {
    const now = clock.now();
    if (user.locked_until !== null && Number(user.locked_until) > now) {
      await failure(ctx, user, user.login, 'locked out', { firstFactor: first });
      throw bad();
    }
    const r = checkFactor(deps.keyring, user, code, now);
    if (!r.ok) {
      if (r.reason === 'secret unusable') deps.log.error({ user: user.login }, 'the TOTP secret of an MFA user cannot be opened (key missing or row altered)');
      await countFailure(ctx, user, r.reason, 'auth.login', { firstFactor: first });
      throw bad();
    }
    const factor = r.kind === 'totp' ? 'totp' : 'recovery-code';
    // After a public key, the key it signed in with (its removal ends the session: auth/validity.ts).
    const p = mint(user, ctx, `${first}+${r.kind}`, typeof detail.key === 'string' ? detail.key : null);
    const accepted = await writeTx(db, clock, async (s) => {
      if (!(await applyFactor(s.trx, user, r, { failed_logins: 0, locked_until: null, last_login_at: s.now }))) return false;
      await s.audit({
        action: 'auth.login',
        outcome: 'success',
        actor: p,
        detail: { factors: [first, factor], ...detail, ...(r.kind === 'recovery' ? { recoveryCodesLeft: recoveryList(user).length - 1 } : {}) },
      });
      return true;
    });
    if (!accepted) {
      // Another sign-in used this code (or a later one) meanwhile.
      await countFailure(ctx, user, 'replayed code', 'auth.login', { firstFactor: first });
      throw bad();
    }
    return p;
  }

  /** The second request of a two-step sign-in (SSH keyboard-interactive after password/publickey). */
  async function secondFactor(challenge: MfaChallenge, loginIn: unknown, code: unknown, ctx: RequestContext): Promise<Principal> {
    const st = typeof challenge === 'object' && challenge !== null ? challenges.get(challenge) : undefined;
    const claimed =
      canonicalLogin(loginIn) ??
      String(loginIn ?? '')
        .replace(/[^\x20-\x7e]/g, '?')
        .slice(0, 64);
    if (!st || st.done || st.busy || clock.now() > st.expiresAt) {
      await failure(
        ctx,
        undefined,
        claimed,
        st ? (st.done ? 'second factor already used' : st.busy ? 'second factor already in progress' : 'first factor expired') : 'no first factor',
      );
      throw bad();
    }
    st.busy = true;
    try {
      const p = await checkSecond(st, claimed, code, ctx);
      st.done = true;
      return p;
    } finally {
      st.busy = false;
    }
  }

  async function checkSecond(st: ChallengeState, claimed: string, code: unknown, ctx: RequestContext): Promise<Principal> {
    if (claimed !== st.login || ctx.protocol !== st.protocol || (ctx.remoteAddr ?? null) !== st.remoteAddr || (ctx.client ?? null) !== st.client) {
      st.done = true;
      await failure(ctx, undefined, claimed, 'second factor for another user or connection than the first', { firstFactorUser: st.login });
      throw bad();
    }
    const user = await db.selectFrom('users').selectAll().where('id', '=', st.userId).executeTakeFirst();
    if (!user || user.login !== st.login) {
      st.done = true;
      await failure(ctx, undefined, claimed, 'user changed');
      throw bad();
    }
    const why = await refusal(user, clock.now());
    if (why) {
      st.done = true;
      await failure(ctx, user, user.login, why);
      throw refusedError(why);
    }
    if (!mfaActive(user)) {
      st.done = true;
      await failure(ctx, user, user.login, 'two-factor sign-in no longer active');
      throw bad();
    }
    return totpFactor(user, code, ctx, st.first, st.detail);
  }

  return { totpFactor, secondFactor, failure };
}

/** Enrolment and removal: by administrators (CLI, admin API) and by users for themselves (web session). */
export function createMfaAdmin(deps: CoreDeps, findUser: (ref: string) => Promise<UserRow>) {
  const { db, clock } = deps;
  const status = (u: UserRow): MfaStatus => ({
    login: u.login,
    state: mfaStateOf(u),
    changedAt: u.mfa_changed_at === null ? null : Number(u.mfa_changed_at),
    recoveryCodes: mfaActive(u) ? recoveryList(u).length : 0,
  });

  async function start(p: Principal, u: UserRow, via: 'admin' | 'self'): Promise<MfaEnrolment> {
    if (u.status === 'decoy') throw new CoreError('INVALID_INPUT', 'a decoy account has no second factor');
    if (mfaActive(u)) throw new CoreError('CONFLICT', 'two-factor sign-in is already active; disable it first');
    if (!deps.keyring) throw new CoreError('UNAVAILABLE', 'two-factor sign-in needs the instance keys');
    const secret = newTotpSecret();
    const sealed = sealTotpSecret(deps.keyring, u.id, secret);
    const now = await writeTx(db, clock, async (s) => {
      await s.trx
        .updateTable('users')
        .set({ mfa_state: 'pending', totp_secret: sealed, totp_last_step: null, mfa_changed_at: s.now, mfa_recovery: null })
        .where('id', '=', u.id)
        .execute();
      await s.audit({ action: 'mfa.enrol', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, via, state: 'pending' } });
      return s.now;
    });
    return { login: u.login, state: 'pending', changedAt: now, recoveryCodes: 0, secret: base32Of(secret), uri: totpUri(secret, u.login) };
  }

  /** Activates a pending enrolment with a first valid code. */
  async function confirm(p: Principal, u: UserRow, code: unknown, via: 'admin' | 'self'): Promise<MfaStatus> {
    if (u.mfa_state !== 'pending' || !u.totp_secret)
      throw new CoreError('CONFLICT', mfaActive(u) ? 'two-factor sign-in is already active' : 'no two-factor enrolment is pending; start one first');
    const secret = deps.keyring ? openTotpSecret(deps.keyring, u.id, u.totp_secret) : undefined;
    if (!secret) throw new CoreError('UNAVAILABLE', 'the pending secret cannot be opened; start the enrolment again');
    const r: TotpCheck = checkTotp(secret, code, clock.now(), null);
    if (!r.ok) {
      await recordEvent(db, clock, { action: 'mfa.confirm', outcome: 'failure', actor: p, orgId: u.org_id, detail: { login: u.login, via, reason: r.reason } });
      throw new CoreError('INVALID_INPUT', 'the verification code is not valid');
    }
    const now = await writeTx(db, clock, async (s) => {
      const res = await s.trx
        .updateTable('users')
        .set({ mfa_state: 'active', totp_last_step: r.step, mfa_changed_at: s.now })
        .where('id', '=', u.id)
        .where('mfa_state', '=', 'pending')
        .where('totp_secret', '=', u.totp_secret)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw new CoreError('CONFLICT', 'the enrolment changed meanwhile; start it again');
      // Sessions made before the second factor existed end when an administrator turns it on
      // (a user confirming for themselves keeps the session they are using).
      if (via === 'admin') await s.trx.deleteFrom('sessions').where('user_id', '=', u.id).execute();
      await s.audit({ action: 'mfa.confirm', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, via, state: 'active' } });
      return s.now;
    });
    return { login: u.login, state: 'active', changedAt: now, recoveryCodes: 0 };
  }

  /** Turns it off; `use`: the checked code of a self-service request, used up in the same transaction. */
  async function disable(p: Principal, u: UserRow, via: 'admin' | 'self', use?: FactorCheck & { ok: true }): Promise<MfaStatus> {
    const before = mfaStateOf(u);
    const now = await writeTx(db, clock, async (s) => {
      if (use && !(await applyFactor(s.trx, u, use, {}))) throw new CoreError('INVALID_INPUT', 'the verification code is not valid');
      await s.trx
        .updateTable('users')
        .set({ mfa_state: null, totp_secret: null, totp_last_step: null, mfa_changed_at: s.now, mfa_recovery: null })
        .where('id', '=', u.id)
        .execute();
      await s.audit({ action: 'mfa.disable', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, via, before } });
      return s.now;
    });
    return { login: u.login, state: 'off', changedAt: now, recoveryCodes: 0 };
  }

  /** New recovery codes (replacing any unused ones); only while two-factor sign-in is active (SG-1). */
  async function recovery(p: Principal, u: UserRow, via: 'admin' | 'self'): Promise<MfaRecoveryCodes> {
    if (!mfaActive(u)) throw new CoreError('CONFLICT', 'recovery codes exist only while two-factor sign-in is active');
    const codes = newRecoveryCodes();
    const hashes = JSON.stringify(codes.map((c) => recoveryHash(u.id, normaliseRecoveryCode(c)!)));
    await writeTx(db, clock, async (s) => {
      const res = await s.trx.updateTable('users').set({ mfa_recovery: hashes }).where('id', '=', u.id).where('mfa_state', '=', 'active').executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw new CoreError('CONFLICT', 'two-factor sign-in changed meanwhile');
      await s.audit({ action: 'mfa.recovery', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, via, count: codes.length } });
    });
    return { login: u.login, codes };
  }

  /**
   * The signed-in user of a self-service scope. The gate let it through only for a web session
   * (actions.ts: 'web-session'): a session is made only with every factor the account has.
   */
  async function self(sc: Scope): Promise<UserRow> {
    const p = sc.principal;
    const u = p.userId ? await db.selectFrom('users').selectAll().where('id', '=', p.userId).executeTakeFirst() : undefined;
    if (!u) throw new CoreError('UNAUTHENTICATED', 'invalid credentials');
    return u;
  }

  return {
    admin: {
      async status(_sc: Scope<'admin.mfa.status'>, ref: string): Promise<MfaStatus> {
        return status(await findUser(ref));
      },
      /** Issues a new secret (shown once); the user is pending until confirm(). Refused while active. */
      async enable(sc: Scope<'admin.mfa.enrol'>, ref: string): Promise<MfaEnrolment> {
        return start(sc.principal, await findUser(ref), 'admin');
      },
      async confirm(sc: Scope<'admin.mfa.confirm'>, ref: string, code: unknown): Promise<MfaStatus> {
        return confirm(sc.principal, await findUser(ref), code, 'admin');
      },
      /** New recovery codes (shown once; the old ones stop working). Only while active. */
      async recoveryCodes(sc: Scope<'admin.mfa.recovery'>, ref: string): Promise<MfaRecoveryCodes> {
        return recovery(sc.principal, await findUser(ref), 'admin');
      },
      /** Turns two-factor sign-in off and forgets the secret and recovery codes (lost phone). */
      async disable(sc: Scope<'admin.mfa.disable'>, ref: string): Promise<MfaStatus> {
        return disable(sc.principal, await findUser(ref), 'admin');
      },
    },
    self: {
      async status(sc: Scope<'mfa.status'>): Promise<MfaStatus> {
        const p = sc.principal;
        if (p.kind !== 'user' || !p.userId) throw new CoreError('INVALID_INPUT', 'only users have two-factor settings');
        const u = await db.selectFrom('users').selectAll().where('id', '=', p.userId).executeTakeFirstOrThrow();
        return status(u);
      },
      async start(sc: Scope<'mfa.enrol'>): Promise<MfaEnrolment> {
        return start(sc.principal, await self(sc), 'self');
      },
      async confirm(sc: Scope<'mfa.confirm'>, code: unknown): Promise<MfaStatus> {
        return confirm(sc.principal, await self(sc), code, 'self');
      },
      /** New recovery codes for oneself (shown once). Only while active. */
      async recoveryCodes(sc: Scope<'mfa.recovery'>): Promise<MfaRecoveryCodes> {
        return recovery(sc.principal, await self(sc), 'self');
      },
      /**
       * Turns it off; needs a current code or a recovery code (a hijacked session alone cannot
       * remove the second factor). A wrong code counts toward the lockout like a failed sign-in.
       */
      async disable(sc: Scope<'mfa.disable'>, code: unknown): Promise<MfaStatus> {
        const p = sc.principal;
        const u = await self(sc);
        if (!mfaActive(u)) throw new CoreError('CONFLICT', 'two-factor sign-in is not active');
        const now = clock.now();
        const locked = u.locked_until !== null && Number(u.locked_until) > now;
        const r: FactorCheck = locked ? { ok: false, reason: 'locked out' } : checkFactor(deps.keyring, u, code, now);
        if (!r.ok) {
          const lock = u.failed_logins + 1 >= deps.settings.lockoutThreshold;
          await writeTx(db, clock, async (s) => {
            await s.trx
              .updateTable('users')
              .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1), locked_until: lock ? s.now + deps.settings.lockoutDurationMs : u.locked_until }))
              .where('id', '=', u.id)
              .execute();
            await s.audit({
              action: 'mfa.disable',
              outcome: 'failure',
              actor: p,
              orgId: u.org_id,
              detail: { login: u.login, via: 'self', reason: r.reason, ...(lock ? { lockedOut: true } : {}) },
            });
          });
          if (lock) await lockoutAlert(deps, u, { protocol: p.protocol, remoteAddr: p.remoteAddr ?? undefined }, { method: 'totp' });
          throw new CoreError('INVALID_INPUT', 'the verification code is not valid');
        }
        return disable(p, u, 'self', r);
      },
    },
  };
}
