/** What the core is built from. Only the composition root (main) assembles this. */
import type { Logger } from 'pino';
import type { Db } from '../ports/db-schema.js';
import type { SealedStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { OidcPort } from '../ports/oidc.js';
import type { LedgerAnchors } from './audit/checkpoints.js';
import type { AlertChannel } from '../ports/alert-channel.js';
import type { Mailer } from '../ports/mailer.js';
import type { BudgetSettings, OidcSettings } from './settings.js';
import type { BackupPorts } from '../ports/backup.js';
import type { Keyring } from '../ports/keyring.js';

export interface CoreSettings {
  readonly nodeId: string;
  /**
   * Who this process's unfinished uploads belong to (blob_pending.node_id): the node id, or for an
   * SFTP worker process `<nodeId>/<worker>`, so that the uploads of a worker that died can be
   * swept while the rest of the node runs (sweepAbandonedUploads). Absent: nodeId.
   */
  readonly uploadOwner?: string | undefined;
  readonly maxUploadBytes: number;
  /**
   * Files up to this size (at most SMALL_OBJECT_BYTES) are sealed in memory and stored in the
   * database with their file row (blob_inline) instead of the blob store; 0 turns that off.
   * Absent: SMALL_OBJECT_BYTES.
   */
  readonly inlineMaxBytes?: number | undefined;
  /** Resumable uploads: the largest part a PATCH body is cut into (what a crash can lose; absent: 64 MiB). */
  readonly resumablePartBytes?: number | undefined;
  /** Resumable uploads: an upload not continued for this long expires and its parts are removed (absent: 24 h). */
  readonly resumableTtlMs?: number | undefined;
  /** Absolute lifetime of a web session. */
  readonly sessionTtlMs: number;
  /** A web session unused this long ends (absent: 30 minutes). */
  readonly sessionIdleMs?: number | undefined;
  /** WebAuthn relying party (RP ID and accepted origins); absent: passkeys are unavailable. */
  /** OpenID Connect sign-in (staff); absent: off. */
  readonly oidc?: OidcSettings | undefined;
  readonly webauthn?: { readonly rpId: string; readonly rpName: string; readonly origins: readonly string[] } | undefined;
  readonly lockoutThreshold: number;
  readonly lockoutDurationMs: number;
  readonly hashConcurrency: number;
  /** Download budgets; defaults apply when absent. */
  readonly budgets?: BudgetSettings | undefined;
  /** IANA time zone of incident outputs (drafts, report, tables); absent: UTC. */
  readonly timeZone?: string | undefined;
  /** A canary read trips the global download budget too (blocking all partner downloads). */
  readonly canaryTripsGlobal?: boolean | undefined;
}

export interface CoreDeps {
  readonly db: Db;
  readonly dialect: 'sqlite' | 'postgres';
  readonly store: SealedStore;
  readonly clock: Clock;
  readonly settings: CoreSettings;
  readonly log: Logger;
  /** Signing key and external sinks of the ledger; without them no checkpoints are made. */
  readonly anchors?: LedgerAnchors | undefined;
  /** Where alerts are delivered besides the ledger and the log. */
  readonly alertChannels?: readonly AlertChannel[] | undefined;
  /** Outgoing e-mail (partner notifications); absent when no SMTP server is configured. */
  readonly mailer?: Mailer | undefined;
  /** Where editable templates live (partner notifications). */
  readonly templateDir?: string | undefined;
  /** Database snapshots and the raw blob store, for backups (core/backup); absent: no backups. */
  readonly backup?: BackupPorts | undefined;
  /** Key-encryption keys, for small secrets kept in the database (TOTP); absent: no two-factor enrolment. */
  readonly keyring?: Keyring | undefined;
  /** The OpenID provider (adapters/oidc.ts), when SLUICE_OIDC_ISSUER is set. */
  readonly oidc?: OidcPort | undefined;
}
