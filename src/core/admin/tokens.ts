import { v7 as uuidv7 } from 'uuid';
import { CoreError } from '../errors.js';
import { writeTx } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import { newSecret, sha256hex, TOKEN_PREFIX } from '../auth/authenticate.js';
import type { Scope } from '../gate.js';

export interface TokenInfo {
  readonly id: string;
  readonly login: string;
  readonly name: string | null;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export const MAX_TOKEN_LIFETIME_MS = 2 * 365 * 86_400_000;

export function createTokenAdmin(deps: CoreDeps, findUser: (ref: string) => Promise<{ id: string; login: string; org_id: string | null }>) {
  const { db, clock } = deps;
  /**
   * The user a token operation is for: oneself (userRef undefined) or the one named — the gate
   * let the principal through for it (self-or-admin, decided in access/).
   */
  async function target(sc: Scope, userRef: string | undefined) {
    const p = sc.principal;
    if (userRef === undefined) {
      if (!p.userId) throw new CoreError('INVALID_INPUT', 'name the user the token is for');
      return findUser(p.userId);
    }
    return findUser(userRef);
  }
  return {
    /** Creates a token; the secret is returned once and only its hash is stored. */
    async create(
      sc: Scope<'token.create'>,
      userRef: string | undefined,
      opts: { name?: string | undefined; expiresInMs?: number | undefined } = {},
    ): Promise<{ token: string; info: TokenInfo }> {
      const p = sc.principal;
      const u = await target(sc, userRef);
      const ttl = opts.expiresInMs ?? 90 * 86_400_000;
      if (!Number.isSafeInteger(ttl) || ttl < 1000 || ttl > MAX_TOKEN_LIFETIME_MS)
        throw new CoreError('INVALID_INPUT', 'token lifetime must be between 1 second and 2 years');
      // A token cannot mint one that outlives it (issue 14 §6): a token-authenticated caller's new
      // token ends at the latest when the caller's own token does.
      if (p.tokenId) {
        const own = await db.selectFrom('tokens').select('expires_at').where('id', '=', p.tokenId).executeTakeFirst();
        const end = own?.expires_at === null || own === undefined ? null : Number(own.expires_at);
        if (end !== null && clock.now() + ttl > end)
          throw new CoreError('INVALID_INPUT', 'a token cannot create a token that outlives it', { details: { latestExpiry: end } });
      }
      if (opts.name !== undefined && (opts.name.length > 100 || /[\u0000-\u001f\u007f]/.test(opts.name)))
        throw new CoreError('INVALID_INPUT', 'token name must be at most 100 printable characters');
      const token = TOKEN_PREFIX + newSecret();
      const now = clock.now();
      const row = {
        id: uuidv7(),
        user_id: u.id,
        name: opts.name ?? null,
        secret_hash: sha256hex(token),
        created_at: now,
        expires_at: now + ttl,
        revoked_at: null,
        last_used_at: null,
      };
      await writeTx(db, clock, async (s) => {
        await s.trx.insertInto('tokens').values(row).execute();
        await s.audit({
          action: 'token.create',
          outcome: 'success',
          actor: p,
          orgId: u.org_id,
          detail: { login: u.login, tokenId: row.id, expiresAt: row.expires_at },
        });
      });
      return { token, info: { id: row.id, login: u.login, name: row.name, createdAt: now, expiresAt: row.expires_at, revokedAt: null, lastUsedAt: null } };
    },
    async list(sc: Scope<'token.list'>, userRef?: string): Promise<TokenInfo[]> {
      const u = await target(sc, userRef);
      const rows = await db.selectFrom('tokens').selectAll().where('user_id', '=', u.id).orderBy('created_at').execute();
      return rows.map((r) => ({
        id: r.id,
        login: u.login,
        name: r.name,
        createdAt: Number(r.created_at),
        expiresAt: r.expires_at === null ? null : Number(r.expires_at),
        revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
        lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
      }));
    },
    async revoke(sc: Scope<'token.revoke'>, tokenId: string): Promise<void> {
      const p = sc.principal;
      const t = await db.selectFrom('tokens').select(['id', 'user_id']).where('id', '=', tokenId).executeTakeFirst();
      if (!t) throw new CoreError('NOT_FOUND', 'token not found');
      await sc.owner(t.user_id, 'token not found');
      const u = await findUser(t.user_id);
      await writeTx(db, clock, async (s) => {
        await s.trx.updateTable('tokens').set({ revoked_at: s.now }).where('id', '=', t.id).execute();
        await s.audit({ action: 'token.revoke', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, tokenId: t.id } });
      });
    },
  };
}
