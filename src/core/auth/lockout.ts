/**
 * The one place a failed sign-in step counts toward the lockout (a wrong password, a wrong or
 * replayed second-factor code), so every factor on every protocol shares the same counter; a
 * lockout raises an ACCOUNT_LOCKED alert (lockoutAlert).
 */
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import type { RequestContext } from '../principal.js';
import { writeTx } from '../tx.js';
import type { Action } from '../actions.js';
import { alertsOf } from '../ops/alerts.js';

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
  if (lock) await lockoutAlert(deps, user, ctx, detail);
}

/**
 * A user was just locked out: an alert through the one alert path (ops/alerts.ts: ledger, log,
 * channels). Raised once per lockout (at the failure that reaches the threshold); a failed alert
 * never undoes or fails the lockout.
 */
export async function lockoutAlert(deps: CoreDeps, user: Pick<UserRow, 'login' | 'id'>, ctx: RequestContext, detail: Record<string, unknown>): Promise<void> {
  const { settings } = deps;
  try {
    await alertsOf(deps).raise({
      code: 'ACCOUNT_LOCKED',
      severity: 'warning',
      message: `account ${user.login} locked for ${Math.round(settings.lockoutDurationMs / 60_000)} min after ${settings.lockoutThreshold} failed sign-ins (last from ${ctx.remoteAddr ?? 'unknown address'} over ${ctx.protocol})`,
      detail: {
        login: user.login,
        remoteAddr: ctx.remoteAddr ?? null,
        protocol: ctx.protocol,
        method: detail.method ?? null,
        failures: settings.lockoutThreshold,
        lockedUntil: new Date(deps.clock.now() + settings.lockoutDurationMs).toISOString(),
      },
    });
  } catch (e) {
    deps.log.error({ err: e, code: 'ALERT_FAILED', login: user.login }, 'could not raise the lockout alert');
  }
}
