/**
 * The one place a failed sign-in step counts toward the lockout (a wrong password, a wrong or
 * replayed second-factor code), so every factor on every protocol shares the same counter.
 */
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import type { RequestContext } from '../principal.js';
import { writeTx } from '../tx.js';
import type { Action } from '../actions.js';

/**
 * Adds one to the user's failed sign-ins and records the failure (`action`, with `detail`).
 * MUST hold: the counter and the event commit together; reaching the threshold locks the user
 * for the configured lockout duration and the event says so (`lockedOut: true`).
 */
export async function countFailedSignIn(deps: CoreDeps, user: UserRow, ctx: RequestContext, action: Action, detail: Record<string, unknown>): Promise<void> {
  const { settings } = deps;
  const lock = user.failed_logins + 1 >= settings.lockoutThreshold;
  await writeTx(deps.db, deps.clock, async (s) => {
    await s.trx
      .updateTable('users')
      .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1), locked_until: lock ? s.now + settings.lockoutDurationMs : user.locked_until }))
      .where('id', '=', user.id)
      .execute();
    await s.audit({
      action,
      outcome: 'failure',
      ctx,
      claimedLogin: user.login,
      claimedUserId: user.id,
      orgId: user.org_id,
      detail: { ...detail, ...(lock ? { lockedOut: true } : {}) },
    });
  });
}
