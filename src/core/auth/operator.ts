/**
 * The CLI acting as a named administrator. This is attribution, not authentication: whoever runs
 * `sluice` on the server already holds the data directory and its keys. What it buys is a ledger
 * that names the administrator (and, in `client`, the operating-system user) for every change
 * made on the command line, instead of one anonymous local account.
 */
import { CoreError } from '../errors.js';
import type { Principal, RequestContext } from '../principal.js';
import type { CoreDeps } from '../deps.js';
import { principalFor, refusal } from './authenticate.js';

/** The principal of administrator `login` for a CLI command; refused unless it is an active administrator. */
export async function operatorPrincipal(deps: CoreDeps, login: string, ctx: RequestContext): Promise<Principal> {
  const key = login.trim().toLowerCase();
  const user = /^[a-z0-9._@-]{1,64}$/.test(key) ? await deps.db.selectFrom('users').selectAll().where('login', '=', key).executeTakeFirst() : undefined;
  if (!user || user.status === 'decoy') throw new CoreError('NOT_FOUND', `there is no administrator "${login}"`);
  if (user.role !== 'admin') throw new CoreError('PERMISSION_DENIED', `"${user.login}" is not an administrator`);
  const why = await refusal(deps, user, deps.clock.now());
  if (why) throw new CoreError('PERMISSION_DENIED', `the administrator "${user.login}" cannot act: ${why}`);
  return principalFor(user, ctx, 'cli');
}
