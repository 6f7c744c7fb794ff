import { v7 as uuidv7 } from 'uuid';
import type { Scope } from '../gate.js';
import { z } from 'zod';
import { CoreError } from '../errors.js';
import { ROLES, type Role } from '../principal.js';
import { validateLogin } from '../paths.js';
import { writeTx } from '../tx.js';
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { checkPasswordPolicy, type Hasher } from '../auth/passwords.js';
import { mapUnique } from './map-unique.js';
import { parseWith } from '../validate.js';
import { newSecret } from '../auth/authenticate.js';
import { mfaStateOf, type MfaState } from '../auth/mfa.js';

export interface User {
  readonly id: string;
  readonly login: string;
  readonly orgId: string | null;
  readonly org: string | null;
  readonly role: Role;
  readonly status: 'active' | 'disabled' | 'decoy';
  readonly displayName: string | null;
  readonly email: string | null;
  readonly lastLoginAt: number | null;
  readonly lockedUntil: number | null;
  readonly expiresAt: number | null;
  readonly createdAt: number;
  /** Two-factor sign-in (TOTP): off, pending (enrolment not yet confirmed) or active. */
  readonly mfa: MfaState;
}

const text = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$/, 'must not contain control characters');
export const userInput = z
  .object({
    login: z.string(),
    org: z.string().optional(),
    role: z.enum(ROLES as [Role, ...Role[]]).optional(),
    password: z.string().optional(),
    displayName: text.optional(),
    email: z.email().max(254).optional(),
    expiresAt: z.number().int().positive().nullable().optional(),
    /** A trap account: it has no usable credential and every sign-in attempt raises DECOY_LOGIN. */
    decoy: z.boolean().optional(),
  })
  .strict();
export const userPatch = z
  .object({
    role: z.enum(ROLES as [Role, ...Role[]]).optional(),
    status: z.enum(['active', 'disabled']).optional(),
    password: z.string().optional(),
    displayName: text.nullable().optional(),
    email: z.email().max(254).nullable().optional(),
    expiresAt: z.number().int().positive().nullable().optional(),
    unlock: z.literal(true).optional(),
  })
  .strict();

const toUser = (r: UserRow, orgName: string | null): User => ({
  id: r.id,
  login: r.login,
  orgId: r.org_id,
  org: orgName,
  role: r.role as Role,
  status: r.status as User['status'],
  displayName: r.display_name,
  email: r.email,
  lastLoginAt: r.last_login_at === null ? null : Number(r.last_login_at),
  lockedUntil: r.locked_until === null ? null : Number(r.locked_until),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  createdAt: Number(r.created_at),
  mfa: mfaStateOf(r),
});

export function createUserAdmin(deps: CoreDeps, hasher: Hasher, findOrg: (ref: string) => Promise<{ id: string; name: string }>) {
  const { db, clock } = deps;
  async function find(ref: string): Promise<UserRow> {
    const l = ref.trim().toLowerCase();
    const row = await db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('login', '=', l)]))
      .executeTakeFirst();
    if (!row) throw new CoreError('NOT_FOUND', 'user not found');
    return row;
  }
  async function orgName(id: string | null) {
    if (!id) return null;
    return (await db.selectFrom('orgs').select('name').where('id', '=', id).executeTakeFirst())?.name ?? null;
  }
  return {
    find,
    /** Creates a user; when no password is given and `generatePassword` is set, one is generated and returned once. */
    async create(
      sc: Scope<'user.create' | 'setup.init'>,
      input: unknown,
      opts: { generatePassword?: boolean } = {},
    ): Promise<{ user: User; password?: string }> {
      const p = sc.principal;
      const v = parseWith(userInput, input);
      const login = validateLogin(v.login);
      const role = v.role ?? 'partner';
      let org: { id: string; name: string } | null = null;
      if (v.org) org = await findOrg(v.org);
      else if (role !== 'admin') throw new CoreError('INVALID_INPUT', 'partner and staff users need an organisation (org)');
      if (v.decoy && (v.password !== undefined || role === 'admin'))
        throw new CoreError('INVALID_INPUT', 'a decoy account has no password and is not an administrator');
      let password = v.decoy ? undefined : v.password;
      let generated: string | undefined;
      if (password === undefined && opts.generatePassword && !v.decoy) password = generated = newSecret().slice(0, 24);
      if (password !== undefined) checkPasswordPolicy(password, login);
      const now = clock.now();
      const row: UserRow = {
        id: uuidv7(),
        login,
        org_id: org?.id ?? null,
        role,
        status: v.decoy ? 'decoy' : 'active',
        display_name: v.displayName ?? null,
        email: v.email ?? null,
        password_hash: password === undefined ? null : await hasher.hash(password),
        password_changed_at: password === undefined ? null : now,
        failed_logins: 0,
        locked_until: null,
        last_login_at: null,
        expires_at: v.expiresAt ?? null,
        created_at: now,
        mfa_state: null,
        totp_secret: null,
        totp_last_step: null,
        mfa_changed_at: null,
        mfa_recovery: null,
      };
      await writeTx(db, clock, async (s) => {
        await s.trx
          .insertInto('users')
          .values(row)
          .execute()
          .catch((e) => mapUnique(e, 'a user with this login'));
        await s.audit({ action: v.decoy ? 'decoy.create' : 'user.create', outcome: 'success', actor: p, orgId: row.org_id, detail: { login, role } });
      });
      return { user: toUser(row, org?.name ?? null), ...(generated ? { password: generated } : {}) };
    },
    async list(sc: Scope<'user.list'>, filter: { org?: string } = {}): Promise<User[]> {
      let q = db.selectFrom('users').leftJoin('orgs', 'orgs.id', 'users.org_id').selectAll('users').select('orgs.name as org_name').orderBy('users.login');
      if (filter.org) q = q.where('users.org_id', '=', (await findOrg(filter.org)).id);
      const rows = await q.execute();
      return rows.map((r) => toUser(r, r.org_name));
    },
    async get(sc: Scope<'user.get'>, ref: string): Promise<User> {
      const r = await find(ref);
      return toUser(r, await orgName(r.org_id));
    },
    async update(sc: Scope<'user.update'>, ref: string, patch: unknown): Promise<User> {
      const p = sc.principal;
      const v = parseWith(userPatch, patch);
      const u = await find(ref);
      if (u.status === 'decoy') throw new CoreError('INVALID_INPUT', 'a decoy account cannot be changed; it exists only to be tried');
      const set: Partial<UserRow> = {};
      if (v.role !== undefined) set.role = v.role;
      if (v.status !== undefined) set.status = v.status;
      if (v.displayName !== undefined) set.display_name = v.displayName;
      if (v.email !== undefined) set.email = v.email;
      if (v.expiresAt !== undefined) set.expires_at = v.expiresAt;
      if (v.unlock) Object.assign(set, { failed_logins: 0, locked_until: null });
      if (v.password !== undefined) {
        checkPasswordPolicy(v.password, u.login);
        set.password_hash = await hasher.hash(v.password);
        set.password_changed_at = clock.now();
      }
      await writeTx(db, clock, async (s) => {
        if (Object.keys(set).length) await s.trx.updateTable('users').set(set).where('id', '=', u.id).execute();
        // A disabled user or a new password ends every web session of that user.
        if (v.status === 'disabled' || v.password !== undefined) await s.trx.deleteFrom('sessions').where('user_id', '=', u.id).execute();
        await s.audit({ action: 'user.update', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, fields: Object.keys(v) } });
      });
      const r = { ...u, ...set };
      return toUser(r, await orgName(r.org_id));
    },
  };
}
