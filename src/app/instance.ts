/**
 * Composition root: configuration → database → keyring → blob store → encrypted store → core.
 * Only this module (and main/serve) wires adapters; front ends receive the core and nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { oidcRedirectUri, publicOrigin, type Config } from '../config/config.js';
import { openServiceDatabase } from '../adapters/db/connect.js';
import { createLocalStore } from '../adapters/storage/local-store.js';
import { createEncryptedStore, sealedLength } from '../adapters/storage/encrypted-store.js';
import { createSnapshots, openRestoreDatabase } from '../adapters/db/snapshot.js';
import { initKeyring, loadKeyring } from '../adapters/storage/keyring-files.js';
import { createOidcClient } from '../adapters/oidc.js';
import type { OidcPort } from '../ports/oidc.js';
import { parseRoleMap, type OidcSettings } from '../core/auth/oidc.js';
import { initHostKeys } from './host-keys.js';
import { initLedgerKey, loadLedgerSigner } from '../adapters/ledger/signer-files.js';
import { createJsonlSink } from '../adapters/ledger/sink-jsonl.js';
import { createSyslogSink } from '../adapters/ledger/sink-syslog.js';
import { createEmailChannel } from '../adapters/alerts/email.js';
import { createWebhookChannel } from '../adapters/alerts/webhook.js';
import type { AlertChannel } from '../ports/alert-channel.js';
import type { Mailer } from '../ports/mailer.js';
import { createSmtpMailer } from '../adapters/mail/smtp.js';
import {
  createCore,
  openBackup,
  restoreBackup,
  type Core,
  type Principal,
  type RequestContext,
  type RestoreCheck,
  type RestoreOptions,
  type RestoreSummary,
} from '../core/index.js';
import type { RestoreTarget } from '../ports/backup.js';
import { CoreError } from '../core/errors.js';
import { systemClock, type Clock } from '../ports/clock.js';

export interface Instance {
  readonly core: Core;
  /** The CLI's principal: full rights, recorded as protocol "cli". Never handed to a network front end. */
  system(ctx: RequestContext, who?: string): Principal;
  /** The CLI acting as the named administrator (must be active); refused otherwise. */
  operator(login: string, ctx: RequestContext): Promise<Principal>;
  readonly config: Config;
  readonly log: Logger;
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;
}

/** The WebAuthn relying party: SLUICE_PUBLIC_URL's host and origin, else localhost:PORT of the listener. */
export function relyingParty(c: Config): { rpId: string; rpName: string; origins: string[] } {
  const origin = publicOrigin(c);
  return { rpId: new URL(origin).hostname, rpName: 'Sluice', origins: [origin] };
}

/** OIDC settings when SLUICE_OIDC_ISSUER and SLUICE_OIDC_CLIENT_ID are set. */
export function oidcSettingsOf(c: Config): OidcSettings | undefined {
  if (!c.oidcIssuer || !c.oidcClientId) return undefined;
  let roles: OidcSettings['roles'];
  try {
    roles = parseRoleMap(c.oidcRoles);
  } catch (e) {
    throw new Error(`SLUICE_OIDC_ROLES: ${(e as Error).message}`, { cause: e });
  }
  return { roleClaim: c.oidcRoleClaim, roles, provision: c.oidcProvision, allowPartner: c.oidcAllowPartner, org: c.oidcOrg };
}

function oidcPortOf(c: Config): OidcPort | undefined {
  if (!c.oidcIssuer || !c.oidcClientId) return undefined;
  const secret = c.oidcClientSecretFile ? fs.readFileSync(c.oidcClientSecretFile, 'utf8').trim() : c.oidcClientSecret;
  return createOidcClient({
    issuer: c.oidcIssuer,
    clientId: c.oidcClientId,
    clientSecret: secret,
    redirectUri: oidcRedirectUri(c),
    roleClaim: c.oidcRoleClaim,
  });
}

export const paths = (c: Config) => ({
  keys: path.join(c.dataDir, 'keys'),
  blobs: path.join(c.dataDir, 'blobs'),
  sqlite: path.join(c.dataDir, 'sluice.db'),
  /** The external anchor of the ledger: SLUICE_AUDIT_SINK, by default a file in the data dir ("none" turns it off). */
  auditSink: c.auditSink === 'none' ? undefined : (c.auditSink ?? path.join(c.dataDir, 'ledger-anchor.jsonl')),
});

export function isInitialised(c: Config): boolean {
  const dir = paths(c).keys;
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.startsWith('kek-'));
}

/** Creates the data directory, the key-encryption key and the SSH host keys if missing. Idempotent. */
export function prepareDataDir(c: Config): { createdKey: boolean } {
  fs.mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
  const { created } = initKeyring(paths(c).keys);
  initHostKeys(paths(c).keys);
  initLedgerKey(paths(c).keys);
  return { createdKey: created };
}

/** The alert channels the configuration names (validated: bad addresses or URLs stop the start). */
function alertChannels(c: Config, mailer: Mailer | undefined): AlertChannel[] {
  const out: AlertChannel[] = [];
  if (c.alertEmail && mailer) out.push(createEmailChannel(mailer, c.alertEmail.split(',')));
  if (c.alertWebhookUrl && c.alertWebhookSecret) {
    out.push(createWebhookChannel({ url: c.alertWebhookUrl, secret: c.alertWebhookSecret, allowPrivate: c.alertWebhookAllowPrivate }));
  }
  return out;
}

export async function openInstance(config: Config, opts: { log?: Logger; create?: boolean; clock?: Clock; uploadOwner?: string } = {}): Promise<Instance> {
  const log = opts.log ?? pino({ level: config.logLevel });
  if (opts.create) prepareDataDir(config);
  else if (!isInitialised(config)) {
    throw new CoreError('UNAVAILABLE', `no Sluice data directory at ${config.dataDir}; run "sluice init" first`);
  }
  const p = paths(config);
  const keyring = loadKeyring(p.keys);
  initLedgerKey(p.keys); // data directories made before ledger signing existed get their key now
  const mailer = config.smtpUrl ? createSmtpMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom ?? `sluice@${config.nodeId}.invalid` }) : undefined;
  const anchors = {
    signer: loadLedgerSigner(p.keys),
    sinks: [
      ...(p.auditSink ? [createJsonlSink(p.auditSink)] : []),
      ...(config.auditSyslog ? [createSyslogSink(config.auditSyslog, { caFile: config.auditSyslogCa })] : []),
    ],
  };
  const { db, dialect, close } = await openServiceDatabase({
    url: config.databaseUrl,
    migrateUrl: config.databaseMigrateUrl,
    sqlitePath: p.sqlite,
    onIdleError: (e) => log.warn({ err: e.message }, 'database connection lost; it will be replaced'),
  });
  const rawBlobs = createLocalStore({ dir: p.blobs });
  const store = createEncryptedStore({ inner: rawBlobs, keyring });
  const { core, systemPrincipal, operatorPrincipal } = createCore({
    db,
    dialect,
    store,
    clock: opts.clock ?? systemClock,
    log,
    anchors,
    keyring,
    oidc: oidcPortOf(config),
    alertChannels: alertChannels(config, mailer),
    mailer,
    templateDir: path.join(config.dataDir, 'templates'),
    backup: {
      snapshots: createSnapshots({ dialect, db, sqlitePath: p.sqlite }),
      rawBlobs,
      keysDir: p.keys,
      anchorFile: p.auditSink,
      storedSize: sealedLength,
      version: sluiceVersion(),
    },
    settings: {
      nodeId: config.nodeId,
      uploadOwner: opts.uploadOwner,
      maxUploadBytes: config.maxUploadBytes,
      inlineMaxBytes: config.inlineMaxBytes,
      resumablePartBytes: config.uploadPartBytes,
      resumableTtlMs: config.uploadExpiry,
      sessionTtlMs: config.sessionMax ?? config.sessionTtl ?? 12 * 3_600_000,
      sessionIdleMs: config.sessionIdle,
      webauthn: relyingParty(config),
      oidc: oidcSettingsOf(config),
      lockoutThreshold: config.lockoutThreshold,
      lockoutDurationMs: config.lockoutDuration,
      hashConcurrency: config.hashConcurrency,
      canaryTripsGlobal: config.canaryTripsGlobal,
      timeZone: config.timeZone,
      budgets: {
        windowMs: config.budgetWindow,
        user: { files: config.budgetUserFiles, bytes: config.budgetUserBytes },
        org: { files: config.budgetOrgFiles, bytes: config.budgetOrgBytes },
        global: { files: config.budgetGlobalFiles, bytes: config.budgetGlobalBytes },
      },
    },
  });
  return {
    core,
    system: systemPrincipal,
    operator: operatorPrincipal,
    config,
    log,
    dialect,
    async close() {
      await core.maintenance.flush();
      await close();
    },
  };
}

/** The version in the project's package.json (from src/ and from dist/). */
function sluiceVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)), i = 0; i < 4; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'sluice' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* keep looking */
    }
  }
  return '0.0.0';
}

/**
 * `sluice restore`: builds an instance from a backup in the configured data directory (which must
 * be missing or empty) and database (SQLite in the data directory, or SLUICE_DATABASE_URL, which
 * must be empty), then opens it to verify the ledger and record the restore.
 */
export async function restoreInstance(
  config: Config,
  opts: { from: string; passphrase: string; log?: Logger } & RestoreOptions,
): Promise<{ summary: RestoreSummary; check: RestoreCheck }> {
  const p = paths(config);
  const backup = await openBackup(opts.from, opts.passphrase); // a wrong passphrase stops here; nothing is written
  const existed = fs.existsSync(config.dataDir);
  let empty = false;
  const target: RestoreTarget = {
    assertEmpty() {
      if (existed && fs.readdirSync(config.dataDir).length > 0)
        throw new CoreError('CONFLICT', `${config.dataDir} is not empty; restore needs an empty data directory`);
      empty = true;
    },
    async openDatabase() {
      fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      return openRestoreDatabase({ url: config.databaseUrl, sqlitePath: p.sqlite });
    },
    rawBlobs: createLocalStore({ dir: p.blobs }),
    keysDir: p.keys,
    anchorFile: p.auditSink,
    async discard() {
      if (!empty || !fs.existsSync(config.dataDir)) return; // only what this restore created
      for (const name of fs.readdirSync(config.dataDir)) fs.rmSync(path.join(config.dataDir, name), { recursive: true, force: true });
      if (!existed) fs.rmdirSync(config.dataDir);
    },
  };
  let summary: RestoreSummary;
  try {
    summary = await restoreBackup(backup, target, opts);
  } finally {
    for (const f of backup.keyFiles) f.data.fill(0);
  }
  const inst = await openInstance(config, opts.log ? { log: opts.log } : {});
  try {
    const check = await inst.core.backup.finishRestore(inst.system({ protocol: 'cli', remoteAddr: 'local' }, 'cli:restore'), summary);
    return { summary, check };
  } finally {
    await inst.close();
  }
}
