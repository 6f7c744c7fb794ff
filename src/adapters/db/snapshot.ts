/**
 * Database access for backup and restore (ports/backup.ts).
 *
 * Snapshots (backup): one consistent, read-only view of the whole database while the server keeps
 * writing.
 * - SQLite: a second connection of its own (read-only) on the database file, in one read
 *   transaction. In WAL mode a reader's snapshot is fixed at its first read and writers go on
 *   meanwhile; using a connection of its own also keeps the snapshot from holding the shared
 *   connection (better-sqlite3 is one connection per Kysely instance), so this process's own writes
 *   (ledger events, the backup lease) are not blocked behind it.
 * - PostgreSQL: one REPEATABLE READ, READ ONLY transaction from the pool: every statement sees the
 *   snapshot taken at its first query.
 *
 * Restore targets: the database opened without migrating, so the restore can bring the schema to
 * exactly the backup's version, import, and then migrate to the latest version.
 */
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import type { Database } from '../../ports/db-schema.js';
import type { DbSnapshot, DbSnapshots, RestoreDb } from '../../ports/backup.js';
import { migrationProvider, migrations } from './migrations.js';
import { openDatabase } from './connect.js';
import { CoreError } from '../../ports/errors.js';

/** Kysely's own bookkeeping table (its default name). */
interface MigrationTables {
  kysely_migration: { name: string; timestamp: string };
}

async function appliedIn(db: Kysely<Database>): Promise<string[]> {
  const rows = await (db as unknown as Kysely<MigrationTables>).selectFrom('kysely_migration').select('name').orderBy('name').execute();
  return rows.map((r) => r.name);
}

export function createSnapshots(opts: { dialect: 'sqlite' | 'postgres'; db: Kysely<Database>; sqlitePath: string }): DbSnapshots {
  if (opts.dialect === 'postgres') {
    return {
      read: (fn) =>
        opts.db
          .transaction()
          .setIsolationLevel('repeatable read')
          .setAccessMode('read only')
          .execute(async (trx) => {
            const s: DbSnapshot = { db: trx, migrations: await appliedIn(trx) };
            return fn(s);
          }),
    };
  }
  return {
    async read(fn) {
      const conn = new SQLite(opts.sqlitePath, { readonly: true, fileMustExist: true });
      conn.pragma('busy_timeout = 10000');
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: conn }) });
      try {
        // BEGIN (deferred): the snapshot is fixed by the first SELECT, here the migration list.
        return await db.transaction().execute(async (trx) => {
          const s: DbSnapshot = { db: trx, migrations: await appliedIn(trx) };
          return fn(s);
        });
      } finally {
        await db.destroy();
      }
    },
  };
}

/** Opens the database a restore writes into, without migrating it. */
export async function openRestoreDatabase(opts: { url?: string | undefined; sqlitePath: string; onIdleError?: (e: Error) => void }): Promise<RestoreDb> {
  const { db, dialect, close } = await openDatabase({ ...opts, migrate: false });
  const migrator = new Migrator({ db, provider: migrationProvider });
  return {
    db,
    dialect,
    known: Object.keys(migrations).sort(),
    async applied() {
      const all = await migrator.getMigrations();
      return all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
    },
    async migrateTo(name) {
      const { error } = name === 'latest' ? await migrator.migrateToLatest() : await migrator.migrateTo(name);
      if (error) throw new CoreError('UNAVAILABLE', 'database migration failed', { cause: error });
    },
    close,
  };
}
