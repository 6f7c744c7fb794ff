/**
 * Web sessions as a list: one's own (with the means to end one, or all of them: "logout
 * everywhere") and, for administrators, everybody's.
 *
 * Contract:
 * - A session is named by its public id (`ses_…`); the cookie value and its hash never leave the
 *   core. Only live sessions are listed (neither past their absolute lifetime nor idle for
 *   SLUICE_SESSION_IDLE); ending a session deletes its row, so the cookie authenticates nobody
 *   from the next request on, on every node.
 * - A user ends only their own sessions: another user's id answers NOT_FOUND, as an unknown one
 *   does (ids are not probed). Administrators end anyone's.
 * - Every end is recorded in the ledger (session.end, session.end-all) with the session ids.
 */
import type { Scope } from '../gate.js';
import { CoreError } from '../errors.js';
import type { Principal } from '../principal.js';
import { writeTx } from '../tx.js';
import type { Action } from '../actions.js';
import type { CoreDeps } from '../deps.js';
import { DEFAULT_SESSION_IDLE_MS } from './authenticate.js';

export interface SessionInfo {
  readonly id: string;
  readonly protocol: 'web';
  readonly login: string;
  readonly org: string | null;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** The absolute end (SLUICE_SESSION_MAX). */
  readonly expiresAt: number;
  /** When it ends if unused from now on (SLUICE_SESSION_IDLE), never later than expiresAt. */
  readonly idleExpiresAt: number;
  readonly remoteAddr: string | null;
  readonly client: string | null;
  /** The session the asking principal came from. */
  readonly current: boolean;
}

const ID = /^ses_[0-9a-f]{32}$/;
export const MAX_SESSIONS_LISTED = 1000;

export function createSessions(deps: CoreDeps) {
  const { db, clock, settings } = deps;
  const idle = () => settings.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;

  function live(userId: string | undefined) {
    const now = clock.now();
    let q = db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .leftJoin('orgs', 'orgs.id', 'users.org_id')
      .select([
        'sessions.id',
        'sessions.created_at',
        'sessions.last_seen_at',
        'sessions.expires_at',
        'sessions.remote_addr',
        'sessions.client',
        'users.login',
        'orgs.name as org',
      ])
      .where('sessions.expires_at', '>', now)
      .where('sessions.last_seen_at', '>', now - idle())
      .where('sessions.id', 'is not', null);
    if (userId !== undefined) q = q.where('sessions.user_id', '=', userId);
    return q.orderBy('sessions.last_seen_at', 'desc').limit(MAX_SESSIONS_LISTED);
  }

  const info = (p: Principal, r: Awaited<ReturnType<ReturnType<typeof live>['execute']>>[number]): SessionInfo => ({
    id: r.id as string,
    protocol: 'web',
    login: r.login,
    org: r.org ?? null,
    createdAt: Number(r.created_at),
    lastSeenAt: Number(r.last_seen_at),
    expiresAt: Number(r.expires_at),
    idleExpiresAt: Math.min(Number(r.expires_at), Number(r.last_seen_at) + idle()),
    remoteAddr: r.remote_addr,
    client: r.client,
    current: p.sessionId !== undefined && p.sessionId !== null && p.sessionId === r.id,
  });

  function ownUser(p: Principal): string {
    if (!p.userId) throw new CoreError('INVALID_INPUT', 'sessions are for users');
    return p.userId;
  }

  async function end(p: Principal, id: unknown, userId: string | undefined, action: Action, via: 'self' | 'admin'): Promise<void> {
    if (typeof id !== 'string' || !ID.test(id)) throw new CoreError('INVALID_INPUT', 'a session id looks like ses_ and 32 hex digits');
    await writeTx(db, clock, async (s) => {
      const row = await s.trx
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .select(['sessions.id_hash', 'sessions.user_id', 'users.login', 'users.org_id'])
        .where('sessions.id', '=', id)
        .executeTakeFirst();
      if (!row || (userId !== undefined && row.user_id !== userId)) {
        await s.audit({ action, outcome: 'failure', actor: p, detail: { session: id, via, reason: 'no such session' } });
        return false;
      }
      await s.trx.deleteFrom('sessions').where('id_hash', '=', row.id_hash).execute();
      await s.audit({ action, outcome: 'success', actor: p, orgId: row.org_id, detail: { session: id, login: row.login, via, current: p.sessionId === id } });
      return true;
    }).then((ok) => {
      if (!ok) throw new CoreError('NOT_FOUND', 'no such session');
    });
  }

  return {
    self: {
      /** One's own live web sessions, the most recently used first; the current one is marked. */
      async list(sc: Scope<'session.list'>): Promise<SessionInfo[]> {
        const p = sc.principal;
        const userId = ownUser(p);
        return (await live(userId).execute()).map((r) => info(p, r));
      },
      /** Ends one of one's own sessions (also the current one). */
      end: (sc: Scope<'session.end'>, id: unknown) => end(sc.principal, id, ownUser(sc.principal), 'session.end', 'self'),
      /** Logout everywhere: ends all of one's own web sessions (the current one too); returns how many. */
      async endAll(sc: Scope<'session.end-all'>): Promise<{ ended: number }> {
        const p = sc.principal;
        const userId = ownUser(p);
        return writeTx(db, clock, async (s) => {
          const rows = await s.trx.selectFrom('sessions').select(['id', 'id_hash']).where('user_id', '=', userId).execute();
          if (rows.length > 0) await s.trx.deleteFrom('sessions').where('user_id', '=', userId).execute();
          await s.audit({
            action: 'session.end-all',
            outcome: 'success',
            actor: p,
            detail: { via: 'self', ended: rows.length, sessions: rows.map((r) => r.id).slice(0, 100) },
          });
          return { ended: rows.length };
        });
      },
    },
    admin: {
      /** Everybody's live web sessions (administrators); `login` narrows to one user. */
      async list(sc: Scope<'admin.session.list'>, opts: { login?: string | undefined } = {}): Promise<SessionInfo[]> {
        const p = sc.principal;
        let userId: string | undefined;
        if (opts.login !== undefined) {
          const u = await db.selectFrom('users').select('id').where('login', '=', opts.login.trim().toLowerCase()).executeTakeFirst();
          if (!u) throw new CoreError('NOT_FOUND', 'no such user');
          userId = u.id;
        }
        return (await live(userId).execute()).map((r) => info(p, r));
      },
      /** Ends anyone's web session (administrators). */
      async end(sc: Scope<'admin.session.end'>, id: unknown): Promise<void> {
        const p = sc.principal;
        await end(p, id, undefined, 'session.end', 'admin');
      },
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
