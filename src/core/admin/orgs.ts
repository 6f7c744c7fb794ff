import { v7 as uuidv7 } from 'uuid';
import type { Scope } from '../gate.js';
import { sql } from 'kysely';
import { z } from 'zod';
import { CoreError } from '../errors.js';
import { nameKey, validateOrgName } from '../paths.js';
import { writeTx } from '../tx.js';
import type { OrgRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { isValidBetriebsnummer, isValidIk } from './identifiers.js';
import { parseWith } from '../validate.js';
import { mapUnique } from './map-unique.js';

export interface Contact {
  readonly name?: string | undefined;
  readonly email: string;
  readonly role?: string | undefined;
}
export interface Org {
  readonly id: string;
  readonly name: string;
  readonly ik: string | null;
  readonly betriebsnummer: string | null;
  readonly contacts: readonly Contact[];
  readonly quotaBytes: number | null;
  /** Bytes of the organisation's files (what its quota counts). */
  readonly usedBytes: number;
  /** Download budget of the organisation per window (null: the configured default). */
  readonly budgetFiles: number | null;
  readonly budgetBytes: number | null;
  readonly status: 'active' | 'disabled';
  readonly createdAt: number;
}

const safeText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$/, 'must not contain control characters');
const contactSchema = z.object({ name: safeText(200).optional(), email: z.email().max(254), role: safeText(100).optional() }).strict();
export const orgInput = z
  .object({
    name: z.string(),
    ik: z
      .string()
      .regex(/^\d{9}$/, 'an IK number has 9 digits')
      .refine(isValidIk, 'the check digit of this IK number is wrong')
      .optional(),
    betriebsnummer: z
      .string()
      .regex(/^\d{8}$/, 'a Betriebsnummer has 8 digits')
      .refine(isValidBetriebsnummer, 'the check digit of this Betriebsnummer is wrong')
      .optional(),
    contacts: z.array(contactSchema).max(50).optional(),
    quotaBytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 53 - 1)
      .nullable()
      .optional(),
    budgetFiles: z
      .number()
      .int()
      .min(0)
      .max(2 ** 53 - 1)
      .nullable()
      .optional(),
    budgetBytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 53 - 1)
      .nullable()
      .optional(),
  })
  .strict();
export const orgPatch = orgInput
  .partial()
  .extend({ status: z.enum(['active', 'disabled']).optional() })
  .strict();

export const toOrg = (r: OrgRow): Org => ({
  id: r.id,
  name: r.name,
  ik: r.ik,
  betriebsnummer: r.betriebsnummer,
  contacts: JSON.parse(r.contacts) as Contact[],
  quotaBytes: r.quota_bytes === null ? null : Number(r.quota_bytes),
  usedBytes: Number(r.used_bytes),
  budgetFiles: r.budget_files === null ? null : Number(r.budget_files),
  budgetBytes: r.budget_bytes === null ? null : Number(r.budget_bytes),
  status: r.status as Org['status'],
  createdAt: Number(r.created_at),
});

/** Refuses an IK number or Betriebsnummer that another organisation already has, naming it. */
async function refuseTakenIdentifiers(trx: CoreDeps['db'], self: string | null, v: { ik?: string | undefined; betriebsnummer?: string | undefined }) {
  for (const [column, label] of [
    ['ik', 'IK number'],
    ['betriebsnummer', 'Betriebsnummer'],
  ] as const) {
    const value = v[column];
    if (value === undefined) continue;
    let q = trx.selectFrom('orgs').select('name').where(column, '=', value);
    if (self) q = q.where('id', '!=', self);
    const other = await q.executeTakeFirst();
    if (other) throw new CoreError('ALREADY_EXISTS', `the organisation "${other.name}" already has ${label} ${value}`);
  }
}

/** Matches an organisation by part of its name, or by its exact IK number or Betriebsnummer. */
export interface OrgSearch {
  readonly q?: string | undefined;
}

export function createOrgAdmin(deps: CoreDeps) {
  const { db, clock } = deps;
  async function find(ref: string): Promise<OrgRow> {
    const row = await db
      .selectFrom('orgs')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name_key', '=', nameKey(ref.normalize('NFC')))]))
      .executeTakeFirst();
    if (!row) throw new CoreError('NOT_FOUND', 'organisation not found');
    return row;
  }
  return {
    find,
    async create(sc: Scope<'org.create'>, input: unknown): Promise<Org> {
      const p = sc.principal;
      const v = parseWith(orgInput, input);
      const name = validateOrgName(v.name);
      const row: OrgRow = {
        id: uuidv7(),
        name,
        name_key: nameKey(name),
        ik: v.ik ?? null,
        betriebsnummer: v.betriebsnummer ?? null,
        contacts: JSON.stringify(v.contacts ?? []),
        quota_bytes: v.quotaBytes ?? null,
        used_bytes: 0,
        budget_files: v.budgetFiles ?? null,
        budget_bytes: v.budgetBytes ?? null,
        status: 'active',
        created_at: clock.now(),
      };
      await writeTx(db, clock, async (s) => {
        await refuseTakenIdentifiers(s.trx, null, v);
        await s.trx
          .insertInto('orgs')
          .values(row)
          .execute()
          .catch((e) => mapUnique(e, 'an organisation with this name'));
        await s.audit({ action: 'org.create', outcome: 'success', actor: p, orgId: row.id, detail: { name, ik: row.ik } });
      });
      return toOrg(row);
    },
    async list(sc: Scope<'org.list'>, search: OrgSearch = {}): Promise<Org[]> {
      let q = db.selectFrom('orgs').selectAll();
      const term = search.q?.trim().normalize('NFC');
      if (term) {
        const pattern = `%${nameKey(term).replace(/[\\%_]/g, (c) => '\\' + c)}%`;
        q = q.where((eb) => eb.or([eb('name_key', 'like', sql<string>`${pattern} escape '\\'`), eb('ik', '=', term), eb('betriebsnummer', '=', term)]));
      }
      const rows = await q.orderBy('name_key').execute();
      return rows.map(toOrg);
    },
    async get(sc: Scope<'org.get'>, ref: string): Promise<Org> {
      return toOrg(await find(ref));
    },
    async update(sc: Scope<'org.update'>, ref: string, patch: unknown): Promise<Org> {
      const p = sc.principal;
      const v = parseWith(orgPatch, patch);
      const org = await find(ref);
      const set: Partial<OrgRow> = {};
      if (v.name !== undefined) {
        set.name = validateOrgName(v.name);
        set.name_key = nameKey(set.name);
      }
      if (v.ik !== undefined) set.ik = v.ik;
      if (v.betriebsnummer !== undefined) set.betriebsnummer = v.betriebsnummer;
      if (v.contacts !== undefined) set.contacts = JSON.stringify(v.contacts);
      if (v.quotaBytes !== undefined) set.quota_bytes = v.quotaBytes;
      if (v.budgetFiles !== undefined) set.budget_files = v.budgetFiles;
      if (v.budgetBytes !== undefined) set.budget_bytes = v.budgetBytes;
      if (v.status !== undefined) set.status = v.status;
      if (Object.keys(set).length === 0) return toOrg(org);
      await writeTx(db, clock, async (s) => {
        await refuseTakenIdentifiers(s.trx, org.id, v);
        await s.trx
          .updateTable('orgs')
          .set(set)
          .where('id', '=', org.id)
          .execute()
          .catch((e) => mapUnique(e, 'an organisation with this name'));
        await s.audit({ action: 'org.update', outcome: 'success', actor: p, orgId: org.id, detail: { fields: Object.keys(v) } });
      });
      return toOrg({ ...org, ...set });
    },
  };
}
