/**
 * The tables a backup exports and a restore imports, in dependency order (a table comes after the
 * tables its foreign keys point at), with the primary key that pages through them.
 *
 * Every table of the schema MUST be listed: the type check below fails when ports/db-schema.ts
 * gains a table that is missing here, and createBackup refuses a database holding a table it does
 * not know (so a migration that adds a table cannot silently drop out of backups).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../ports/db-schema.js';

export interface TableSpec {
  readonly name: keyof Database & string;
  /** Primary key columns: the export pages through the table in this order. */
  readonly key: readonly string[];
  /** A column referencing this table's own key: rows are imported parents first. */
  readonly parent?: string;
  /** Rows that are not exported (state that must not travel to another instance). */
  readonly skip?: (row: Row) => boolean;
}

export type Value = string | number | null;
export type Row = Record<string, Value>;

export const TABLES = [
  { name: 'orgs', key: ['id'] },
  { name: 'users', key: ['id'] },
  { name: 'ssh_keys', key: ['id'] },
  { name: 'folders', key: ['id'], parent: 'parent_id' },
  { name: 'files', key: ['id'] },
  // Small files' sealed bytes travel with the database, not as blob files (files.stored_inline).
  { name: 'blob_inline', key: ['blob_key'] },
  { name: 'grants', key: ['id'] },
  { name: 'tokens', key: ['id'] },
  { name: 'sessions', key: ['id_hash'] },
  { name: 'passkeys', key: ['id'] },
  // Ceremonies in flight live five minutes; a restored instance starts without them.
  { name: 'webauthn_challenges', key: ['id'], skip: () => true },
  { name: 'oidc_identities', key: ['issuer', 'subject'] },
  { name: 'oidc_flows', key: ['id'], skip: () => true },
  { name: 'blob_pending', key: ['blob_key'] },
  // Resumable uploads in progress do not travel: their parts are not copied (only files' blobs
  // are), so a client starts such an upload again after a restore.
  { name: 'uploads', key: ['id'], skip: () => true },
  { name: 'upload_parts', key: ['upload_id', 'seq'], skip: () => true },
  { name: 'audit_events', key: ['seq'] },
  { name: 'audit_head', key: ['id'] },
  { name: 'audit_checkpoints', key: ['seq'] },
  { name: 'budget_usage', key: ['scope', 'bucket'] },
  { name: 'budget_trips', key: ['id'] },
  { name: 'canaries', key: ['file_id'] },
  // The running backup's own lease must not reach the restored instance (it would defer its deletions).
  { name: 'settings', key: ['key'], skip: (r) => typeof r.key === 'string' && r.key.startsWith('backup.lease.') },
] as const satisfies readonly TableSpec[];

// Compile-time completeness: a table in the schema that is not listed above is a type error here.
type Missing = Exclude<keyof Database, (typeof TABLES)[number]['name']>;
const _complete: [Missing] extends [never] ? true : Missing = true;
void _complete;

/** Kysely's bookkeeping tables: never exported, the restore's migrations recreate them. */
export const isMigrationTable = (name: string) => name === 'kysely_migration' || name === 'kysely_migration_lock';

/** The database seen with table and column names only known at run time (names come from TABLES, never from input). */
export type LooseDb = Kysely<Record<string, Row>>;
export const loose = (db: Kysely<Database>): LooseDb => db as unknown as LooseDb;
