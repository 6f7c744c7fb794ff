/**
 * Lockdown and per-protocol kill switches. The state lives in the database (settings row
 * 'lockdown'), so a change made on one node, or by the CLI, reaches every node; each node reads
 * it at most CACHE_MS old, so a change takes effect on running sessions within about a second.
 *
 * Contract:
 * - Administrators and the local system principal are never locked out.
 * - 'closed': no partner or staff operation and no sign-in; 'read-only': list and read only;
 *   'ingest-only': uploads (and listing, so clients keep working) but nothing is read.
 * - A protocol switched off refuses every non-administrator operation that arrives through it.
 * - Every change is in the ledger.
 */
import type { Scope } from '../gate.js';
import { z } from 'zod';
import { CoreError } from '../errors.js';
import type { Principal, Protocol } from '../principal.js';
import { exemptFromLockdown } from '../access/exemptions.js';
import { writeTx } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import type { Db } from '../../ports/db-schema.js';
import { parseWith } from '../validate.js';
import { alertsOf } from './alerts.js';

export const LOCKDOWN_MODES = ['off', 'closed', 'read-only', 'ingest-only'] as const;
export type LockdownMode = (typeof LOCKDOWN_MODES)[number];
export const SWITCHABLE = ['http', 'web', 'sftp'] as const;
export type SwitchableProtocol = (typeof SWITCHABLE)[number];
import type { Action, OpKind } from '../actions.js';

export type { OpKind } from '../actions.js';

export interface LockdownState {
  readonly mode: LockdownMode;
  readonly reason: string | null;
  readonly since: number | null;
  readonly by: string | null;
  /** Protocols switched off. */
  readonly disabled: readonly SwitchableProtocol[];
}

const OFF: LockdownState = { mode: 'off', reason: null, since: null, by: null, disabled: [] };
const stateSchema = z.object({
  mode: z.enum(LOCKDOWN_MODES),
  reason: z.string().nullable(),
  since: z.number().nullable(),
  by: z.string().nullable(),
  disabled: z.array(z.enum(SWITCHABLE)),
});
const KEY = 'lockdown';
export const CACHE_MS = 1000;
/**
 * How often a running transfer (an open download or upload) re-checks the lockdown. A change
 * stops it within CACHE_MS + RUNNING_CHECK_MS (plus one chunk): 1.25 s, inside the 2 s promised.
 * The check reads the cached state (at most one database read per CACHE_MS per node).
 */
export const RUNNING_CHECK_MS = 250;

const ALLOWED: Readonly<Record<LockdownMode, readonly OpKind[]>> = {
  off: ['list', 'read', 'write', 'modify'],
  closed: [],
  'read-only': ['list', 'read'],
  'ingest-only': ['list', 'write'],
};

async function readState(db: Db): Promise<LockdownState> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirst();
  if (!row) return OFF;
  const r = stateSchema.safeParse(JSON.parse(row.value));
  // An unreadable state fails closed: better locked than open after tampering.
  return r.success ? r.data : { ...OFF, mode: 'closed', reason: 'lockdown state unreadable' };
}

export function createLockdown(deps: CoreDeps) {
  let cached: { state: LockdownState; at: number } | undefined;
  async function current(): Promise<LockdownState> {
    const now = Date.now();
    if (!cached || now - cached.at >= CACHE_MS) cached = { state: await readState(deps.db), at: now };
    return cached.state;
  }

  /** Throws LOCKED when the lockdown or a kill switch forbids this operation for this principal. */
  async function check(p: Principal, kind: OpKind | 'login'): Promise<void> {
    if (exemptFromLockdown(p)) return;
    const s = await current();
    if ((SWITCHABLE as readonly Protocol[]).includes(p.protocol) && s.disabled.includes(p.protocol as SwitchableProtocol)) {
      throw new CoreError('LOCKED', `${p.protocol === 'web' ? 'the web app' : p.protocol.toUpperCase()} access is switched off by the administrators`);
    }
    if (s.mode === 'off') return;
    if (kind === 'login' ? s.mode === 'closed' : !ALLOWED[s.mode].includes(kind)) {
      throw new CoreError('LOCKED', s.mode === 'closed' ? 'the service is locked down' : `the service is in ${s.mode} mode`);
    }
  }

  async function change(sc: Scope, action: Action, update: (s: LockdownState) => LockdownState, detail: Record<string, unknown>): Promise<LockdownState> {
    const p = sc.principal;
    const next = await writeTx(deps.db, deps.clock, async (s) => {
      const prev = await readState(s.trx);
      const n = update(prev);
      const value = JSON.stringify(n);
      const exists = await s.trx.selectFrom('settings').select('key').where('key', '=', KEY).executeTakeFirst();
      if (exists) await s.trx.updateTable('settings').set({ value }).where('key', '=', KEY).execute();
      else await s.trx.insertInto('settings').values({ key: KEY, value }).execute();
      await s.audit({ action, outcome: 'success', actor: p, detail: { ...detail, previous: prev.mode, disabled: n.disabled } });
      return n;
    });
    cached = { state: next, at: Date.now() };
    await alertsOf(deps).raise({
      code: 'LOCKDOWN_CHANGED',
      severity: next.mode === 'off' && next.disabled.length === 0 ? 'info' : 'critical',
      message: `lockdown ${next.mode}${next.disabled.length ? `; switched off: ${next.disabled.join(', ')}` : ''} (by ${p.login})`,
      detail: { mode: next.mode, disabled: next.disabled, reason: next.reason },
      actor: p,
    });
    return next;
  }

  return {
    current,
    check,
    async status(_sc: Scope<'lockdown.status'>): Promise<LockdownState> {
      return readState(deps.db);
    },
    async set(sc: Scope<'lockdown.set'>, input: { mode: string; reason?: string | undefined }): Promise<LockdownState> {
      const p = sc.principal;
      const v = parseWith(z.object({ mode: z.enum(LOCKDOWN_MODES), reason: z.string().max(500).optional() }).strict(), input);
      return change(
        sc,
        v.mode === 'off' ? 'lockdown.off' : 'lockdown.on',
        (s) => ({ ...s, mode: v.mode, reason: v.reason ?? null, since: v.mode === 'off' ? null : deps.clock.now(), by: p.login }),
        { mode: v.mode, reason: v.reason ?? null },
      );
    },
    async setProtocol(sc: Scope<'protocol.set'>, protocol: string, enabled: boolean): Promise<LockdownState> {
      if (!(SWITCHABLE as readonly string[]).includes(protocol))
        throw new CoreError('INVALID_INPUT', `unknown protocol "${String(protocol).slice(0, 20)}"; use ${SWITCHABLE.join(', ')}`);
      const proto = protocol as SwitchableProtocol;
      return change(
        sc,
        enabled ? 'protocol.enable' : 'protocol.disable',
        (s) => ({ ...s, disabled: enabled ? s.disabled.filter((x) => x !== proto) : [...new Set([...s.disabled, proto])] }),
        { protocol: proto },
      );
    },
  };
}

export type Lockdown = ReturnType<typeof createLockdown>;

const perCore = new WeakMap<CoreDeps, Lockdown>();
/** The lockdown of one core (one cache per core instance). */
export function lockdownOf(deps: CoreDeps): Lockdown {
  let l = perCore.get(deps);
  if (!l) perCore.set(deps, (l = createLockdown(deps)));
  return l;
}
