/**
 * Ports for backup, restore and full verification (core/backup). Backups are logical (one JSONL
 * file per table) and copy blobs as ciphertext, so the core needs two things it otherwise never
 * sees: a consistent read-only snapshot of the whole database, and the raw object store beneath
 * the encrypted one. Only the composition root (app/instance.ts) builds these.
 */
import type { Kysely } from 'kysely';
import type { Database } from './db-schema.js';
import type { BlobStore } from './blob-store.js';

/** One consistent, read-only view of the whole database. */
export interface DbSnapshot {
  /**
   * Every query through this handle sees the same committed state (SQLite: one read transaction
   * on a connection of its own, WAL; PostgreSQL: one REPEATABLE READ, READ ONLY transaction),
   * however long the export takes and whatever is written meanwhile. MUST NOT be used to write.
   */
  readonly db: Kysely<Database>;
  /** Names of the schema migrations applied to the database, in order. */
  readonly migrations: readonly string[];
}

export interface DbSnapshots {
  /** Runs `fn` inside one snapshot; the snapshot ends when `fn` settles. */
  read<T>(fn: (s: DbSnapshot) => Promise<T>): Promise<T>;
}

/** What `core.backup.create` needs besides the core's usual dependencies. */
export interface BackupPorts {
  readonly snapshots: DbSnapshots;
  /** The object store under the encrypted store: backups copy ciphertext, never plaintext. */
  readonly rawBlobs: BlobStore;
  /** The directory holding key-encryption keys, ledger signing keys and SSH host keys. */
  readonly keysDir: string;
  /** The ledger's JSONL anchor file, when it is configured (copied into the backup). */
  readonly anchorFile?: string | undefined;
  /** Stored (sealed) size of a blob whose plaintext has `plainSize` bytes, when the store can tell. */
  readonly storedSize?: ((plainSize: number) => number) | undefined;
  /** Sluice version, recorded in the manifest. */
  readonly version: string;
}

/** A database to restore into: opened, not yet migrated (or migrated but empty). */
export interface RestoreDb {
  readonly db: Kysely<Database>;
  readonly dialect: 'sqlite' | 'postgres';
  /** Migrations this version of Sluice knows, in order. */
  readonly known: readonly string[];
  /** Migrations already applied to the database, in order. */
  applied(): Promise<string[]>;
  /** Applies migrations up to and including `name` (or all of them with 'latest'). */
  migrateTo(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Where `restoreBackup` builds the new instance. */
export interface RestoreTarget {
  /** MUST throw CoreError CONFLICT unless the data directory is missing or empty. */
  assertEmpty(): void;
  /** Creates the data directory (0700) and opens the database without migrating it. */
  openDatabase(): Promise<RestoreDb>;
  /** The new instance's raw object store (ciphertext is written as it was backed up). */
  readonly rawBlobs: BlobStore;
  /** Where the key files go (created 0700; files 0600, public keys 0644). */
  readonly keysDir: string;
  /** Where the ledger's JSONL anchor goes; restored only when no such file exists yet. */
  readonly anchorFile?: string | undefined;
  /** After a failure: removes everything the restore created in the data directory. */
  discard(): Promise<void>;
}
