/**
 * Sign-in for staff through the organisation's OpenID provider (authorization code + PKCE, state
 * and nonce; the protocol itself is adapters/oidc.ts).
 *
 * Contract:
 * - A flow is started by `start` (its checks stored in oidc_flows, 10 minutes, used once: any node
 *   may finish it) and finished by `finish` with the callback URL. The front end binds the flow to
 *   the browser (a cookie holding the flow id).
 * - Users are matched by their stable subject: issuer + sub (oidc_identities), never by e-mail
 *   or name. An unknown subject is provisioned only when SLUICE_OIDC_PROVISION is on.
 * - The role comes from the role claim (SLUICE_OIDC_ROLE_CLAIM) through SLUICE_OIDC_ROLES: the
 *   highest role any value maps to; no mapped value: refused. The partner role is refused unless
 *   SLUICE_OIDC_ALLOW_PARTNER (and never provisioned). A linked user's role follows the claim at
 *   every sign-in (recorded when it changes).
 * - The user is checked like any sign-in (status, expiry, organisation, lockdown). Failures answer
 *   the generic UNAUTHENTICATED; the ledger has the reason (auth.login, method oidc).
 */
import { randomBytes, createHash } from 'node:crypto';
import { CoreError } from '../errors.js';
import type { Principal, RequestContext, Role } from '../principal.js';
import { writeTx } from '../tx.js';
import { failuresOf } from './failures.js';
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import type { OidcIdentity } from '../../ports/oidc.js';
import type { OidcSettings } from '../settings.js';

export const OIDC_FLOW_TTL_MS = 10 * 60_000;
const RANK: Record<Role, number> = { partner: 1, staff: 2, admin: 3 };
const FLOW = /^[A-Za-z0-9_-]{22,64}$/;
const bad = () => new CoreError('UNAUTHENTICATED', 'invalid credentials');

export type { OidcSettings } from '../settings.js';

/** "sluice-admins:admin,sluice-staff:staff" → { 'sluice-admins': 'admin', … }; throws on a bad entry. */
export function parseRoleMap(v: string): Record<string, Role> {
  const out: Record<string, Role> = {};
  for (const part of v.split(',')) {
    const s = part.trim();
    if (!s) continue;
    const i = s.lastIndexOf(':');
    const value = s.slice(0, i).trim();
    const role = s.slice(i + 1).trim();
    if (i <= 0 || !value || (role !== 'admin' && role !== 'staff' && role !== 'partner')) throw new Error(`expected VALUE:admin|staff|partner, got "${s}"`);
    out[value] = role;
  }
  return out;
}

export function mappedRole(s: OidcSettings, claims: Readonly<Record<string, unknown>>): Role | undefined {
  const raw = claims[s.roleClaim];
  const values = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : typeof raw === 'string' ? [raw] : [];
  let best: Role | undefined;
  for (const v of values) {
    const r = Object.hasOwn(s.roles, v) ? s.roles[v] : undefined;
    if (r && (!best || RANK[r] > RANK[best])) best = r;
  }
  return best;
}

function loginFrom(claims: Readonly<Record<string, unknown>>, subject: string): string {
  const pick = [claims.preferred_username, claims.email].find((x): x is string => typeof x === 'string' && x.length > 0);
  const base = (pick ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9._@-]/g, '')
    .slice(0, 48);
  return base || `oidc-${createHash('sha256').update(subject).digest('hex').slice(0, 12)}`;
}

export function createOidc(
  deps: CoreDeps,
  mint: (u: UserRow, ctx: RequestContext, method: string) => Principal,
  refusal: (u: UserRow, now: number) => Promise<string | undefined>,
  refusedError: (why: string | undefined) => CoreError,
  provisionUser: (login: string, role: Role, org: string | undefined) => Promise<string>,
) {
  const { db, clock } = deps;
  const port = () => {
    if (!deps.oidc || !deps.settings.oidc) throw new CoreError('UNAVAILABLE', 'sign-in with the organisation account is not configured');
    return { port: deps.oidc, s: deps.settings.oidc };
  };

  const failure = (ctx: RequestContext, reason: string, extra: Record<string, unknown> = {}, user?: Pick<UserRow, 'id' | 'login' | 'org_id'>) =>
    failuresOf(deps).record({
      action: 'auth.login',
      outcome: 'failure',
      ctx,
      claimedLogin: user?.login,
      claimedUserId: user?.id,
      orgId: user?.org_id ?? null,
      detail: { method: 'oidc', reason, ...extra },
    });

  async function userFor(id: OidcIdentity, role: Role, s: OidcSettings, ctx: RequestContext): Promise<UserRow> {
    const link = await db.selectFrom('oidc_identities').select('user_id').where('issuer', '=', id.issuer).where('subject', '=', id.subject).executeTakeFirst();
    if (link) {
      const u = await db.selectFrom('users').selectAll().where('id', '=', link.user_id).executeTakeFirst();
      if (u) return u;
    }
    const who = { issuer: id.issuer, subject: id.subject };
    if (!s.provision) {
      await failure(ctx, 'no user for this subject (provisioning is off)', who);
      throw bad();
    }
    if (role === 'partner') {
      await failure(ctx, 'partner users are not provisioned from the provider', who);
      throw bad();
    }
    if (role === 'staff' && !s.org) {
      await failure(ctx, 'staff users need an organisation: set SLUICE_OIDC_ORG', who);
      throw bad();
    }
    const base = loginFrom(id.claims, id.subject);
    let login = base;
    for (let n = 2; await db.selectFrom('users').select('id').where('login', '=', login).executeTakeFirst(); n++) {
      if (n > 50) {
        await failure(ctx, 'no free login for the new user', who);
        throw bad();
      }
      login = `${base}-${n}`;
    }
    const userId = await provisionUser(login, role, role === 'staff' ? s.org : undefined);
    await writeTx(db, clock, async (w) => {
      await w.trx
        .insertInto('oidc_identities')
        .values({ issuer: id.issuer, subject: id.subject, user_id: userId, created_at: w.now, last_login_at: null })
        .execute();
      await w.audit({ action: 'oidc.link', outcome: 'success', ctx, claimedLogin: login, claimedUserId: userId, detail: { ...who, provisioned: true, role } });
    });
    return db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
  }

  return {
    enabled: () => !!deps.oidc && !!deps.settings.oidc,

    /** Starts a flow: returns its id (for the browser's cookie) and the provider's URL. */
    async start(): Promise<{ flowId: string; url: string }> {
      const { port: p } = port();
      const b = await p.begin().catch((e: unknown) => {
        throw new CoreError('UNAVAILABLE', 'the OpenID provider cannot be reached', { cause: e });
      });
      const flowId = randomBytes(18).toString('base64url');
      const now = clock.now();
      await db.deleteFrom('oidc_flows').where('expires_at', '<=', now).execute();
      await db
        .insertInto('oidc_flows')
        .values({
          id: flowId,
          data: JSON.stringify({ state: b.state, nonce: b.nonce, verifier: b.verifier }),
          created_at: now,
          expires_at: now + OIDC_FLOW_TTL_MS,
        })
        .execute();
      return { flowId, url: b.url };
    },

    /** Finishes a flow with the callback URL the provider sent the browser to. */
    async finish(flowId: unknown, callbackUrl: string, ctx: RequestContext): Promise<Principal> {
      const { port: p, s } = port();
      const row =
        typeof flowId === 'string' && FLOW.test(flowId) ? await db.selectFrom('oidc_flows').selectAll().where('id', '=', flowId).executeTakeFirst() : undefined;
      const taken = row ? Number((await db.deleteFrom('oidc_flows').where('id', '=', row.id).executeTakeFirst()).numDeletedRows) === 1 : false;
      if (!row || !taken || Number(row.expires_at) <= clock.now()) {
        await failure(ctx, 'no such sign-in flow, used or expired');
        throw bad();
      }
      const checks = JSON.parse(row.data) as { state: string; nonce: string; verifier: string };
      let id: OidcIdentity;
      try {
        id = await p.complete(callbackUrl, checks);
      } catch (e) {
        await failure(ctx, `provider answer refused: ${String((e as Error)?.message ?? e).slice(0, 160)}`);
        throw bad();
      }
      const who = { issuer: id.issuer, subject: id.subject };
      const role = mappedRole(s, id.claims);
      if (!role) {
        await failure(ctx, 'no role for the claim values', { ...who, claim: s.roleClaim });
        throw bad();
      }
      if (role === 'partner' && !s.allowPartner) {
        await failure(ctx, 'the partner role is not allowed through the provider', who);
        throw bad();
      }
      let user = await userFor(id, role, s, ctx);
      const why = await refusal(user, clock.now());
      if (why) {
        await failure(ctx, why, who, user);
        throw refusedError(why);
      }
      if (role === 'staff' && !user.org_id) {
        await failure(ctx, 'a staff user needs an organisation', who, user);
        throw bad();
      }
      const before = user.role;
      if (before !== role) user = { ...user, role };
      const principal = mint(user, ctx, 'oidc');
      await writeTx(db, clock, async (w) => {
        const set = before !== role ? { role, last_login_at: w.now } : { last_login_at: w.now };
        await w.trx.updateTable('users').set(set).where('id', '=', user.id).execute();
        await w.trx.updateTable('oidc_identities').set({ last_login_at: w.now }).where('issuer', '=', id.issuer).where('subject', '=', id.subject).execute();
        if (before !== role)
          await w.audit({
            action: 'user.update',
            outcome: 'success',
            actor: principal,
            detail: { login: user.login, role, previousRole: before, via: 'oidc' },
          });
        await w.audit({ action: 'auth.login', outcome: 'success', actor: principal, detail: { factors: ['oidc'], ...who } });
      });
      return principal;
    },
  };
}
