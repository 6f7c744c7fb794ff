/**
 * The core's public face: the only module front ends (HTTP, SFTP, CLI, web) may import besides
 * errors.ts. Everything that reads or changes data goes through the object createCore returns;
 * every operation takes a Principal, which only `core.auth` can create.
 */
import type { CoreDeps } from './deps.js';
import { createHasher } from './auth/passwords.js';
import { createAuthenticator, systemPrincipal } from './auth/authenticate.js';
import { createOrgAdmin } from './admin/orgs.js';
import { createUserAdmin } from './admin/users.js';
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
import { sweepBlobs } from './files/blobs.js';
import { verifyLedger } from './audit/ledger.js';
import { listEvents, type AuditFilter } from './audit/query.js';
import { requireAdmin } from './admin/require-admin.js';
import { CoreError } from './errors.js';
import type { Principal, Role } from './principal.js';
import { assertPrincipal } from './files/guard.js';

export { CoreError, isCoreError, ERROR_CODES, type ErrorCode } from './errors.js';
export type { Principal, RequestContext, Protocol, Role } from './principal.js';
export type { EntryInfo } from './files/resolve.js';
export type { ListPage, ListOptions } from './files/list.js';
export type { Download, DownloadRequest } from './files/open-download.js';
export type { UploadHandle, UploadOptions } from './files/open-upload.js';
export type { Org, Contact } from './admin/orgs.js';
export type { User } from './admin/users.js';
export type { SshKey } from './admin/keys.js';
export type { Grant } from './admin/grants.js';
export type { TokenInfo } from './admin/tokens.js';
export type { FolderSummary } from './admin/folders.js';
export type { VerifyResult } from './audit/ledger.js';
export type { AuditEvent, AuditFilter } from './audit/query.js';
export { PERMISSIONS, type Permission } from './access/permissions.js';
export type { CoreDeps, CoreSettings } from './deps.js';

/**
 * Builds the core. Returns the core object (what front ends receive) and, separately, the
 * factory for the system principal, which only the composition root keeps (for the CLI).
 */
export function createCore(deps: CoreDeps) {
  const core = buildCore(deps);
  return { core, systemPrincipal };
}

function buildCore(deps: CoreDeps) {
  const hasher = createHasher(deps.settings.hashConcurrency);
  const auth = createAuthenticator(deps, hasher);
  const orgs = createOrgAdmin(deps);
  const users = createUserAdmin(deps, hasher, orgs.find);
  const finders = { user: users.find, org: orgs.find };

  return {
    auth,
    files: {
      list: (p: Principal, path: string, opts?: Parameters<typeof listFolder>[3]) => listFolder(deps, p, path, opts),
      stat: (p: Principal, path: string) => statPath(deps, p, path),
      openUpload: (p: Principal, path: string, opts?: Parameters<typeof openUpload>[3]) => openUpload(deps, p, path, opts),
      upload: (p: Principal, path: string, source: AsyncIterable<Uint8Array>, opts?: Parameters<typeof uploadStream>[4]) => uploadStream(deps, p, path, source, opts),
      openDownload: (p: Principal, path: string, req?: Parameters<typeof openDownload>[3]) => openDownload(deps, p, path, req),
      mkdir: (p: Principal, path: string) => mkdir(deps, p, path),
      remove: (p: Principal, path: string, opts?: Parameters<typeof remove>[3]) => remove(deps, p, path, opts),
      rename: (p: Principal, from: string, to: string, opts?: Parameters<typeof rename>[4]) => rename(deps, p, from, to, opts),
    },
    admin: {
      orgs: { create: orgs.create, list: orgs.list, get: orgs.get, update: orgs.update },
      users: { create: users.create, list: users.list, get: users.get, update: users.update },
      keys: createKeyAdmin(deps, users.find),
      grants: createGrantAdmin(deps, finders),
      tokens: createTokenAdmin(deps, users.find),
      folders: createFolderAdmin(deps, orgs.find),
    },
    account: {
      /** The principal's own identity for display (web app header, GET /auth/me): login, role, organisation name. */
      async me(p: Principal): Promise<{ login: string; role: Role; org: string | null }> {
        assertPrincipal(p);
        const org = p.orgId ? await deps.db.selectFrom('orgs').select('name').where('id', '=', p.orgId).executeTakeFirst() : undefined;
        return { login: p.login, role: p.role, org: org?.name ?? null };
      },
    },
    audit: {
      async verify(p: Principal, onProgress?: (done: number, total: number) => void) {
        await requireAdmin(deps, p, 'audit.verify');
        return verifyLedger(deps.db, onProgress);
      },
      /** Ledger events, oldest first (administrators); the query itself is recorded. */
      events: (p: Principal, filter: AuditFilter = {}) => listEvents(deps, p, filter),
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
        const r = await users.create(p, { login, role: 'admin', ...(password !== undefined ? { password } : {}) }, { generatePassword: password === undefined });
        return { created: true, ...(r.password ? { password: r.password } : {}) };
      },
    },
    maintenance: {
      /** Start-up recovery of interrupted uploads and deletions. */
      sweep: () => sweepBlobs(deps),
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
