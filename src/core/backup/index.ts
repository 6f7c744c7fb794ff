/**
 * Backup, restore and full verification: `core.backup.*`.
 * - create: a consistent logical backup of the running instance (create.ts).
 * - verify: every blob decrypted and hashed, orphans, the ledger (verify.ts).
 * - finishRestore: after restoreBackup (restore.ts) built a data directory, the restored instance
 *   checks its ledger (chain and signatures) and records the restore.
 * openBackup/restoreBackup run before any instance exists; the composition root calls them.
 */
import type { Scope } from '../gate.js';
import type { CoreDeps } from '../deps.js';
import { recordEvent } from '../tx.js';
import { alertsOf } from '../ops/alerts.js';
import { verifyLedger, type VerifyResult } from '../audit/verify-ledger.js';
import { createBackup, type BackupHooks, type BackupOptions } from './create.js';
import { verifyAll, type FullVerifyOptions } from './verify.js';
import type { RestoreSummary } from './restore.js';

export interface RestoreCheck {
  readonly ok: boolean;
  /** Chain and signatures of the restored ledger. */
  readonly ledger: VerifyResult;
  /** The restored head is the one the backup recorded. */
  readonly headMatches: boolean;
  readonly warnings: readonly string[];
}

export function createBackupApi(deps: CoreDeps, hooks: BackupHooks) {
  return {
    /** Writes a backup of this instance into a new or empty directory (administrators). */
    create: (sc: Scope<'backup.create'>, opts: BackupOptions) => createBackup(deps, sc, opts, hooks),
    /** Decrypts and hashes every blob, finds orphans, verifies the ledger (administrators). */
    verify: (sc: Scope<'verify.run'>, opts?: FullVerifyOptions) => verifyAll(deps, sc, opts),
    /**
     * The last step of a restore, run by the restored instance: verifies the ledger's chain and
     * signatures (the external sinks only warn: they may hold checkpoints newer than the backup,
     * which a restore rolls back by design), checks that the head is the backup's, records
     * backup.restore and signs the new head.
     */
    async finishRestore(sc: Scope<'backup.restore'>, summary: RestoreSummary): Promise<RestoreCheck> {
      const p = sc.principal;
      let ledger = await verifyLedger(deps.db, { anchors: deps.anchors });
      const warnings: string[] = [];
      if (!ledger.ok && deps.anchors?.sinks.length) {
        // Is it only the external anchor that disagrees? Then chain and signatures hold.
        const signed = await verifyLedger(deps.db, { anchors: { signer: deps.anchors.signer, sinks: [] } });
        if (signed.ok) {
          warnings.push(
            `external ledger anchor: ${ledger.problem?.reason} — it holds checkpoints newer than this backup (events after the backup are not in it)`,
          );
          ledger = signed;
        }
      }
      warnings.push(...ledger.warnings);
      const head = await deps.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
      const headMatches = Number(head.seq) === summary.ledger.headSeq && head.hash === summary.ledger.headHash;
      const ok = ledger.ok && headMatches;
      if (!ledger.ok) {
        await alertsOf(deps).raise({
          code: 'LEDGER_VERIFY_FAILED',
          severity: 'critical',
          message: `restored ledger fails verification at event ${ledger.problem?.seq}: ${ledger.problem?.reason}`,
          detail: { ...ledger.problem },
          actor: p,
        });
      }
      await recordEvent(deps.db, deps.clock, {
        action: 'backup.restore',
        outcome: ok ? 'success' : 'failure',
        actor: p,
        detail: {
          from: summary.from,
          backupCreatedAt: summary.createdAt,
          sourceDialect: summary.sourceDialect,
          manifestSha256: summary.manifestSha256,
          ledgerHead: summary.ledger.headSeq,
          rows: summary.tables.reduce((n, t) => n + t.rows, 0),
          blobs: summary.blobs.count,
          ledgerOk: ledger.ok,
          headMatches,
        },
      });
      if (deps.anchors && hooks.checkpoint) await hooks.checkpoint();
      return { ok, ledger, headMatches, warnings };
    },
  };
}

export { openBackup, restoreBackup, type OpenedBackup, type RestoreOptions, type RestoreStage, type RestoreSummary } from './restore.js';
export type { BackupOptions, BackupStage, BackupSummary } from './create.js';
export type { FullVerifyOptions, FullVerifyResult, StorageProblem } from './verify.js';
export { MIN_PASSPHRASE } from './keys-file.js';
