/**
 * PostgreSQL: the service runs as a role that may only INSERT into the ledger.
 *
 * The schema belongs to an owner role (it runs the migrations, through SLUICE_DATABASE_MIGRATE_URL).
 * The service connects with SLUICE_DATABASE_URL as another role, which this module grants:
 *   - the ledger tables (audit_events, audit_checkpoints): SELECT and INSERT only — no UPDATE,
 *     DELETE or TRUNCATE; and as it does not own them it cannot ALTER them, drop or disable the
 *     append-only triggers (migration 005), or change these grants;
 *   - every other table of the schema: SELECT, INSERT, UPDATE, DELETE (not TRUNCATE, not DDL);
 *   - the migration bookkeeping: SELECT only (the service checks the schema is current).
 * Someone who gets the service's database connection (the MOVEit way, through an injectable
 * query) still cannot rewrite or delete a recorded event.
 *
 * Identifiers are never spliced into SQL here: the owner installs a fixed PL/pgSQL function and
 * calls it with the role name as a bound parameter; the function quotes it with format('%I').
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../ports/db-schema.js';
import { CoreError } from '../../ports/errors.js';
import { migrations } from './migrations.js';

export const LEDGER_TABLES = ['audit_events', 'audit_checkpoints'] as const;

const ROLE_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Grants `role` exactly the rights the service needs (see above), revoking anything else it had
 * on the schema's tables first, so running it again after new migrations brings it up to date.
 * MUST run on a connection of the schema's owner. Refuses a role that owns the tables or is a
 * superuser: such a role could undo any grant.
 */
export async function grantServiceRole(owner: Kysely<Database>, role: string): Promise<void> {
  if (!ROLE_RE.test(role)) throw new CoreError('INVALID_INPUT', 'the service role name must be a plain lower-case PostgreSQL identifier');
  const info = await sql<{ rolsuper: boolean; owns: boolean }>`
    SELECT r.rolsuper,
           EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = current_schema() AND t.tableowner = r.rolname) AS owns
    FROM pg_roles r WHERE r.rolname = ${role}`.execute(owner);
  const r = info.rows[0];
  if (!r) throw new CoreError('INVALID_INPUT', `the database role "${role}" does not exist`);
  if (r.rolsuper || r.owns) {
    throw new CoreError('INVALID_INPUT', `the service role "${role}" is a superuser or owns the tables: the service must run as a separate, ordinary role`);
  }
  await sql`CREATE OR REPLACE FUNCTION sluice_grant_service_role(target name) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE t record;
    BEGIN
      EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), target);
      FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
        EXECUTE format('REVOKE ALL ON TABLE %I FROM %I', t.tablename, target);
        IF t.tablename IN ('audit_events', 'audit_checkpoints') THEN
          EXECUTE format('GRANT SELECT, INSERT ON TABLE %I TO %I', t.tablename, target);
        ELSIF t.tablename LIKE 'kysely\\_migration%' THEN
          EXECUTE format('GRANT SELECT ON TABLE %I TO %I', t.tablename, target);
        ELSE
          EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I TO %I', t.tablename, target);
        END IF;
      END LOOP;
    END $$`.execute(owner);
  await sql`SELECT sluice_grant_service_role(${role})`.execute(owner);
}

/** The role a connection runs as. */
export async function currentRole(db: Kysely<Database>): Promise<string> {
  const r = await sql<{ role: string }>`SELECT current_user AS role`.execute(db);
  return r.rows[0]!.role;
}

/** True when every migration is recorded as done (false also when there is no schema yet). */
export async function schemaIsCurrent(db: Kysely<Database>): Promise<boolean> {
  try {
    await assertSchemaCurrent(db);
    return true;
  } catch {
    return false;
  }
}

/**
 * For a service connection that may not migrate: fails with a clear message when the schema is
 * missing migrations (they must be run by the owner first).
 */
export async function assertSchemaCurrent(db: Kysely<Database>): Promise<void> {
  let done: Set<string>;
  try {
    const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(db);
    done = new Set(rows.rows.map((x) => x.name));
  } catch (e) {
    throw new CoreError('UNAVAILABLE', 'the database has no Sluice schema yet: run the migrations with the owner role (SLUICE_DATABASE_MIGRATE_URL)', {
      cause: e,
    });
  }
  const unknown = [...done].filter((n) => !(n in migrations));
  if (unknown.length > 0) throw new CoreError('UNAVAILABLE', 'the database schema is newer than this Sluice: upgrade Sluice');
  const pending = Object.keys(migrations).filter((n) => !done.has(n));
  if (pending.length > 0) {
    throw new CoreError(
      'UNAVAILABLE',
      `the database schema is behind (${pending.length} migration(s) pending): run them with the owner role (SLUICE_DATABASE_MIGRATE_URL)`,
    );
  }
}
