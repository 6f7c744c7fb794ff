/**
 * Passkeys required: an administrator can require that the users of some roles or some
 * organisations sign in with a passkey (passwordless, or as the second factor after the
 * password). Such a user's sign-in without one — password alone, password and TOTP code,
 * password over SFTP, the organisation's OpenID provider — is refused with PASSKEY_REQUIRED and
 * recorded; with a passkey registered, the web password step answers MFA_REQUIRED asking for the
 * passkey (details.passkey, details.passkeyRequired).
 *
 * Contract:
 * - The policy is a row in `settings` (every node reads it, cached at most CACHE_MS); changing it
 *   is an administrator's act, recorded with the previous and the new policy.
 * - SSH public keys and API tokens are possession credentials of machines and scripts, not
 *   sign-ins a passkey could replace: the policy does not touch them. Sessions already signed in
 *   go on until they end.
 * - The local system principal (CLI) can always change the policy, so requiring passkeys of the
 *   administrators cannot lock the instance.
 */
import { z } from 'zod';
import { CoreError } from '../errors.js';
import type { CoreDeps } from '../deps.js';
import type { Db, UserRow } from '../../ports/db-schema.js';
import type { Role } from '../principal.js';
import { ROLES } from '../principal.js';
import type { Scope } from '../gate.js';
import { parseWith } from '../validate.js';
import { writeTx } from '../tx.js';

const KEY = 'passkey_policy';
const CACHE_MS = 1000;

export interface PasskeyPolicy {
  readonly roles: readonly Role[];
  /** Organisations by name (as shown) — stored by id. */
  readonly orgs: readonly string[];
}
interface Stored {
  roles: Role[];
  orgIds: string[];
}

const policyInput = z
  .object({
    roles: z.array(z.enum(ROLES as [Role, ...Role[]])).max(ROLES.length),
    orgs: z.array(z.string().min(1).max(400)).max(10_000),
  })
  .strict();

async function readStored(db: Db): Promise<Stored> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirst();
  if (!row) return { roles: [], orgIds: [] };
  const v = JSON.parse(row.value) as Partial<Stored>;
  return { roles: v.roles ?? [], orgIds: v.orgIds ?? [] };
}

export function createPasskeyPolicy(deps: CoreDeps) {
  const { db } = deps;
  let cached: { at: number; value: Stored } | undefined;
  const current = async (): Promise<Stored> => {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
    const value = await readStored(db);
    cached = { at: Date.now(), value };
    return value;
  };
  const named = async (s: Stored): Promise<PasskeyPolicy> => {
    const orgs = s.orgIds.length ? await db.selectFrom('orgs').select(['id', 'name']).where('id', 'in', s.orgIds).execute() : [];
    return { roles: [...s.roles], orgs: orgs.map((o) => o.name).sort((a, b) => a.localeCompare(b)) };
  };

  return {
    /** Whether this user must sign in with a passkey. */
    async requires(u: Pick<UserRow, 'role' | 'org_id'>): Promise<boolean> {
      const s = await current();
      return s.roles.includes(u.role as Role) || (u.org_id !== null && s.orgIds.includes(u.org_id));
    },
    async get(_s: Scope<'policy.passkeys.get'>): Promise<PasskeyPolicy> {
      return named(await readStored(db));
    },
    /** Replaces the policy: the roles and organisations (names or ids) whose users need a passkey. */
    async set(sc: Scope<'policy.passkeys.set'>, input: unknown): Promise<PasskeyPolicy> {
      const v = parseWith(policyInput, input);
      const orgIds: string[] = [];
      for (const o of v.orgs) {
        const row = await db
          .selectFrom('orgs')
          .select('id')
          .where((eb) => eb.or([eb('id', '=', o), eb('name_key', '=', o.normalize('NFC').toLowerCase())]))
          .executeTakeFirst();
        if (!row) throw new CoreError('NOT_FOUND', `organisation ${o.slice(0, 64)} not found`);
        if (!orgIds.includes(row.id)) orgIds.push(row.id);
      }
      const next: Stored = { roles: ROLES.filter((r) => v.roles.includes(r)), orgIds };
      await writeTx(db, deps.clock, async (s) => {
        const prev = await readStored(s.trx);
        const value = JSON.stringify(next);
        const exists = await s.trx.selectFrom('settings').select('key').where('key', '=', KEY).executeTakeFirst();
        if (exists) await s.trx.updateTable('settings').set({ value }).where('key', '=', KEY).execute();
        else await s.trx.insertInto('settings').values({ key: KEY, value }).execute();
        await s.audit({ action: 'policy.passkeys.set', outcome: 'success', actor: sc.principal, detail: { previous: prev, policy: next } });
      });
      cached = { at: Date.now(), value: next };
      return named(next);
    },
  };
}

export type PasskeyPolicyApi = ReturnType<typeof createPasskeyPolicy>;

/** The refusal reason recorded (and mapped by refusedError) for a sign-in without a passkey. */
export const PASSKEY_REFUSAL = 'passkey required';

/** The refusal for a sign-in without a passkey by a user who needs one. */
export const passkeyRequiredError = (registered?: boolean) =>
  new CoreError(
    'PASSKEY_REQUIRED',
    registered === false
      ? 'this account must sign in with a passkey, and has none registered: ask an administrator'
      : 'this account must sign in with a passkey',
    { details: { ...(registered !== undefined ? { passkey: registered } : {}), passkeyRequired: true } },
  );
