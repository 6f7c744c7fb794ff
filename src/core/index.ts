/**
 * The core's public face: the only module front ends (HTTP, SFTP, CLI, web) may import besides
 * errors.ts. Everything that reads or changes data goes through the object createCore returns;
 * every operation takes a Principal, which only `core.auth` can create.
 */
import type { CoreDeps } from './deps.js';
import { createHasher } from './auth/passwords.js';
import { createAuthenticator, principalFor, refusal, refusedError, systemPrincipal } from './auth/authenticate.js';
import { createOidc } from './auth/oidc.js';
import { operatorPrincipal } from './auth/operator.js';
import { createPublicKeyAuth } from './auth/publickey.js';
import { failuresOf } from './auth/failures.js';
import { createOrgAdmin } from './admin/orgs.js';
import { createUserAdmin } from './admin/users.js';
import { createMfaAdmin } from './auth/mfa.js';
import { createKeyAdmin } from './admin/keys.js';
import { createGrantAdmin } from './admin/grants.js';
import { createTokenAdmin } from './admin/tokens.js';
import { createFolderAdmin } from './admin/folders.js';
import { listFolder } from './files/list.js';
import { statPath } from './files/stat.js';
import { openUpload, uploadStream } from './files/open-upload.js';
import { openDownload } from './files/open-download.js';
import { mkdir } from './files/mkdir.js';
import { remove } from './files/remove.js';
import { rename } from './files/rename.js';
import { sweepAbandonedUploads, sweepBlobs } from './files/blobs.js';
import { archiveEntries } from './files/archive.js';
import { appendResumable, createResumable, resumableStatus, sweepExpiredUploads, terminateResumable } from './files/resumable.js';
import { verifyLedger } from './audit/ledger.js';
import { listEvents, type AuditFilter } from './audit/query.js';
import { createCheckpoint } from './audit/checkpoints.js';
import { createLedgerSearch } from './audit/search.js';
import { ledgerState } from './audit/state.js';
import { lockdownOf } from './ops/lockdown.js';
import { alertsOf } from './ops/alerts.js';
import { budgetsOf } from './ops/budgets.js';
import { canariesOf, canaryContent } from './ops/canaries.js';
import { incidentScope, type ScopeInput } from './incident/scope.js';
import { notifyPartners } from './incident/notify.js';
import { art33Report } from './incident/report.js';
import { requireAdmin } from './admin/require-admin.js';
import { CoreError } from './errors.js';
import { flushWrites, recordEvent } from './tx.js';
import { formatPath, parsePath } from './paths.js';
import type { Principal, RequestContext, Role } from './principal.js';
import { assertPrincipal, refusedPath } from './files/guard.js';
import type { FileAction } from './access/decide.js';
import { createBackupApi } from './backup/index.js';
import { createSessions } from './auth/sessions.js';
import { createAccessExplain } from './access/explain.js';

export { CoreError, isCoreError, ERROR_CODES, type ErrorCode } from './errors.js';
export type { FileAction } from './access/decide.js';
export type { Principal, RequestContext, Protocol, Role } from './principal.js';
export type { EntryInfo } from './files/resolve.js';
export type { ListPage, ListOptions } from './files/list.js';
export type { Download, DownloadRequest } from './files/open-download.js';
export type { UploadHandle, UploadOptions } from './files/open-upload.js';
export type { ArchiveEntry } from './files/archive.js';
export type { ResumableStatus, CreateResumable, AppendRequest } from './files/resumable.js';
export { parseFileMetadata, MAX_CATEGORIES, type FileMetadata, type FileMetadataInput } from './files/metadata.js';
export type { Org, Contact } from './admin/orgs.js';
export type { User } from './admin/users.js';
export type { SshKey } from './admin/keys.js';
export type { Grant } from './admin/grants.js';
export type { TokenInfo } from './admin/tokens.js';
export type { FolderSummary } from './admin/folders.js';
export type { VerifyResult } from './audit/ledger.js';
export type { Checkpoint } from '../ports/ledger-anchor.js';
export type { IncidentScope, ScopeInput, FileActivity, OrgImpact } from './incident/scope.js';
export { scopeText, scopeCsv, csvCell } from './incident/format.js';
export { scopeTable, tableCsv, TABLE_NAMES, type Table, type TableName, type Cell } from './incident/tables.js';
export type { Draft } from './incident/notify.js';
export { LOCKDOWN_MODES, SWITCHABLE, type LockdownState, type LockdownMode } from './ops/lockdown.js';
export type { AuditEvent, AuditFilter } from './audit/query.js';
export { LEDGER_CSV_COLUMNS, LEDGER_OUTCOMES, LEDGER_PROTOCOLS, ledgerCsvRow, type LedgerPage, type LedgerSearch } from './audit/search.js';
export type { LedgerState } from './audit/state.js';
export { PERMISSIONS, type Permission } from './access/permissions.js';
export type { CoreDeps, CoreSettings } from './deps.js';
export type { PublicKeyRequest, PublicKeyAnswer } from './auth/publickey.js';
export type { SignInStep } from './auth/authenticate.js';
export type { SessionInfo } from './auth/sessions.js';
export type { FolderAccess, FolderAccessEntry, UserAccess, GrantRef } from './access/explain.js';
export type { PasskeyInfo, Ceremony } from './auth/passkeys.js';
export type { MfaChallenge, MfaStatus, MfaEnrolment, MfaState, MfaRecoveryCodes } from './auth/mfa.js';
export { openBackup, restoreBackup, MIN_PASSPHRASE } from './backup/index.js';
export type {
  BackupOptions,
  BackupStage,
  BackupSummary,
  FullVerifyOptions,
  FullVerifyResult,
  StorageProblem,
  OpenedBackup,
  RestoreOptions,
  RestoreStage,
  RestoreSummary,
  RestoreCheck,
} from './backup/index.js';

/**
 * SFTP REALPATH: the normalised absolute form of a client path, with '.' dropped and '..'
 * resolved lexically and clamped at the root (there are no links, so this is exact). Pure path
 * logic through the one parser (core/paths.ts); it reads nothing and authorizes nothing. Throws
 * CoreError INVALID_PATH for anything the parser rejects.
 */
export function resolveClientPath(path: string): string {
  return formatPath(parsePath(path, { resolveDots: true }));
}

/**
 * Builds the core. Returns the core object (what front ends receive) and, separately, the
 * factory for the system principal, which only the composition root keeps (for the CLI).
 */
export function createCore(deps: CoreDeps) {
  const core = buildCore(deps);
  return { core, systemPrincipal, operatorPrincipal: (login: string, ctx: RequestContext) => operatorPrincipal(deps, login, ctx) };
}

function buildCore(deps: CoreDeps) {
  const makeCheckpoint = async () => {
    if (!deps.anchors) throw new CoreError('UNAVAILABLE', 'no ledger signing key configured');
    const r = await createCheckpoint(deps.db, deps.clock, deps.anchors);
    for (const e of r.sinkErrors) {
      await alertsOf(deps).raise({
        code: 'LEDGER_SINK_FAILED',
        severity: 'critical',
        message: `a ledger checkpoint could not be written to ${e.sink}`,
        detail: { sink: e.sink, error: e.error },
      });
    }
    return r;
  };
  const hasher = createHasher(deps.settings.hashConcurrency);
  const { passkeyStore, ...authenticator } = createAuthenticator(deps, hasher);
  const orgs = createOrgAdmin(deps);
  const users = createUserAdmin(deps, hasher, orgs.find);
  const mfa = createMfaAdmin(deps, users.find);
  const finders = { user: users.find, org: orgs.find };
  const sessions = createSessions(deps);
  const ledgerSearch = createLedgerSearch(deps);
  const oidc = createOidc(
    deps,
    principalFor,
    (u, now) => refusal(deps, u, now),
    refusedError,
    async (login, role, org) => (await users.create(systemPrincipal({ protocol: 'web' }, 'oidc'), { login, role, ...(org ? { org } : {}) })).user.id,
  );
  const auth = {
    ...authenticator,
    publicKey: createPublicKeyAuth(deps),
    /** Sign-in through the organisation's OpenID provider (staff): enabled, start, finish. */
    oidc,
  };

  return {
    auth,
    files: {
      list: (p: Principal, path: string, opts?: Parameters<typeof listFolder>[3]) => listFolder(deps, p, path, opts),
      stat: (p: Principal, path: string) => statPath(deps, p, path),
      openUpload: (p: Principal, path: string, opts?: Parameters<typeof openUpload>[3]) => openUpload(deps, p, path, opts),
      upload: (p: Principal, path: string, source: AsyncIterable<Uint8Array>, opts?: Parameters<typeof uploadStream>[4]) =>
        uploadStream(deps, p, path, source, opts),
      openDownload: (p: Principal, path: string, req?: Parameters<typeof openDownload>[3]) => openDownload(deps, p, path, req),
      /**
       * Resumable uploads (tus): create (admitted like a PUT with its length), status (offset),
       * append (a PATCH body at the offset, committed part by part; the last byte commits the
       * file exactly like a PUT), terminate. Only the owner sees an upload; each call is gated.
       */
      resumable: {
        create: (p: Principal, input: Parameters<typeof createResumable>[2]) => createResumable(deps, p, input),
        status: (p: Principal, id: string) => resumableStatus(deps, p, id),
        append: (p: Principal, id: string, req: Parameters<typeof appendResumable>[3]) => appendResumable(deps, p, id, req),
        terminate: (p: Principal, id: string) => terminateResumable(deps, p, id),
      },
      /**
       * What an archive of `paths` holds (files, and folders walked page by page), each lookup and
       * listing gated and recorded; the front end reads every file through openDownload.
       */
      archive: (p: Principal, paths: readonly string[]) => archiveEntries(deps, p, paths),
      mkdir: (p: Principal, path: string) => mkdir(deps, p, path),
      remove: (p: Principal, path: string, opts?: Parameters<typeof remove>[3]) => remove(deps, p, path, opts),
      rename: (p: Principal, from: string, to: string, opts?: Parameters<typeof rename>[4]) => rename(deps, p, from, to, opts),
      /**
       * For a front end that cannot even decode a client's path (bad percent-encoding, not UTF-8):
       * records the attempt like the core's own parser rejections, returns the error to throw.
       */
      refusedPath: (p: Principal, action: FileAction, raw: string, err: CoreError) => refusedPath(deps, p, action, raw, err),
    },
    admin: {
      orgs: { create: orgs.create, list: orgs.list, get: orgs.get, update: orgs.update },
      users: { create: users.create, list: users.list, get: users.get, update: users.update },
      /** Two-factor sign-in of a user (TOTP): status, enable (pending until confirmed), confirm, recovery codes, disable. */
      mfa: mfa.admin,
      keys: createKeyAdmin(deps, users.find),
      grants: createGrantAdmin(deps, finders),
      tokens: createTokenAdmin(deps, users.find),
      folders: createFolderAdmin(deps, orgs.find),
      /** Everybody's live web sessions; ending one signs that browser out at its next request. */
      sessions: sessions.admin,
      /** Access explained: who can see a folder and through which grant (folder), what a user can see (user). */
      access: createAccessExplain(deps),
      /** A user's passkeys: list, remove. */
      passkeys: {
        list: (p: Principal, login: string) => passkeyStore.list(p, login),
        remove: (p: Principal, login: string, id: unknown) => passkeyStore.remove(p, id, login),
      },
    },
    account: {
      /** The principal's own identity for display (web app header, GET /auth/me): login, role, organisation name. */
      async me(p: Principal): Promise<{ login: string; role: Role; org: string | null }> {
        assertPrincipal(p);
        const org = p.orgId ? await deps.db.selectFrom('orgs').select('name').where('id', '=', p.orgId).executeTakeFirst() : undefined;
        return { login: p.login, role: p.role, org: org?.name ?? null };
      },
      /** The principal's own two-factor sign-in: start (secret shown once), confirm with a code, recovery codes, disable with a code; changes need a web session. */
      mfa: mfa.self,
      /** One's own live web sessions: list (current one marked), end one, end all (logout everywhere). */
      sessions: sessions.self,
      /** One's own passkeys: register (options, then the authenticator's answer; web session only), list, rename, remove. */
      passkeys: {
        registrationOptions: passkeyStore.self.registrationOptions,
        register: passkeyStore.self.register,
        list: (p: Principal) => passkeyStore.list(p),
        rename: passkeyStore.rename,
        remove: (p: Principal, id: unknown) => passkeyStore.remove(p, id),
      },
    },
    audit: {
      async verify(p: Principal, onProgress?: (done: number, total: number) => void) {
        await requireAdmin(deps, p, 'audit.verify');
        const r = await verifyLedger(deps.db, { anchors: deps.anchors, onProgress });
        // Recorded, so the console can show when the ledger was last verified whole and how it went.
        await recordEvent(deps.db, deps.clock, {
          action: 'audit.verify',
          outcome: r.ok ? 'success' : 'failure',
          actor: p,
          detail: { events: r.events, headSeq: r.headSeq, signedThrough: r.signedThrough, ...(r.problem ? { problem: r.problem } : {}) },
        });
        if (!r.ok)
          await alertsOf(deps).raise({
            code: 'LEDGER_VERIFY_FAILED',
            severity: 'critical',
            message: `ledger verification failed at event ${r.problem?.seq}: ${r.problem?.reason}`,
            detail: { ...r.problem },
            actor: p,
          });
        return r;
      },
      /** Signs the ledger head now (also done periodically by the server). */
      async checkpoint(p: Principal) {
        await requireAdmin(deps, p, 'audit.checkpoint');
        return makeCheckpoint();
      },
      /** Ledger events, oldest first (administrators); the query itself is recorded. */
      events: (p: Principal, filter: AuditFilter = {}) => listEvents(deps, p, filter),
      /** The console's search: every filter, keyset pages newest or oldest first (recorded). */
      search: ledgerSearch.search,
      /** The search's whole selection as a stream of events, for CSV/JSONL export (recorded before the first). */
      export: ledgerSearch.export,
      /** Head, last signed checkpoint and its age, the tail's chain, the last full verification, sink health. */
      state: (p: Principal) => ledgerState(deps, p),
    },
    alerts: {
      /** Sends a test alert through every channel (administrators). */
      async test(p: Principal) {
        await requireAdmin(deps, p, 'alert.test');
        const a = alertsOf(deps);
        const alert = await a.raise({ code: 'ALERT_TEST', severity: 'info', message: `test alert requested by ${p.login}`, actor: p });
        return { alert, channels: a.channels() };
      },
      /** Waits until alerts in flight are delivered or given up (shutdown). */
      drain: (timeoutMs?: number) => alertsOf(deps).drain(timeoutMs),
    },
    /** Incident response (administrators). */
    incident: {
      scope: (p: Principal, input: ScopeInput) => incidentScope(deps, p, input),
      /** One message per affected partner from a scope (its JSON); sent over SMTP when `send`. */
      notify: (p: Principal, scope: unknown, opts: { lang?: 'de' | 'en'; send?: boolean; sender?: string } = {}) => notifyPartners(deps, p, scope, opts),
      /** GDPR Art. 33 notification skeleton (Markdown) from a scope and the measures in the ledger, in one language (default en). */
      report: (p: Principal, scope: unknown, opts: { lang?: 'de' | 'en' } = {}) => art33Report(deps, p, scope, opts),
    },
    /** Canary files (administrators): any read alerts and trips the reader's budget. */
    canaries: {
      mark: (p: Principal, path: string, note?: string) => canariesOf(deps).mark(p, path, note),
      list: (p: Principal) => canariesOf(deps).list(p),
      /** Uploads a plausible fictitious billing file at `path` and marks it as a canary. */
      async plant(p: Principal, path: string, note?: string) {
        await requireAdmin(deps, p, 'canary.plant');
        const body = canaryContent();
        await uploadStream(
          deps,
          p,
          path,
          (async function* () {
            yield body;
          })(),
        );
        return canariesOf(deps).mark(p, path, note);
      },
    },
    /** Download budgets: open trips, lifting them (administrators). */
    budgets: {
      trips: (p: Principal, opts?: { all?: boolean }) => budgetsOf(deps).trips(p, opts),
      /** scope: user:LOGIN, org:NAME, global, or a trip id. */
      async lift(p: Principal, scope: string) {
        await requireAdmin(deps, p, 'budget.lift');
        let key = scope;
        if (scope.startsWith('user:')) key = `user:${(await users.find(scope.slice(5))).id}`;
        else if (scope.startsWith('org:')) key = `org:${(await orgs.find(scope.slice(4))).id}`;
        return budgetsOf(deps).lift(p, key);
      },
      settings: () => budgetsOf(deps).settings,
    },
    /** Backups (consistent, while serving), the last step of a restore, and full verification of storage and ledger (administrators). */
    backup: createBackupApi(deps, { checkpoint: makeCheckpoint }),
    /** Lockdown and per-protocol kill switches (administrators). */
    lockdown: {
      status: (p: Principal) => lockdownOf(deps).status(p),
      set: (p: Principal, input: { mode: string; reason?: string | undefined }) => lockdownOf(deps).set(p, input),
      setProtocol: (p: Principal, protocol: string, enabled: boolean) => lockdownOf(deps).setProtocol(p, protocol, enabled),
      /** For front ends: throws LOCKED if this principal may no longer do `kind` (running sessions poll it). */
      check: (p: Principal, kind: 'list' | 'read' | 'write' | 'modify' = 'list') => lockdownOf(deps).check(p, kind),
    },
    setup: {
      /** True once a first administrator exists. */
      async initialized(): Promise<boolean> {
        return !!(await deps.db.selectFrom('users').select('id').where('role', '=', 'admin').limit(1).executeTakeFirst());
      },
      /**
       * Creates the first administrator. MUST do nothing once any administrator exists: there is
       * no setup path left open after setup.
       */
      async createFirstAdmin(p: Principal, login: string, password?: string): Promise<{ created: boolean; password?: string }> {
        await requireAdmin(deps, p, 'setup.init');
        if (p.kind !== 'system') throw new CoreError('PERMISSION_DENIED', 'only local setup may create the first administrator');
        if (await this.initialized()) return { created: false };
        const r = await users.create(
          p,
          { login, role: 'admin', ...(password !== undefined ? { password } : {}) },
          { generatePassword: password === undefined },
        );
        return { created: true, ...(r.password ? { password: r.password } : {}) };
      },
    },
    maintenance: {
      /** Signs the ledger head if it advanced and sends the checkpoint to the sinks (timer, shutdown). */
      checkpoint: () => makeCheckpoint(),
      /**
       * Commits the writes that wait: the counts of repeated failed sign-ins (auth/failures.ts) and
       * the lazy ledger events grouped with the next write. Before the database closes.
       */
      flush: async () => {
        await failuresOf(deps).flush();
        await flushWrites(deps.db);
      },
      /** Start-up recovery of interrupted uploads and deletions. */
      sweep: () => sweepBlobs(deps),
      /** Resumable uploads past their expiry, with their parts (start-up and periodic jobs). */
      sweepUploads: () => sweepExpiredUploads(deps),
      /** The unfinished uploads of a process that died (see sweepAbandonedUploads). */
      sweepAbandoned: (owner: string) => sweepAbandonedUploads(deps, owner),
      /** Readiness: the database answers and the store is reachable. */
      async ready(): Promise<void> {
        try {
          await deps.db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirstOrThrow();
          await deps.store.check();
        } catch (e) {
          throw new CoreError('UNAVAILABLE', 'not ready', { cause: e });
        }
      },
    },
  };
}

export type Core = ReturnType<typeof buildCore>;
