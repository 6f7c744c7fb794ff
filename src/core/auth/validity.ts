/**
 * Is a principal still what it was when it signed in? A live session (an SFTP connection, a
 * transfer in progress) holds one principal for as long as it lasts; revoking anything that
 * principal stands on must reach it.
 *
 * Contract:
 * - A user principal is valid while the user exists, is active and not expired, has the role and
 *   organisation it signed in with, and the organisation is active; a token principal while the
 *   token is neither revoked nor expired; a session principal while its web session exists and has
 *   not reached its lifetime; a public-key principal while its SSH key is still on the account.
 *   The system principal is always valid.
 * - The answer is at most CACHE_MS (1 s) old, like the lockdown state: a principal is checked
 *   against the database at most once a second, however many operations it runs. Minting counts
 *   as a check (the credential was verified just then), so a request that signs in and acts costs
 *   no extra read.
 */
import type { CoreDeps } from '../deps.js';
import { markValid, validAt, type Principal } from '../principal.js';
import { CACHE_MS } from '../ops/lockdown.js';

const invalid = new WeakMap<Principal, { reason: string; at: number }>();

/** Why the principal is no longer valid, or undefined while it is. */
export async function invalidReason(deps: CoreDeps, p: Principal): Promise<string | undefined> {
  if (p.kind === 'system') return undefined;
  const now = Date.now();
  const known = invalid.get(p);
  if (known && now - known.at < CACHE_MS) return known.reason;
  const at = validAt(p);
  if (!known && at !== undefined && now - at < CACHE_MS) return undefined;
  const reason = await check(deps, p);
  if (reason) invalid.set(p, { reason, at: now });
  else {
    invalid.delete(p);
    markValid(p, now);
  }
  return reason;
}

async function check(deps: CoreDeps, p: Principal): Promise<string | undefined> {
  const { db } = deps;
  const now = deps.clock.now();
  if (!p.userId) return 'no user';
  const u = await db.selectFrom('users').select(['status', 'role', 'org_id', 'expires_at']).where('id', '=', p.userId).executeTakeFirst();
  if (!u) return 'user removed';
  if (u.status !== 'active') return 'user disabled';
  if (u.expires_at !== null && Number(u.expires_at) <= now) return 'user expired';
  if (u.role !== p.role) return 'role changed';
  if (u.org_id !== p.orgId) return 'organisation changed';
  if (u.org_id) {
    const org = await db.selectFrom('orgs').select('status').where('id', '=', u.org_id).executeTakeFirst();
    if (!org || org.status !== 'active') return 'organisation disabled';
  }
  if (p.tokenId) {
    const t = await db.selectFrom('tokens').select(['revoked_at', 'expires_at']).where('id', '=', p.tokenId).executeTakeFirst();
    if (!t || t.revoked_at !== null) return 'token revoked';
    if (t.expires_at !== null && Number(t.expires_at) <= now) return 'token expired';
  }
  if (p.sessionId) {
    const s = await db.selectFrom('sessions').select('expires_at').where('id', '=', p.sessionId).executeTakeFirst();
    if (!s || Number(s.expires_at) <= now) return 'session ended';
  }
  if (p.keyId) {
    const k = await db.selectFrom('ssh_keys').select('id').where('id', '=', p.keyId).where('user_id', '=', p.userId).executeTakeFirst();
    if (!k) return 'key removed';
  }
  return undefined;
}
