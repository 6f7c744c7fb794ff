/**
 * Download budgets (circuit breakers). Every read by a partner or staff user counts against
 * three scopes — the user, the user's organisation, and everyone — in a sliding window. A read
 * that would cross a budget is refused, trips that scope (blocking every further read in it
 * until an administrator lifts the trip), is recorded and raises an alert. A script with a
 * stolen partner credential that tries to download everything gets at most the budget.
 *
 * Contract:
 * - The budget check, the usage update and the 'file.read' ledger event happen in ONE write
 *   transaction, so concurrent downloads cannot overrun a budget together, and no read is
 *   recorded without being counted (or counted without being recorded).
 * - Administrators and the system principal are not budgeted (they are audited).
 * - A file counts once per read that starts at byte 0; bytes count for every read.
 * - Usage is a sliding-window estimate over two fixed buckets: current + previous × (the part of
 *   the previous bucket still inside the window).
 */
import type { Scope as GateScope } from '../gate.js';
import { v7 as uuidv7 } from 'uuid';
import { CoreError } from '../errors.js';
import type { Principal } from '../principal.js';
import { exemptFromBudgets } from '../access/exemptions.js';
import { writeTx, type WriteScope } from '../tx.js';
import type { AuditInput } from '../audit/ledger.js';
import type { CoreDeps } from '../deps.js';
import type { BudgetLimits, BudgetSettings } from '../settings.js';
import { alertsOf } from './alerts.js';

export type { BudgetLimits, BudgetSettings } from '../settings.js';
export const DEFAULT_BUDGETS: BudgetSettings = {
  windowMs: 3600_000,
  user: { files: 500, bytes: 5 * 1024 ** 3 },
  org: { files: 1000, bytes: 10 * 1024 ** 3 },
  global: { files: 20_000, bytes: 200 * 1024 ** 3 },
};

export interface Trip {
  readonly id: string;
  readonly scope: string;
  readonly trippedAt: number;
  readonly detail: Record<string, unknown>;
}

interface Scope {
  readonly key: string;
  readonly label: string;
  readonly limits: BudgetLimits;
}

/** Sliding-window usage of each scope, read in one statement. */
async function usageOf(s: WriteScope, scopes: readonly string[], bucket: number, windowMs: number): Promise<Map<string, { files: number; bytes: number }>> {
  const rows = await s.trx
    .selectFrom('budget_usage')
    .select(['scope', 'bucket', 'files', 'bytes'])
    .where('scope', 'in', scopes)
    .where('bucket', 'in', [bucket, bucket - windowMs])
    .execute();
  const weight = 1 - (s.now - bucket) / windowMs; // part of the previous bucket still inside the window
  const out = new Map(scopes.map((k) => [k, { files: 0, bytes: 0 }]));
  for (const r of rows) {
    const u = out.get(r.scope);
    if (!u) continue;
    const w = Number(r.bucket) === bucket ? 1 : weight;
    u.files += Number(r.files) * w;
    u.bytes += Number(r.bytes) * w;
  }
  return out;
}

/** Counts a read in every scope: one upsert for all of them. */
async function addAll(s: WriteScope, scopes: readonly string[], bucket: number, files: number, bytes: number): Promise<void> {
  await s.trx
    .insertInto('budget_usage')
    .values(scopes.map((scope) => ({ scope, bucket, files, bytes })))
    .onConflict((oc) =>
      oc.columns(['scope', 'bucket']).doUpdateSet((eb) => ({
        files: eb('budget_usage.files', '+', eb.ref('excluded.files')),
        bytes: eb('budget_usage.bytes', '+', eb.ref('excluded.bytes')),
      })),
    )
    .execute();
}

export function createBudgets(deps: CoreDeps) {
  const settings = deps.settings.budgets ?? DEFAULT_BUDGETS;

  async function scopesOf(p: Principal): Promise<Scope[]> {
    const out: Scope[] = [];
    if (p.userId) out.push({ key: `user:${p.userId}`, label: `user ${p.login}`, limits: settings.user });
    if (p.orgId) {
      const o = await deps.db.selectFrom('orgs').select(['name', 'budget_files', 'budget_bytes']).where('id', '=', p.orgId).executeTakeFirst();
      out.push({
        key: `org:${p.orgId}`,
        label: `organisation ${o?.name ?? p.orgId}`,
        limits: { files: o?.budget_files ?? settings.org.files, bytes: o?.budget_bytes ?? settings.org.bytes },
      });
    }
    out.push({ key: 'global', label: 'all partners', limits: settings.global });
    return out.map((x) => ({ ...x, limits: { files: Number(x.limits.files), bytes: Number(x.limits.bytes) } }));
  }

  return {
    /**
     * Checks and counts a read, and appends its ledger event, in one transaction. Throws
     * RATE_LIMITED (and trips the scope) when a budget would be crossed. Returns the event seq.
     */
    async recordRead(p: Principal, bytes: number, countsFile: boolean, event: AuditInput): Promise<number> {
      if (exemptFromBudgets(p)) return writeTx(deps.db, deps.clock, (s) => s.audit(event));
      const scopes = await scopesOf(p);
      const result = await writeTx(deps.db, deps.clock, async (s) => {
        const open = await s.trx
          .selectFrom('budget_trips')
          .select(['scope'])
          .where(
            'scope',
            'in',
            scopes.map((x) => x.key),
          )
          .where('lifted_at', 'is', null)
          .execute();
        if (open.length > 0) {
          const sc = scopes.find((x) => x.key === open[0]!.scope)!;
          await s.audit({ ...event, outcome: 'denied', bytes: 0, detail: { ...(event.detail ?? {}), reason: 'budget tripped', scope: sc.key } });
          return { blocked: sc, newTrip: undefined };
        }
        const bucket = Math.floor(s.now / settings.windowMs) * settings.windowMs;
        const used = await usageOf(
          s,
          scopes.map((x) => x.key),
          bucket,
          settings.windowMs,
        );
        for (const sc of scopes) {
          const u = used.get(sc.key)!;
          const files = u.files + (countsFile ? 1 : 0);
          const total = u.bytes + bytes;
          if (files > sc.limits.files || total > sc.limits.bytes) {
            const detail = {
              scope: sc.key,
              label: sc.label,
              files: Math.ceil(files),
              bytes: Math.ceil(total),
              limits: sc.limits,
              windowMs: settings.windowMs,
              by: p.login,
              remoteAddr: p.remoteAddr,
              protocol: p.protocol,
            };
            const trip = { id: uuidv7(), scope: sc.key, tripped_at: s.now, detail: JSON.stringify(detail), lifted_at: null, lifted_by: null };
            await s.trx.insertInto('budget_trips').values(trip).execute();
            await s.audit({ action: 'budget.trip', outcome: 'success', actor: p, detail });
            await s.audit({ ...event, outcome: 'denied', bytes: 0, detail: { ...(event.detail ?? {}), reason: 'budget exceeded', scope: sc.key } });
            return { blocked: sc, newTrip: detail };
          }
        }
        await addAll(
          s,
          scopes.map((x) => x.key),
          bucket,
          countsFile ? 1 : 0,
          bytes,
        );
        return { seq: await s.audit(event) };
      });
      if ('seq' in result && result.seq !== undefined) return result.seq;
      const blocked = (result as { blocked: Scope; newTrip?: Record<string, unknown> }).blocked;
      const newTrip = (result as { newTrip?: Record<string, unknown> }).newTrip;
      if (newTrip) {
        await alertsOf(deps).raise({
          code: 'BUDGET_TRIPPED',
          severity: 'critical',
          message: `download budget of ${blocked.label} exceeded by ${p.login} from ${p.remoteAddr ?? 'unknown address'}; further downloads in that scope are blocked until an administrator lifts it`,
          detail: newTrip,
          actor: p,
        });
      }
      throw new CoreError(
        'RATE_LIMITED',
        `download budget of ${blocked.key === 'global' ? 'the service' : blocked.key.startsWith('org:') ? 'your organisation' : 'your account'} is exhausted; ask the administrators`,
      );
    },

    /** Trips a scope outright (a canary was read): blocks its downloads until lifted. */
    async trip(p: Principal, scope: 'user' | 'org' | 'global', detail: Record<string, unknown>): Promise<void> {
      const key = scope === 'global' ? 'global' : scope === 'org' ? (p.orgId ? `org:${p.orgId}` : undefined) : p.userId ? `user:${p.userId}` : undefined;
      if (!key) return;
      await writeTx(deps.db, deps.clock, async (s) => {
        const d = {
          scope: key,
          label: key === 'global' ? 'all partners' : scope === 'org' ? 'organisation of ' + p.login : `user ${p.login}`,
          by: p.login,
          remoteAddr: p.remoteAddr,
          protocol: p.protocol,
          ...detail,
        };
        await s.trx
          .insertInto('budget_trips')
          .values({ id: uuidv7(), scope: key, tripped_at: s.now, detail: JSON.stringify(d), lifted_at: null, lifted_by: null })
          .execute();
        await s.audit({ action: 'budget.trip', outcome: 'success', actor: p, detail: d });
      });
    },

    async trips(_sc: GateScope<'budget.list'>, opts: { all?: boolean } = {}): Promise<(Trip & { liftedAt: number | null; liftedBy: string | null })[]> {
      let q = deps.db.selectFrom('budget_trips').selectAll().orderBy('tripped_at', 'desc').limit(1000);
      if (!opts.all) q = q.where('lifted_at', 'is', null);
      const rows = await q.execute();
      return rows.map((r) => ({
        id: r.id,
        scope: r.scope,
        trippedAt: Number(r.tripped_at),
        detail: JSON.parse(r.detail) as Record<string, unknown>,
        liftedAt: r.lifted_at === null ? null : Number(r.lifted_at),
        liftedBy: r.lifted_by,
      }));
    },

    /** Lifts every open trip of a scope ('user:<id>', 'org:<id>', 'global', or a trip id). */
    async lift(sc: GateScope<'budget.lift'>, scopeOrId: string): Promise<number> {
      const p = sc.principal;
      return writeTx(deps.db, deps.clock, async (s) => {
        const r = await s.trx
          .updateTable('budget_trips')
          .set({ lifted_at: s.now, lifted_by: p.login })
          .where((eb) => eb.or([eb('scope', '=', scopeOrId), eb('id', '=', scopeOrId)]))
          .where('lifted_at', 'is', null)
          .executeTakeFirst();
        const n = Number(r.numUpdatedRows);
        if (n === 0) throw new CoreError('NOT_FOUND', 'no open budget trip for that scope');
        await s.audit({ action: 'budget.lift', outcome: 'success', actor: p, detail: { scope: scopeOrId, trips: n } });
        return n;
      });
    },
    settings,
  };
}

export type Budgets = ReturnType<typeof createBudgets>;
const perCore = new WeakMap<CoreDeps, Budgets>();
export function budgetsOf(deps: CoreDeps): Budgets {
  let b = perCore.get(deps);
  if (!b) perCore.set(deps, (b = createBudgets(deps)));
  return b;
}
