/**
 * A real Sluice instance for tests: real database (SQLite or PostgreSQL), real encrypted local
 * store in a temp dir, real core. Returns the system principal and helpers to create users.
 */
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { openInstance, type Instance } from '../../src/app/instance.js';
import type { Principal } from '../../src/core/index.js';
import { freshDatabase, tempDir, type TestDialect } from './dialects.js';

export interface TestInstance extends Omit<Instance, 'system'> {
  readonly dataDir: string;
  readonly system: Principal;
  /** Creates org (if needed) and user with a password; returns a principal for it. */
  user(login: string, opts?: { org?: string; role?: 'partner' | 'staff' | 'admin'; password?: string }): Promise<Principal>;
  cleanup(): Promise<void>;
}

export const TEST_PASSWORD = 'correct horse battery staple';

export async function testInstance(dialect: TestDialect, env: Record<string, string> = {}): Promise<TestInstance> {
  const db = await freshDatabase(dialect);
  const dir = tempDir('sluice-data');
  const config = loadConfig({
    SLUICE_DATA_DIR: dir.path,
    ...(db.url ? { SLUICE_DATABASE_URL: db.url } : {}),
    SLUICE_LOG_LEVEL: 'silent',
    SLUICE_NODE_ID: 'test',
    ...env,
  });
  const inst = await openInstance(config, { create: true, log: pino({ level: 'silent' }) });
  const system = inst.system({ protocol: 'cli' }, 'test');
  return {
    ...inst,
    dataDir: dir.path,
    system,
    async user(login, opts = {}) {
      const role = opts.role ?? 'partner';
      if (opts.org) {
        await inst.core.admin.orgs.create(system, { name: opts.org }).catch((e: { code?: string }) => {
          if (e.code !== 'ALREADY_EXISTS') throw e;
        });
      }
      await inst.core.admin.users.create(system, { login, role, password: opts.password ?? TEST_PASSWORD, ...(opts.org ? { org: opts.org } : {}) });
      return inst.core.auth.password(login, opts.password ?? TEST_PASSWORD, { protocol: 'http', remoteAddr: '127.0.0.1' });
    },
    async cleanup() {
      await inst.close();
      await db.cleanup();
      await dir.cleanup();
    },
  };
}

/**
 * The usual fixture of file tests: organisation `org`, its folder `folder`, partner `login` in it
 * with `permissions` there. Returns the partner's principal.
 */
export async function partnerWithFolder(t: TestInstance, opts: { org: string; folder: string; login: string; permissions: string }): Promise<Principal> {
  await t.core.admin.orgs.create(t.system, { name: opts.org });
  await t.core.admin.folders.create(t.system, opts.folder, { org: opts.org });
  const p = await t.user(opts.login, { org: opts.org });
  await t.core.admin.grants.set(t.system, opts.login, opts.folder, opts.permissions);
  return p;
}
