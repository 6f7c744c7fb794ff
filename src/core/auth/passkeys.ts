/**
 * WebAuthn passkeys (@simplewebauthn/server): registration by a signed-in user, sign-in without a
 * password (discoverable credentials), and a passkey as the second factor after the password.
 *
 * Contract:
 * - Every ceremony starts with options that carry a fresh challenge; the challenge is stored in
 *   the database (webauthn_challenges: any node may finish the ceremony), lives CHALLENGE_TTL_MS
 *   and is used once: finishing deletes its row first, in the same transaction that checks it, so
 *   two parallel answers to one challenge cannot both pass. A challenge is bound to its purpose
 *   (register, login, second) and, for register and second, to the user it was made for.
 * - The relying party (RP ID and the accepted origins) comes from configuration: SLUICE_PUBLIC_URL,
 *   else http://localhost:PORT of the listener.
 * - The signature counter must grow whenever the authenticator keeps one (the library refuses a
 *   counter that did not grow); the stored counter is updated conditionally, so a cloned
 *   authenticator racing the original is refused too.
 * - Registration needs a web session (a session is only made with every factor the account has).
 *   Passkeys are listed, renamed and removed by their owner; administrators list and remove
 *   anyone's.
 * - Sign-in with a passkey checks the user like any sign-in (status, expiry, organisation,
 *   lockdown); every failure answers the generic UNAUTHENTICATED and is recorded with its reason.
 *   A user who has a passkey needs it (or a TOTP code) after the password in the web app.
 * - Everything is in the ledger: passkey.register, passkey.rename, passkey.remove, auth.login
 *   (method passkey / password+passkey).
 */
import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { CoreError } from '../errors.js';
import type { Principal, RequestContext } from '../principal.js';
import { recordEvent, writeTx } from '../tx.js';
import type { Scope } from '../gate.js';
import { failuresOf } from './failures.js';
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';

export const PASSKEY_CHALLENGE_TTL_MS = 5 * 60_000;
export const MAX_PASSKEYS_PER_USER = 20;

export interface RelyingParty {
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
}

export interface PasskeyInfo {
  readonly id: string;
  readonly login: string;
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  /** The authenticator says the credential is synced (multi-device passkey). */
  readonly backedUp: boolean;
}

export interface Ceremony<T> {
  /** Names the stored challenge; sent back with the authenticator's answer. */
  readonly ceremonyId: string;
  readonly options: T;
}

const bad = () => new CoreError('UNAUTHENTICATED', 'invalid credentials');
const CEREMONY = /^[A-Za-z0-9_-]{22,64}$/;
const CREDENTIAL = /^[A-Za-z0-9_-]{16,1400}$/;

function passkeyName(v: unknown): string {
  if (typeof v !== 'string') throw new CoreError('INVALID_INPUT', 'a passkey name is a string');
  const n = v.trim();
  if (n.length < 1 || n.length > 100 || /[\u0000-\u001f\u007f]/.test(n))
    throw new CoreError('INVALID_INPUT', 'a passkey name has 1 to 100 printable characters');
  return n;
}

function transportsOf(json: string): AuthenticatorTransportFuture[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? (v.filter((x) => typeof x === 'string') as AuthenticatorTransportFuture[]) : [];
  } catch {
    return [];
  }
}

export function createPasskeys(
  deps: CoreDeps,
  mint: (u: UserRow, ctx: RequestContext, method: string) => Principal,
  refusal: (u: UserRow, now: number) => Promise<string | undefined>,
  refusedError: (why: string | undefined) => CoreError,
) {
  const { db, clock } = deps;
  const rp = (): RelyingParty => {
    const r = deps.settings.webauthn;
    if (!r) throw new CoreError('UNAVAILABLE', 'passkeys are not configured');
    return r;
  };

  async function storeChallenge(challenge: string, purpose: 'register' | 'login' | 'second', userId: string | null): Promise<string> {
    const id = randomBytes(18).toString('base64url');
    const now = clock.now();
    // Expired challenges of anybody go with each new one (the table stays small without a timer).
    await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).execute();
    await db
      .insertInto('webauthn_challenges')
      .values({ id, challenge, purpose, user_id: userId, created_at: now, expires_at: now + PASSKEY_CHALLENGE_TTL_MS })
      .execute();
    return id;
  }

  /** Takes a challenge out of the store (once): undefined when unknown, used, expired or of another purpose. */
  async function takeChallenge(ceremonyId: unknown, purposes: readonly string[]) {
    if (typeof ceremonyId !== 'string' || !CEREMONY.test(ceremonyId)) return undefined;
    const row = await db.selectFrom('webauthn_challenges').selectAll().where('id', '=', ceremonyId).executeTakeFirst();
    if (!row) return undefined;
    const gone = await db.deleteFrom('webauthn_challenges').where('id', '=', ceremonyId).executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) return undefined; // another request took it
    if (Number(row.expires_at) <= clock.now() || !purposes.includes(row.purpose)) return undefined;
    return row;
  }

  const ownPasskeys = (userId: string) => db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();

  const info = (login: string, r: Awaited<ReturnType<typeof ownPasskeys>>[number]): PasskeyInfo => ({
    id: r.id,
    login,
    name: r.name,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    backedUp: Number(r.backed_up) === 1,
  });

  /** The signed-in user of a scope the gate let through (passkey.register needs a web session: actions.ts). */
  async function sessionUser(sc: Scope): Promise<UserRow> {
    const p = sc.principal;
    const u = p.userId ? await db.selectFrom('users').selectAll().where('id', '=', p.userId).executeTakeFirst() : undefined;
    if (!u) throw bad();
    return u;
  }

  /** The user whose passkeys an operation touches: one's own, or (administrators) anyone's by login. */
  /**
   * The user whose passkeys an operation touches: one's own (login undefined), or the one the gate
   * let an administrator name (self-or-admin, decided in access/).
   */
  async function owner(sc: Scope, login: string | undefined): Promise<UserRow> {
    const p = sc.principal;
    if (login === undefined) {
      if (!p.userId) throw new CoreError('INVALID_INPUT', 'name the user');
      const u = await db.selectFrom('users').selectAll().where('id', '=', p.userId).executeTakeFirst();
      if (!u) throw bad();
      return u;
    }
    const u = await db.selectFrom('users').selectAll().where('login', '=', login.trim().toLowerCase()).executeTakeFirst();
    if (!u) throw new CoreError('NOT_FOUND', 'no such user');
    return u;
  }

  async function loginFailure(ctx: RequestContext, reason: string, user?: Pick<UserRow, 'id' | 'login' | 'org_id'>, extra: Record<string, unknown> = {}) {
    await failuresOf(deps).record({
      action: 'auth.login',
      outcome: 'failure',
      ctx,
      claimedLogin: user?.login,
      claimedUserId: user?.id,
      orgId: user?.org_id ?? null,
      detail: { method: 'passkey', reason, ...extra },
    });
  }

  /**
   * Checks an assertion against a taken challenge; returns the user and the principal, having
   * stored the new counter and recorded the sign-in. `first` is set for the second factor.
   */
  async function finishAssertion(
    row: { challenge: string; purpose: string; user_id: string | null },
    response: unknown,
    ctx: RequestContext,
    first: 'password' | undefined,
  ): Promise<Principal> {
    const r = response as AuthenticationResponseJSON;
    if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || !CREDENTIAL.test(r.id)) {
      await loginFailure(ctx, 'malformed passkey answer');
      throw bad();
    }
    const key = await db.selectFrom('passkeys').selectAll().where('id', '=', r.id).executeTakeFirst();
    const user = key ? await db.selectFrom('users').selectAll().where('id', '=', key.user_id).executeTakeFirst() : undefined;
    if (!key || !user) {
      await loginFailure(ctx, 'unknown passkey');
      throw bad();
    }
    if (row.user_id !== null && row.user_id !== user.id) {
      await loginFailure(ctx, 'passkey of another user than the password', user);
      throw bad();
    }
    if (r.response?.userHandle && r.response.userHandle !== isoBase64URL.fromUTF8String(user.id)) {
      await loginFailure(ctx, 'user handle does not match the passkey', user);
      throw bad();
    }
    const now = clock.now();
    if (user.locked_until !== null && Number(user.locked_until) > now) {
      await loginFailure(ctx, 'locked out', user);
      throw bad();
    }
    const why = await refusal(user, now);
    if (why) {
      await loginFailure(ctx, why, user);
      throw refusedError(why);
    }
    const party = rp();
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response: r,
        expectedChallenge: row.challenge,
        expectedOrigin: [...party.origins],
        expectedRPID: party.rpId,
        credential: { id: key.id, publicKey: isoBase64URL.toBuffer(key.public_key), counter: Number(key.counter), transports: transportsOf(key.transports) },
        requireUserVerification: first === undefined,
      });
    } catch (e) {
      await loginFailure(ctx, `passkey answer refused: ${String((e as Error)?.message ?? e).slice(0, 160)}`, user, { passkey: key.id });
      throw bad();
    }
    if (!verified.verified) {
      await loginFailure(ctx, 'passkey answer not verified', user, { passkey: key.id });
      throw bad();
    }
    const method = first ? `${first}+passkey` : 'passkey';
    const p = mint(user, ctx, method);
    const next = verified.authenticationInfo.newCounter;
    const ok = await writeTx(db, clock, async (s) => {
      const upd = await s.trx
        .updateTable('passkeys')
        .set({ counter: next, last_used_at: s.now, backed_up: verified.authenticationInfo.credentialBackedUp ? 1 : 0 })
        .where('id', '=', key.id)
        .where('counter', '=', key.counter)
        .executeTakeFirst();
      if (Number(upd.numUpdatedRows) !== 1) return false;
      await s.trx.updateTable('users').set({ failed_logins: 0, locked_until: null, last_login_at: s.now }).where('id', '=', user.id).execute();
      await s.audit({ action: 'auth.login', outcome: 'success', actor: p, detail: { factors: first ? [first, 'passkey'] : ['passkey'], passkey: key.id } });
      return true;
    });
    if (!ok) {
      await loginFailure(ctx, 'passkey used by another sign-in meanwhile (signature counter)', user, { passkey: key.id });
      throw bad();
    }
    return p;
  }

  return {
    /** Whether the user has a passkey (then the web app's password sign-in needs it, or a TOTP code). */
    async has(userId: string): Promise<boolean> {
      return !!(await db.selectFrom('passkeys').select('id').where('user_id', '=', userId).limit(1).executeTakeFirst());
    },

    self: {
      /** Registration options for a new passkey of the signed-in user (a discoverable credential). */
      async registrationOptions(sc: Scope<'passkey.register'>): Promise<Ceremony<PublicKeyCredentialCreationOptionsJSON>> {
        const u = await sessionUser(sc);
        const existing = await ownPasskeys(u.id);
        if (existing.length >= MAX_PASSKEYS_PER_USER) throw new CoreError('CONFLICT', `at most ${MAX_PASSKEYS_PER_USER} passkeys per user`);
        const party = rp();
        const options = await generateRegistrationOptions({
          rpName: party.rpName,
          rpID: party.rpId,
          userName: u.login,
          userID: new TextEncoder().encode(u.id),
          attestationType: 'none',
          excludeCredentials: existing.map((k) => ({ id: k.id, transports: transportsOf(k.transports) })),
          authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
          timeout: PASSKEY_CHALLENGE_TTL_MS,
        });
        return { ceremonyId: await storeChallenge(options.challenge, 'register', u.id), options };
      },

      /** Finishes a registration with the authenticator's answer; `name` labels the passkey. */
      async register(sc: Scope<'passkey.register'>, ceremonyId: unknown, response: unknown, name: unknown): Promise<PasskeyInfo> {
        const p = sc.principal;
        const u = await sessionUser(sc);
        const label = name === undefined ? 'Passkey' : passkeyName(name);
        const row = await takeChallenge(ceremonyId, ['register']);
        const refuse = async (reason: string) => {
          await recordEvent(db, clock, { action: 'passkey.register', outcome: 'failure', actor: p, detail: { reason } });
          return new CoreError('INVALID_INPUT', 'the passkey could not be registered; start again');
        };
        if (!row || row.user_id !== u.id) throw await refuse(row ? 'ceremony of another user' : 'no such ceremony, used or expired');
        const party = rp();
        let v: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
        try {
          v = await verifyRegistrationResponse({
            response: response as RegistrationResponseJSON,
            expectedChallenge: row.challenge,
            expectedOrigin: [...party.origins],
            expectedRPID: party.rpId,
            requireUserVerification: false,
          });
        } catch (e) {
          throw await refuse(`answer refused: ${String((e as Error)?.message ?? e).slice(0, 160)}`);
        }
        if (!v.verified || !v.registrationInfo) throw await refuse('answer not verified');
        const c = v.registrationInfo.credential;
        if (!CREDENTIAL.test(c.id)) throw await refuse('credential id out of range');
        const out = await writeTx(db, clock, async (s) => {
          const taken = await s.trx.selectFrom('passkeys').select('user_id').where('id', '=', c.id).executeTakeFirst();
          if (taken) return undefined;
          const rec = {
            id: c.id,
            user_id: u.id,
            name: label,
            public_key: isoBase64URL.fromBuffer(c.publicKey),
            counter: c.counter,
            transports: JSON.stringify(c.transports ?? []),
            backed_up: v.registrationInfo?.credentialBackedUp ? 1 : 0,
            created_at: s.now,
            last_used_at: null,
          };
          await s.trx.insertInto('passkeys').values(rec).execute();
          await s.audit({ action: 'passkey.register', outcome: 'success', actor: p, detail: { passkey: c.id, name: label } });
          return info(u.login, rec);
        });
        if (!out) throw await refuse('credential already registered');
        return out;
      },
    },

    /** Own passkeys (login undefined) or, for administrators, anyone's. */
    async list(sc: Scope<'passkey.list' | 'admin.passkey.list'>, login?: string): Promise<PasskeyInfo[]> {
      const u = await owner(sc, login);
      return (await ownPasskeys(u.id)).map((r) => info(u.login, r));
    },

    async rename(sc: Scope<'passkey.rename'>, id: unknown, name: unknown): Promise<PasskeyInfo> {
      const p = sc.principal;
      const u = await owner(sc, undefined);
      const label = passkeyName(name);
      if (typeof id !== 'string' || !CREDENTIAL.test(id)) throw new CoreError('NOT_FOUND', 'no such passkey');
      return writeTx(db, clock, async (s) => {
        const r = await s.trx.updateTable('passkeys').set({ name: label }).where('id', '=', id).where('user_id', '=', u.id).executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) throw new CoreError('NOT_FOUND', 'no such passkey');
        await s.audit({ action: 'passkey.rename', outcome: 'success', actor: p, detail: { passkey: id, name: label } });
        const row = await s.trx.selectFrom('passkeys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        return info(u.login, row);
      });
    },

    /** Removes one of one's own passkeys or (administrators, with login) one of anyone's. */
    async remove(sc: Scope<'passkey.remove' | 'admin.passkey.remove'>, id: unknown, login?: string): Promise<void> {
      const p = sc.principal;
      const u = await owner(sc, login);
      if (typeof id !== 'string' || !CREDENTIAL.test(id)) throw new CoreError('NOT_FOUND', 'no such passkey');
      await writeTx(db, clock, async (s) => {
        const r = await s.trx.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', u.id).executeTakeFirst();
        if (Number(r.numDeletedRows) !== 1) throw new CoreError('NOT_FOUND', 'no such passkey');
        await s.audit({
          action: 'passkey.remove',
          outcome: 'success',
          actor: p,
          orgId: u.org_id,
          detail: { passkey: id, login: u.login, via: login === undefined ? 'self' : 'admin' },
        });
      });
    },

    /** Options for a sign-in without a password: any discoverable passkey of this site answers. */
    async loginOptions(): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>> {
      const party = rp();
      const options = await generateAuthenticationOptions({ rpID: party.rpId, userVerification: 'required', timeout: PASSKEY_CHALLENGE_TTL_MS });
      return { ceremonyId: await storeChallenge(options.challenge, 'login', null), options };
    },

    /**
     * Options for the passkey as the second factor: for the user whose password was just verified
     * (the caller checks it), with that user's passkeys allowed.
     */
    async secondOptions(user: UserRow): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>> {
      const party = rp();
      const keys = await ownPasskeys(user.id);
      if (keys.length === 0) throw new CoreError('CONFLICT', 'this account has no passkey');
      const options = await generateAuthenticationOptions({
        rpID: party.rpId,
        userVerification: 'preferred',
        allowCredentials: keys.map((k) => ({ id: k.id, transports: transportsOf(k.transports) })),
        timeout: PASSKEY_CHALLENGE_TTL_MS,
      });
      return { ceremonyId: await storeChallenge(options.challenge, 'second', user.id), options };
    },

    /** Finishes a passkey sign-in (passwordless, or the second factor after secondOptions). */
    async finish(ceremonyId: unknown, response: unknown, ctx: RequestContext): Promise<Principal> {
      const row = await takeChallenge(ceremonyId, ['login', 'second']);
      if (!row) {
        await loginFailure(ctx, 'no such ceremony, used or expired');
        throw bad();
      }
      return finishAssertion(row, response, ctx, row.purpose === 'second' ? 'password' : undefined);
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
