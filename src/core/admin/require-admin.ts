import { CoreError } from '../errors.js';
import { isAdmin, type Principal } from '../principal.js';
import { assertPrincipal } from '../files/guard.js';
import { recordEvent } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import type { Action } from '../actions.js';

/** MUST open every administrative operation: only administrators (and the CLI's system principal) pass. */
export async function requireAdmin(deps: CoreDeps, p: Principal, action: Action): Promise<void> {
  assertPrincipal(p);
  if (isAdmin(p)) return;
  await recordEvent(deps.db, deps.clock, { action, outcome: 'denied', actor: p, detail: { reason: 'not an administrator' } });
  throw new CoreError('PERMISSION_DENIED', 'administrator rights required');
}

/** Turns unique-constraint violations from either dialect into ALREADY_EXISTS. */
export function mapUnique(e: unknown, what: string): never {
  const msg = String((e as { message?: unknown })?.message ?? '');
  const code = String((e as { code?: unknown })?.code ?? '');
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/.test(msg)) {
    throw new CoreError('ALREADY_EXISTS', `${what} already exists`);
  }
  throw e;
}
