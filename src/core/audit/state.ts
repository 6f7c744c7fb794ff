/**
 * How trustworthy the ledger is right now, cheaply enough to show on a console page: the head,
 * the last signed checkpoint (its signature checked, its age), the events since it (their chain
 * checked when there are not too many), the last full verification (`sluice audit verify` or the
 * API, recorded as audit.verify), and each external sink's health (it holds the last checkpoint;
 * no write to it failed since).
 *
 * A full verification reads every event; this reads the tail only. It never signs anything.
 */
import { checkpointMessage } from '../../ports/ledger-anchor.js';
import type { CoreDeps } from '../deps.js';
import type { Scope } from '../gate.js';
import { isCoreError } from '../errors.js';
import { lastCheckpoint, verifyChain } from './checkpoints.js';

/** The tail is chain-checked on every look only up to this many events. */
export const TAIL_CHECK_MAX = 50_000;

export interface LedgerState {
  readonly checkedAt: number;
  readonly head: { readonly seq: number; readonly time: number | null };
  readonly checkpoint: {
    readonly seq: number;
    readonly time: number;
    readonly ageMs: number;
    readonly keyId: string;
    /** null: no signing key here to check it with. */
    readonly signatureValid: boolean | null;
  } | null;
  readonly tail: {
    /** Events after the last checkpoint. */
    readonly events: number;
    /** 'intact': chain checked to the head; 'broken': at `brokenAt`; 'unchecked': too many to check on each look. */
    readonly chain: 'intact' | 'broken' | 'unchecked';
    readonly brokenAt?: number;
  };
  readonly lastVerification: { readonly time: number; readonly ok: boolean; readonly by: string | null; readonly problem: string | null } | null;
  readonly signing: boolean;
  readonly sinks: readonly {
    readonly name: string;
    readonly healthy: boolean;
    /** Whether the sink holds the last checkpoint (null: it cannot be read back). */
    readonly holdsLastCheckpoint: boolean | null;
    readonly lastFailure: { readonly time: number; readonly error: string | null } | null;
  }[];
}

export async function ledgerState(deps: CoreDeps, _sc: Scope<'audit.state'>): Promise<LedgerState> {
  const { db, anchors } = deps;
  const now = deps.clock.now();
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  const headSeq = Number(head.seq);
  const headRow = headSeq ? await db.selectFrom('audit_events').select('ts').where('seq', '=', headSeq).executeTakeFirst() : undefined;
  const cpRow = await db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const checkpoint = cpRow
    ? {
        seq: Number(cpRow.seq),
        time: Number(cpRow.ts),
        ageMs: Math.max(0, now - Number(cpRow.ts)),
        keyId: cpRow.key_id,
        signatureValid: anchors
          ? anchors.signer.verify(checkpointMessage(Number(cpRow.seq), cpRow.hash, Number(cpRow.ts)), cpRow.signature, cpRow.key_id)
          : null,
      }
    : null;

  const since = headSeq - (checkpoint?.seq ?? 0);
  let tail: LedgerState['tail'];
  if (since > TAIL_CHECK_MAX) tail = { events: since, chain: 'unchecked' };
  else {
    try {
      const end = await verifyChain(db, await lastCheckpoint(db), headSeq);
      tail = end.hash === head.hash || since === 0 ? { events: since, chain: 'intact' } : { events: since, chain: 'broken', brokenAt: headSeq };
    } catch (e) {
      if (!isCoreError(e) || e.code !== 'INTEGRITY') throw e;
      const at = /event (\d+)/.exec(e.message);
      tail = { events: since, chain: 'broken', brokenAt: at ? Number(at[1]) : headSeq };
    }
  }

  const verifyRow = await db
    .selectFrom('audit_events')
    .select(['ts', 'outcome', 'actor_login', 'detail'])
    .where('action', '=', 'audit.verify')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const lastVerification = verifyRow
    ? {
        time: Number(verifyRow.ts),
        ok: verifyRow.outcome === 'success',
        by: verifyRow.actor_login,
        problem: ((JSON.parse(verifyRow.detail) as { problem?: { reason?: string } }).problem?.reason ?? null) as string | null,
      }
    : null;

  // Failed sink writes are alerts (LEDGER_SINK_FAILED) in the ledger: the newest few hundred alerts.
  const alerts = await db.selectFrom('audit_events').select(['ts', 'detail']).where('action', '=', 'alert').orderBy('seq', 'desc').limit(500).execute();
  const failures = new Map<string, { time: number; error: string | null }>();
  for (const a of alerts) {
    const d = JSON.parse(a.detail) as { code?: string; sink?: string; error?: string };
    if (d.code === 'LEDGER_SINK_FAILED' && d.sink && !failures.has(d.sink)) failures.set(d.sink, { time: Number(a.ts), error: d.error ?? null });
  }
  const sinks: LedgerState['sinks'][number][] = [];
  for (const sink of anchors?.sinks ?? []) {
    let holds: boolean | null = null;
    if (sink.readAll && checkpoint) {
      try {
        holds = (await sink.readAll()).some((c) => c.seq === checkpoint.seq);
      } catch {
        holds = false;
      }
    }
    const failure = failures.get(sink.name) ?? null;
    const failedSince = failure !== null && (checkpoint === null || failure.time >= checkpoint.time);
    sinks.push({ name: sink.name, healthy: holds !== false && !failedSince, holdsLastCheckpoint: holds, lastFailure: failure });
  }
  return {
    checkedAt: now,
    head: { seq: headSeq, time: headRow ? Number(headRow.ts) : null },
    checkpoint,
    tail,
    lastVerification,
    signing: !!anchors,
    sinks,
  };
}
