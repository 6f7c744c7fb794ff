/**
 * Opens the database chosen by configuration: SQLite (embedded default, better-sqlite3) or
 * PostgreSQL (pg pool), and runs the migrations. Only the composition root and the test setup
 * call this; the core receives the resulting Kysely instance.
 */
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import type { Database } from '../../ports/db-schema.js';
import { migrationProvider } from './migrations.js';
import { withStatementCache } from './sqlite-statements.js';
import { assertSchemaCurrent, currentRole, grantServiceRole, schemaIsCurrent } from './roles.js';
import { CoreError } from '../../ports/errors.js';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenedDb {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  close(): Promise<void>;
}

// int8 (bigint) values are sizes and millisecond timestamps, all below 2^53: read them as numbers.
const pgTypesOf = (types: { getTypeParser: unknown }) => ({
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => Number(v);
    return (types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
  },
});

export async function openDatabase(opts: {
  url?: string | undefined;
  sqlitePath: string;
  poolSize?: number;
  onIdleError?: (e: Error) => void;
  /** false: leave the schema as it is (restore migrates step by step). */ migrate?: boolean;
}): Promise<OpenedDb> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (opts.url && /^postgres(ql)?:\/\//.test(opts.url)) {
    // Loaded only when used: an embedded (SQLite) instance does not carry the pg driver in memory.
    const pg = (await import('pg')).default;
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, types: pgTypesOf(pg.types) as never });
    // An idle client that loses its connection (database restart, network) emits 'error' on the
    // pool; without a listener that would be an uncaught exception. The pool replaces the client.
    pool.on('error', (e) => opts.onIdleError?.(e));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
  } else if (opts.url) {
    throw new CoreError('INVALID_INPUT', 'SLUICE_DATABASE_URL must start with postgres:// (leave it unset for SQLite)');
  } else {
    fs.mkdirSync(path.dirname(opts.sqlitePath), { recursive: true, mode: 0o700 });
    const sqlite = new SQLite(opts.sqlitePath);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 10000');
    try {
      fs.chmodSync(opts.sqlitePath, 0o600);
    } catch {
      /* best effort */
    }
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    dialect = 'sqlite';
  }
  if (opts.migrate !== false) await migrate(db);
  return { db, dialect, close: () => db.destroy() };
}

/**
 * Opens the service's database. With `migrateUrl` (PostgreSQL only) the migrations run through
 * that connection (the schema owner's), which then grants the service's own role — the role of
 * `url` — exactly what it needs (roles.ts: the ledger insert-only); the owner connection is closed
 * before this returns, so the running service never holds it.
 */
export async function openServiceDatabase(opts: {
  url?: string | undefined;
  migrateUrl?: string | undefined;
  sqlitePath: string;
  poolSize?: number;
  onIdleError?: (e: Error) => void;
}): Promise<OpenedDb> {
  if (!opts.migrateUrl) return openDatabase(opts);
  if (!opts.url)
    throw new CoreError(
      'INVALID_INPUT',
      'SLUICE_DATABASE_MIGRATE_URL needs SLUICE_DATABASE_URL (PostgreSQL): the service role connects with SLUICE_DATABASE_URL',
    );
  const owner = await openDatabase({ url: opts.migrateUrl, sqlitePath: opts.sqlitePath, poolSize: 1 });
  try {
    const service = await openDatabase({ ...opts, migrate: false });
    try {
      await grantServiceRole(owner.db, await currentRole(service.db));
      await assertSchemaCurrent(service.db);
      return service;
    } catch (e) {
      await service.close();
      throw e;
    }
  } finally {
    await owner.close();
  }
}

/** Brings the schema up to date. A current schema is left alone without taking the migration lock, so a service role without DDL rights can start. */
export async function migrate(db: Kysely<Database>): Promise<void> {
  if (await schemaIsCurrent(db)) return;
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error } = await migrator.migrateToLatest();
  if (error) throw new CoreError('UNAVAILABLE', 'database migration failed', { cause: error });
}
