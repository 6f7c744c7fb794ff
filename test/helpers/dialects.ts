/**
 * The database matrix for tests: every suite that touches the database runs once per dialect.
 *
 *   for (const d of DIALECTS) describe(d, () => {
 *     let t: FreshDatabase;
 *     before(async () => { t = await freshDatabase(d); });
 *     after(() => t.cleanup());
 *     it('…', async () => { const { db, close } = await openDatabase({ url: t.url, sqlitePath: t.sqlitePath }); … });
 *   });
 *
 * PostgreSQL is included when SLUICE_TEST_PG_URL is set (scripts/test.mjs starts a throwaway
 * cluster and sets it). Under scripts/test.mjs or in CI it MUST be set: a missing PostgreSQL is an
 * error, never a silently shorter matrix.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export type TestDialect = 'sqlite' | 'postgres';

/** Admin URL of the throwaway cluster (a superuser on its `postgres` database). */
const PG_URL = process.env.SLUICE_TEST_PG_URL || undefined;
/** Set by scripts/test.mjs for the test processes it starts. */
const UNDER_TEST_RUNNER = process.env.SLUICE_TEST_RUNNER === '1';
const IN_CI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

if (!PG_URL && (UNDER_TEST_RUNNER || IN_CI)) {
  throw new Error(
    'SLUICE_TEST_PG_URL is not set, but PostgreSQL is required ' +
      (UNDER_TEST_RUNNER ? 'under scripts/test.mjs' : 'in CI (CI is set)') +
      ': run the suite with `npm test`, which starts a throwaway PostgreSQL cluster',
  );
}

export const DIALECTS: TestDialect[] = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export interface TempDir {
  /** Absolute path of a new, empty directory (mode 0700) under the OS temp dir. */
  readonly path: string;
  /** Removes the directory and everything in it. Safe to call more than once. */
  cleanup(): Promise<void>;
}

/** A fresh temporary directory, e.g. for blobs or a data dir. */
export function tempDir(prefix = 'tmp'): TempDir {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, '-');
  const dir = mkdtempSync(path.join(os.tmpdir(), `sluice-test-${safe}-`));
  return {
    path: dir,
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

export interface FreshDatabase {
  readonly dialect: TestDialect;
  /** postgres: the URL of a new, empty database; sqlite: undefined (use sqlitePath). */
  readonly url: string | undefined;
  /** sqlite: a database file path in a fresh temp dir (not yet created); postgres: unused. */
  readonly sqlitePath: string;
  /** The fresh temp dir holding sqlitePath; free for the test's other files (blobs, keys). */
  readonly dir: string;
  /** Drops the database (postgres, forcibly disconnecting leftovers) and removes the temp dir. */
  cleanup(): Promise<void>;
}

/**
 * A new, empty database of the given dialect, not yet migrated: pass `{ url, sqlitePath }` to
 * openDatabase(), which migrates it.
 */
export async function freshDatabase(dialect: TestDialect): Promise<FreshDatabase> {
  const tmp = tempDir(`db-${dialect}`);
  const sqlitePath = path.join(tmp.path, 'sluice.sqlite');
  if (dialect === 'sqlite') {
    return { dialect, url: undefined, sqlitePath, dir: tmp.path, cleanup: once(tmp.cleanup) };
  }
  if (dialect !== 'postgres') throw new Error(`unknown test dialect: ${String(dialect)}`);
  if (!PG_URL) {
    await tmp.cleanup();
    throw new Error('freshDatabase("postgres") needs SLUICE_TEST_PG_URL (run the suite with `npm test`)');
  }

  // The name is generated here, never taken from input; identifiers cannot be bound parameters.
  const name = `sluice_test_${randomBytes(8).toString('hex')}`;
  try {
    await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  } catch (err) {
    await tmp.cleanup();
    throw err;
  }
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    dialect,
    url: url.toString(),
    sqlitePath,
    dir: tmp.path,
    cleanup: once(async () => {
      try {
        await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      } finally {
        await tmp.cleanup();
      }
    }),
  };
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
