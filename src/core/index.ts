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
import {
  appendResumable,
  createResumable,
  resumableStatus,
  sweepExpiredUploads,
  terminateResumable,
  type AppendRequest,
  type CreateResumable,
} from './files/resumable.js';
import { verifyLedger } from './audit/verify-ledger.js';
import { listEvents, type AuditFilter } from './audit/query.js';
import { createCheckpoint } from './audit/checkpoints.js';
import { createLedgerSearch, type LedgerSearch } from './audit/search.js';
import { ledgerState } from './audit/state.js';
import { lockdownOf } from './ops/lockdown.js';
import { alertsOf } from './ops/alerts.js';
import { budgetsOf } from './ops/budgets.js';
import { canariesOf, canaryContent } from './ops/canaries.js';
import { incidentScope, type ScopeInput } from './incident/scope.js';
import { notifyPartners } from './incident/notify.js';
import { art33Report } from './incident/report.js';
import { CoreError } from './errors.js';
import { flushWrites, recordEvent } from './tx.js';
import { formatPath, parsePath } from './paths.js';
import type { Principal, RequestContext, Role } from './principal.js';
import { enter, enterPath, refusedPath, type FileScope, type Scope } from './gate.js';
import type { Action, FileAction } from './actions.js';
import type { ActionTarget } from './access/decide.js';
import type { ListOptions } from './files/list.js';
import type { DownloadRequest } from './files/open-download.js';
import type { UploadOptions } from './files/open-upload.js';
import type { RemoveOptions } from './files/remove.js';
import type { RenameOptions } from './files/rename.js';
import type { BackupOptions, FullVerifyOptions, RestoreSummary } from './backup/index.js';
import type { OrgSearch } from './admin/orgs.js';
import { createBackupApi } from './backup/index.js';
import { createSessions } from './auth/sessions.js';
import { createAccessExplain } from './access/explain.js';
import { PASSKEY_REFUSAL } from './auth/passkey-policy.js';

export { CoreError, isCoreError, ERROR_CODES, type ErrorCode } from './errors.js';
export type { FileAction, Action } from './actions.js';
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
export type { VerifyResult } from './audit/verify-ledger.js';
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
export type { PasskeyPolicy } from './auth/passkey-policy.js';
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
  const { passkeyStore, passkeyPolicy, ...authenticator } = createAuthenticator(deps, hasher);
  const orgs = createOrgAdmin(deps);
  const users = createUserAdmin(deps, hasher, orgs.find);
  const mfa = createMfaAdmin(deps, users.find);
  const finders = { user: users.find, org: orgs.find };
  const sessions = createSessions(deps);
  const keys = createKeyAdmin(deps, users.find);
  const grants = createGrantAdmin(deps, finders);
  const tokens = createTokenAdmin(deps, users.find);
  const folders = createFolderAdmin(deps, orgs.find);
  const backup = createBackupApi(deps, { checkpoint: makeCheckpoint });
  const lockdown = lockdownOf(deps);
  const canaries = canariesOf(deps);
  const budgets = budgetsOf(deps);
  const ledgerSearch = createLedgerSearch(deps);
  const accessExplain = createAccessExplain(deps);

  /**
   * The gate, then the body: `as(p, action, body)` passes `action` through core/gate.ts (principal
   * minted and still valid, lockdown, decision from the table of actions, denial recorded) and
   * runs the body with the scope only the gate can issue. `at(p, action, path, body)` does the
   * same for a file action on a client path (parsed there). Every operation below is one line:
   * operation → action → body.
   */
  const as = <A extends Action, T>(p: Principal, action: A, body: (s: Scope<A>) => Promise<T>, target?: ActionTarget): Promise<T> =>
    enter(deps, p, action, target).then(body);
  const at = <T>(p: Principal, action: FileAction, path: string, body: (s: FileScope) => Promise<T>, to?: { action: FileAction; raw: string }): Promise<T> =>
    enterPath(deps, p, action, path, to ? { to } : {}).then(body);
  const user = (login: string | undefined): ActionTarget => ({ user: login });

  const oidc = createOidc(
    deps,
    principalFor,
    // Staff through the provider sign in without a passkey: refused where the policy requires one.
    async (u, now) => (await refusal(deps, u, now)) ?? ((await passkeyPolicy.requires(u)) ? PASSKEY_REFUSAL : undefined),
    refusedError,
    async (login, role, org) =>
      (await as(systemPrincipal({ protocol: 'web' }, 'oidc'), 'user.create', (s) => users.create(s, { login, role, ...(org ? { org } : {}) }))).user.id,
  );
  const auth = {
    ...authenticator,
    publicKey: createPublicKeyAuth(deps),
    /** Sign-in through the organisation's OpenID provider (staff): enabled, start, finish. */
    oidc,
  };

  const isInitialized = async (): Promise<boolean> =>
    !!(await deps.db.selectFrom('users').select('id').where('role', '=', 'admin').limit(1).executeTakeFirst());

  return {
    auth,
    // operation                                                            action               body
    files: {
      list: (p: Principal, path: string, o?: ListOptions) => at(p, 'folder.list', path, (s) => listFolder(deps, s, o)),
      stat: (p: Principal, path: string) => at(p, 'entry.stat', path, (s) => statPath(deps, s)),
      openUpload: (p: Principal, path: string, o?: UploadOptions) => at(p, 'file.write', path, (s) => openUpload(deps, s, o)),
      upload: (p: Principal, path: string, source: AsyncIterable<Uint8Array>, o?: UploadOptions) =>
        at(p, 'file.write', path, (s) => uploadStream(deps, s, source, o)),
      openDownload: (p: Principal, path: string, req?: DownloadRequest) => at(p, 'file.read', path, (s) => openDownload(deps, s, req)),
      /**
       * Resumable uploads (tus): create (admitted like a PUT with its length), status (offset),
       * append (a PATCH body at the offset, committed part by part; the last byte commits the
       * file exactly like a PUT), terminate. Only the owner sees an upload; status, append and
       * terminate find the principal's own upload by id and pass the gate for its path there
       * (files/resumable.ts: own → enterPath).
       */
      resumable: {
        create: (p: Principal, input: CreateResumable) => at(p, 'upload.create', input.path, (s) => createResumable(deps, s, input)),
        status: (p: Principal, id: string) => resumableStatus(deps, p, id),
        append: (p: Principal, id: string, req: AppendRequest) => appendResumable(deps, p, id, req),
        terminate: (p: Principal, id: string) => terminateResumable(deps, p, id),
      },
      /**
       * What an archive of `paths` holds: each path passes the gate as a stat (entry.stat) and each
       * folder page as a listing (folder.list), recorded; the front end reads every file through openDownload.
       */
      archive: (p: Principal, paths: readonly string[]) => archiveEntries(deps, p, paths),
      mkdir: (p: Principal, path: string) => at(p, 'folder.create', path, (s) => mkdir(deps, s)),
      remove: (p: Principal, path: string, o?: RemoveOptions) => at(p, o?.only === 'folder' ? 'folder.delete' : 'file.delete', path, (s) => remove(deps, s, o)),
      rename: (p: Principal, from: string, to: string, o?: RenameOptions) =>
        at(p, 'entry.rename-from', from, (s) => rename(deps, s, o), { action: 'entry.rename-to', raw: to }),
      /**
       * For a front end that cannot even decode a client's path (bad percent-encoding, not UTF-8):
       * records the attempt like the core's own parser rejections, returns the error to throw.
       */
      refusedPath: (p: Principal, action: FileAction, raw: string, err: CoreError) => refusedPath(deps, p, action, raw, err),
    },
    admin: {
      orgs: {
        create: (p: Principal, input: unknown) => as(p, 'org.create', (s) => orgs.create(s, input)),
        list: (p: Principal, search?: OrgSearch) => as(p, 'org.list', (s) => orgs.list(s, search)),
        get: (p: Principal, ref: string) => as(p, 'org.get', (s) => orgs.get(s, ref)),
        update: (p: Principal, ref: string, patch: unknown) => as(p, 'org.update', (s) => orgs.update(s, ref, patch)),
      },
      users: {
        create: (p: Principal, input: unknown, o?: { generatePassword?: boolean }) => as(p, 'user.create', (s) => users.create(s, input, o)),
        list: (p: Principal, filter?: { org?: string }) => as(p, 'user.list', (s) => users.list(s, filter)),
        get: (p: Principal, ref: string) => as(p, 'user.get', (s) => users.get(s, ref)),
        update: (p: Principal, ref: string, patch: unknown) => as(p, 'user.update', (s) => users.update(s, ref, patch)),
      },
      /** Two-factor sign-in of a user (TOTP): status, enable (pending until confirmed), confirm, recovery codes, disable. */
      mfa: {
        status: (p: Principal, ref: string) => as(p, 'admin.mfa.status', (s) => mfa.admin.status(s, ref)),
        enable: (p: Principal, ref: string) => as(p, 'admin.mfa.enrol', (s) => mfa.admin.enable(s, ref)),
        confirm: (p: Principal, ref: string, code: unknown) => as(p, 'admin.mfa.confirm', (s) => mfa.admin.confirm(s, ref, code)),
        recoveryCodes: (p: Principal, ref: string) => as(p, 'admin.mfa.recovery', (s) => mfa.admin.recoveryCodes(s, ref)),
        disable: (p: Principal, ref: string) => as(p, 'admin.mfa.disable', (s) => mfa.admin.disable(s, ref)),
      },
      keys: {
        add: (p: Principal, userRef: string, line: string) => as(p, 'key.add', (s) => keys.add(s, userRef, line)),
        list: (p: Principal, userRef: string) => as(p, 'key.list', (s) => keys.list(s, userRef)),
        remove: (p: Principal, userRef: string, idOrFingerprint: string) => as(p, 'key.remove', (s) => keys.remove(s, userRef, idOrFingerprint)),
      },
      grants: {
        set: (p: Principal, subject: string, path: string, perms: string | readonly string[]) => as(p, 'grant.set', (s) => grants.set(s, subject, path, perms)),
        revoke: (p: Principal, subject: string, path: string) => as(p, 'grant.revoke', (s) => grants.revoke(s, subject, path)),
        list: (p: Principal, filter?: { path?: string; subject?: string }) => as(p, 'grant.list', (s) => grants.list(s, filter)),
      },
      /** API tokens: one's own, or (administrators) anyone's. */
      tokens: {
        create: (p: Principal, userRef: string | undefined, o?: { name?: string | undefined; expiresInMs?: number | undefined }) =>
          as(p, 'token.create', (s) => tokens.create(s, userRef, o), user(userRef)),
        list: (p: Principal, userRef?: string) => as(p, 'token.list', (s) => tokens.list(s, userRef), user(userRef)),
        revoke: (p: Principal, tokenId: string) => as(p, 'token.revoke', (s) => tokens.revoke(s, tokenId)),
      },
      folders: {
        create: (p: Principal, path: string, o?: { org?: string | undefined }) => as(p, 'admin.folder.create', (s) => folders.create(s, path, o)),
        list: (p: Principal, o?: { limit?: number; after?: string }) => as(p, 'admin.folder.list', (s) => folders.list(s, o)),
      },
      /** Everybody's live web sessions; ending one signs that browser out at its next request. */
      sessions: {
        list: (p: Principal, o?: { login?: string | undefined }) => as(p, 'admin.session.list', (s) => sessions.admin.list(s, o)),
        end: (p: Principal, id: unknown) => as(p, 'admin.session.end', (s) => sessions.admin.end(s, id)),
      },
      /** Which roles and organisations must sign in with a passkey: get, set (replace). */
      passkeyPolicy: {
        get: (p: Principal) => as(p, 'policy.passkeys.get', (s) => passkeyPolicy.get(s)),
        set: (p: Principal, input: unknown) => as(p, 'policy.passkeys.set', (s) => passkeyPolicy.set(s, input)),
      },
      /** Access explained: who can see a folder and through which grant (folder), what a user can see (user). */
      access: {
        folder: (p: Principal, path: string) => as(p, 'access.folder', (s) => accessExplain.folder(s, path)),
        user: (p: Principal, login: string) => as(p, 'access.user', (s) => accessExplain.user(s, login)),
      },
      /** A user's passkeys: list, remove. */
      passkeys: {
        list: (p: Principal, login: string) => as(p, 'admin.passkey.list', (s) => passkeyStore.list(s, login)),
        remove: (p: Principal, login: string, id: unknown) => as(p, 'admin.passkey.remove', (s) => passkeyStore.remove(s, id, login)),
      },
    },
    account: {
      /** The principal's own identity for display (web app header, GET /auth/me): login, role, organisation name. */
      me: (p: Principal) =>
        as(p, 'account.me', async (s): Promise<{ login: string; role: Role; org: string | null }> => {
          const q = s.principal;
          const org = q.orgId ? await deps.db.selectFrom('orgs').select('name').where('id', '=', q.orgId).executeTakeFirst() : undefined;
          return { login: q.login, role: q.role, org: org?.name ?? null };
        }),
      /** The principal's own two-factor sign-in: start (secret shown once), confirm with a code, recovery codes, disable with a code; changes need a web session. */
      mfa: {
        status: (p: Principal) => as(p, 'mfa.status', (s) => mfa.self.status(s)),
        start: (p: Principal) => as(p, 'mfa.enrol', (s) => mfa.self.start(s)),
        confirm: (p: Principal, code: unknown) => as(p, 'mfa.confirm', (s) => mfa.self.confirm(s, code)),
        recoveryCodes: (p: Principal) => as(p, 'mfa.recovery', (s) => mfa.self.recoveryCodes(s)),
        disable: (p: Principal, code: unknown) => as(p, 'mfa.disable', (s) => mfa.self.disable(s, code)),
      },
      /** One's own live web sessions: list (current one marked), end one, end all (logout everywhere). */
      sessions: {
        list: (p: Principal) => as(p, 'session.list', (s) => sessions.self.list(s)),
        end: (p: Principal, id: unknown) => as(p, 'session.end', (s) => sessions.self.end(s, id)),
        endAll: (p: Principal) => as(p, 'session.end-all', (s) => sessions.self.endAll(s)),
      },
      /** One's own passkeys: register (options, then the authenticator's answer; web session only), list, rename, remove. */
      passkeys: {
        registrationOptions: (p: Principal) => as(p, 'passkey.register', (s) => passkeyStore.self.registrationOptions(s)),
        register: (p: Principal, ceremonyId: unknown, response: unknown, name: unknown) =>
          as(p, 'passkey.register', (s) => passkeyStore.self.register(s, ceremonyId, response, name)),
        list: (p: Principal) => as(p, 'passkey.list', (s) => passkeyStore.list(s)),
        rename: (p: Principal, id: unknown, name: unknown) => as(p, 'passkey.rename', (s) => passkeyStore.rename(s, id, name)),
        remove: (p: Principal, id: unknown) => as(p, 'passkey.remove', (s) => passkeyStore.remove(s, id)),
      },
    },
    audit: {
      verify: (p: Principal, onProgress?: (done: number, total: number) => void) =>
        as(p, 'audit.verify', async (s) => {
          const r = await verifyLedger(deps.db, { anchors: deps.anchors, onProgress });
          // Recorded, so the console can show when the ledger was last verified whole and how it went.
          await recordEvent(deps.db, deps.clock, {
            action: 'audit.verify',
            outcome: r.ok ? 'success' : 'failure',
            actor: s.principal,
            detail: { events: r.events, headSeq: r.headSeq, signedThrough: r.signedThrough, ...(r.problem ? { problem: r.problem } : {}) },
          });
          if (!r.ok)
            await alertsOf(deps).raise({
              code: 'LEDGER_VERIFY_FAILED',
              severity: 'critical',
              message: `ledger verification failed at event ${r.problem?.seq}: ${r.problem?.reason}`,
              detail: { ...r.problem },
              actor: s.principal,
            });
          return r;
        }),
      /** Signs the ledger head now (also done periodically by the server). */
      checkpoint: (p: Principal) => as(p, 'audit.checkpoint', () => makeCheckpoint()),
      /** Ledger events, oldest first (administrators); the query itself is recorded. */
      events: (p: Principal, filter: AuditFilter = {}) => as(p, 'audit.query', (s) => listEvents(deps, s, filter)),
      /** The console's search: every filter, keyset pages newest or oldest first (recorded). */
      search: (p: Principal, filter: LedgerSearch) => as(p, 'audit.search', (s) => ledgerSearch.search(s, filter)),
      /** The search's whole selection as a stream of events, for CSV/JSONL export (recorded before the first). */
      export: (p: Principal, filter: LedgerSearch, format: 'csv' | 'jsonl') => as(p, 'audit.export', (s) => ledgerSearch.export(s, filter, format)),
      /** Head, last signed checkpoint and its age, the tail's chain, the last full verification, sink health. */
      state: (p: Principal) => as(p, 'audit.state', (s) => ledgerState(deps, s)),
    },
    alerts: {
      /** Sends a test alert through every channel (administrators). */
      test: (p: Principal) =>
        as(p, 'alert.test', async (s) => {
          const a = alertsOf(deps);
          const alert = await a.raise({ code: 'ALERT_TEST', severity: 'info', message: `test alert requested by ${s.principal.login}`, actor: s.principal });
          return { alert, channels: a.channels() };
        }),
      /** Waits until alerts in flight are delivered or given up (shutdown). */
      drain: (timeoutMs?: number) => alertsOf(deps).drain(timeoutMs),
    },
    /** Incident response (administrators). */
    incident: {
      scope: (p: Principal, input: ScopeInput) => as(p, 'incident.scope', (s) => incidentScope(deps, s, input)),
      /** One message per affected partner from a scope (its JSON); sent over SMTP when `send`. */
      notify: (p: Principal, scope: unknown, o: { lang?: 'de' | 'en'; send?: boolean; sender?: string } = {}) =>
        as(p, 'incident.notify', (s) => notifyPartners(deps, s, scope, o)),
      /** GDPR Art. 33 notification skeleton (Markdown) from a scope and the measures in the ledger. */
      report: (p: Principal, scope: unknown, o: { lang?: 'de' | 'en' } = {}) => as(p, 'incident.report', (s) => art33Report(deps, s, scope, o)),
    },
    /** Canary files (administrators): any read alerts and trips the reader's budget. */
    canaries: {
      mark: (p: Principal, path: string, note?: string) => as(p, 'canary.mark', (s) => canaries.mark(s, path, note)),
      list: (p: Principal) => as(p, 'canary.list', (s) => canaries.list(s)),
      /** Uploads a plausible fictitious billing file at `path` and marks it as a canary. */
      plant: (p: Principal, path: string, note?: string) =>
        as(p, 'canary.plant', async (s) => {
          const body = canaryContent();
          await at(p, 'file.write', path, (w) =>
            uploadStream(
              deps,
              w,
              (async function* () {
                yield body;
              })(),
            ),
          );
          return canaries.mark(s, path, note);
        }),
    },
    /** Download budgets: open trips, lifting them (administrators). */
    budgets: {
      trips: (p: Principal, o?: { all?: boolean }) => as(p, 'budget.list', (s) => budgets.trips(s, o)),
      /** scope: user:LOGIN, org:NAME, global, or a trip id. */
      lift: (p: Principal, scope: string) =>
        as(p, 'budget.lift', async (s) => {
          let key = scope;
          if (scope.startsWith('user:')) key = `user:${(await users.find(scope.slice(5))).id}`;
          else if (scope.startsWith('org:')) key = `org:${(await orgs.find(scope.slice(4))).id}`;
          return budgets.lift(s, key);
        }),
      settings: () => budgets.settings,
    },
    /** Backups (consistent, while serving), the last step of a restore, and full verification of storage and ledger (administrators). */
    backup: {
      create: (p: Principal, o: BackupOptions) => as(p, 'backup.create', (s) => backup.create(s, o)),
      verify: (p: Principal, o?: FullVerifyOptions) => as(p, 'verify.run', (s) => backup.verify(s, o)),
      finishRestore: (p: Principal, summary: RestoreSummary) => as(p, 'backup.restore', (s) => backup.finishRestore(s, summary)),
    },
    /** Lockdown and per-protocol kill switches (administrators). */
    lockdown: {
      status: (p: Principal) => as(p, 'lockdown.status', (s) => lockdown.status(s)),
      set: (p: Principal, input: { mode: string; reason?: string | undefined }) => as(p, 'lockdown.set', (s) => lockdown.set(s, input)),
      setProtocol: (p: Principal, protocol: string, enabled: boolean) => as(p, 'protocol.set', (s) => lockdown.setProtocol(s, protocol, enabled)),
    },
    /** Operations endpoints. */
    ops: {
      /** Whether this principal may read the metrics (administrators); throws PERMISSION_DENIED, recorded, otherwise. */
      metrics: (p: Principal) => as(p, 'metrics.read', async () => undefined),
    },
    setup: {
      /** True once a first administrator exists. */
      initialized: isInitialized,
      /**
       * Creates the first administrator (local setup: the system principal only). MUST do nothing
       * once any administrator exists: there is no setup path left open after setup.
       */
      createFirstAdmin: (p: Principal, login: string, password?: string) =>
        as(p, 'setup.init', async (s): Promise<{ created: boolean; password?: string }> => {
          if (await isInitialized()) return { created: false };
          const r = await users.create(
            s,
            { login, role: 'admin', ...(password !== undefined ? { password } : {}) },
            { generatePassword: password === undefined },
          );
          return { created: true, ...(r.password ? { password: r.password } : {}) };
        }),
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
