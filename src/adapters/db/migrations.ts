/**
 * Schema migrations. They run unchanged on SQLite and PostgreSQL: only the schema builder is
 * used, with portable column types (text, integer, bigint).
 */
import { PostgresAdapter, sql, type ExpressionBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';

import { GENESIS_HASH, ROOT_FOLDER_ID, ROOT_PATH_HASH } from '../../ports/db-schema.js';

const m001: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('orgs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull().unique())
      .addColumn('ik', 'text')
      .addColumn('betriebsnummer', 'text')
      .addColumn('contacts', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('quota_bytes', 'bigint')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('orgs_ik').on('orgs').column('ik').execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('login', 'text', (c) => c.notNull().unique())
      .addColumn('org_id', 'text', (c) => c.references('orgs.id'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('display_name', 'text')
      .addColumn('email', 'text')
      .addColumn('password_hash', 'text')
      .addColumn('password_changed_at', 'bigint')
      .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', 'bigint')
      .addColumn('last_login_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('users_org').on('users').column('org_id').execute();

    await db.schema
      .createTable('ssh_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('ssh_keys_user_fp', ['user_id', 'fingerprint'])
      .execute();

    await db.schema
      .createTable('folders')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('parent_id', 'text', (c) => c.references('folders.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('path_key', 'text', (c) => c.notNull())
      .addColumn('path_hash', 'text', (c) => c.notNull().unique())
      .addColumn('org_id', 'text', (c) => c.references('orgs.id'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addUniqueConstraint('folders_parent_name', ['parent_id', 'name_key'])
      .execute();

    await db.schema
      .createTable('files')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('folder_id', 'text', (c) => c.notNull().references('folders.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('blob_key', 'text', (c) => c.notNull().unique())
      .addColumn('org_id', 'text')
      .addColumn('uploaded_by', 'text')
      .addColumn('uploaded_by_login', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('modified_at', 'bigint', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
      .addUniqueConstraint('files_folder_name', ['folder_id', 'name_key'])
      .execute();
    await db.schema.createIndex('files_org').on('files').column('org_id').execute();

    await db.schema
      .createTable('grants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('folder_id', 'text', (c) => c.notNull().references('folders.id').onDelete('cascade'))
      .addColumn('subject_type', 'text', (c) => c.notNull())
      .addColumn('subject_id', 'text', (c) => c.notNull())
      .addColumn('permissions', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addUniqueConstraint('grants_folder_subject', ['folder_id', 'subject_type', 'subject_id'])
      .execute();
    await db.schema.createIndex('grants_subject').on('grants').columns(['subject_type', 'subject_id']).execute();

    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text')
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('last_used_at', 'bigint')
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('remote_addr', 'text')
      .execute();

    await db.schema
      .createTable('blob_pending')
      .addColumn('blob_key', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('audit_events')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('actor_type', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text')
      .addColumn('actor_login', 'text')
      .addColumn('org_id', 'text')
      .addColumn('protocol', 'text', (c) => c.notNull())
      .addColumn('remote_addr', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target_path', 'text')
      .addColumn('file_id', 'text')
      .addColumn('sha256', 'text')
      .addColumn('bytes', 'bigint')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('detail', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_ts').on('audit_events').column('ts').execute();
    await db.schema.createIndex('audit_actor_ts').on('audit_events').columns(['actor_id', 'ts']).execute();
    await db.schema.createIndex('audit_file').on('audit_events').column('file_id').execute();
    await db.schema.createIndex('audit_addr_ts').on('audit_events').columns(['remote_addr', 'ts']).execute();

    await db.schema
      .createTable('audit_head')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();

    await db.insertInto('audit_head').values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();
    await db
      .insertInto('folders')
      .values({
        id: ROOT_FOLDER_ID,
        parent_id: null,
        name: '',
        name_key: '',
        path: '/',
        path_key: '',
        path_hash: ROOT_PATH_HASH,
        org_id: null,
        created_at: 0,
        created_by: null,
      })
      .execute();
  },
};

/** Signed checkpoints of the ledger (the private key is outside the database). */
const m002: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .execute();
  },
};

/** Download budgets: usage per scope and time bucket, trips until lifted, per-organisation overrides. */
const m003: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('budget_usage')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('bucket', 'bigint', (c) => c.notNull())
      .addColumn('files', 'bigint', (c) => c.notNull())
      .addColumn('bytes', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('budget_usage_pk', ['scope', 'bucket'])
      .execute();
    await db.schema
      .createTable('budget_trips')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('tripped_at', 'bigint', (c) => c.notNull())
      .addColumn('detail', 'text', (c) => c.notNull())
      .addColumn('lifted_at', 'bigint')
      .addColumn('lifted_by', 'text')
      .execute();
    await db.schema.createIndex('budget_trips_scope').on('budget_trips').columns(['scope', 'lifted_at']).execute();
    await db.schema.alterTable('orgs').addColumn('budget_files', 'bigint').execute();
    await db.schema.alterTable('orgs').addColumn('budget_bytes', 'bigint').execute();
  },
};

/** Canary files: any read alerts at once. */
const m004: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('canaries')
      .addColumn('file_id', 'text', (c) => c.primaryKey())
      .addColumn('planted_at', 'bigint', (c) => c.notNull())
      .addColumn('planted_by', 'text')
      .addColumn('note', 'text')
      .execute();
  },
};

/**
 * PostgreSQL: the ledger tables are append-only for the service's role. Triggers refuse UPDATE,
 * DELETE and TRUNCATE of events and checkpoints unless the current role is a superuser — so the
 * connection Sluice runs with (which must not be a superuser in production) can only insert into
 * the ledger, whatever code issues the statement, while a database administrator keeps the
 * ability to repair or investigate. SQLite has no roles: there the file's mode (0600), the hash
 * chain, the signatures and the external sink protect the ledger. (Static SQL, no values.)
 */
const m005: Migration = {
  async up(db: Kysely<any>) {
    if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
    await sql`CREATE OR REPLACE FUNCTION sluice_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
          RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        RAISE EXCEPTION 'the ledger is append-only';
      END $$`.execute(db);
    await sql`CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION sluice_ledger_append_only()`.execute(
      db,
    );
    await sql`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION sluice_ledger_append_only()`.execute(
      db,
    );
    await sql`CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION sluice_ledger_append_only()`.execute(
      db,
    );
    await sql`CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION sluice_ledger_append_only()`.execute(
      db,
    );
  },
};

/** Two-factor sign-in (TOTP): state, the sealed secret and the last accepted time step per user. */
const m006: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('users').addColumn('mfa_state', 'text').execute();
    await db.schema.alterTable('users').addColumn('totp_secret', 'text').execute();
    await db.schema.alterTable('users').addColumn('totp_last_step', 'bigint').execute();
    await db.schema.alterTable('users').addColumn('mfa_changed_at', 'bigint').execute();
  },
};

/**
 * Ledger indexes for audit queries and incident scope at tens of millions of events (W9). Each
 * lookup index ends in seq, the order every ledger query returns: events of a user or an address
 * in a window are found as (key, ts, seq) entries without reading the rows, the page of the
 * oldest is cut there, and only its rows are read; events of a file come in seq order from
 * (file_id, seq), so a page stops after its limit. They replace the shorter indexes they extend.
 */
const m007: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('audit_actor_ts_seq').on('audit_events').columns(['actor_id', 'ts', 'seq']).execute();
    await db.schema.createIndex('audit_addr_ts_seq').on('audit_events').columns(['remote_addr', 'ts', 'seq']).execute();
    await db.schema.createIndex('audit_file_seq').on('audit_events').columns(['file_id', 'seq']).execute();
    await db.schema.dropIndex('audit_actor_ts').execute();
    await db.schema.dropIndex('audit_addr_ts').execute();
    await db.schema.dropIndex('audit_file').execute();
  },
};

/** Two-factor recovery codes: the hashes of a user's unused codes (JSON array). */
const m008: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('users').addColumn('mfa_recovery', 'text').execute();
  },
};

/**
 * Ledger lookups the 007 indexes do not serve, which scanned the whole table: by the recorded
 * login (a deleted user has no id left to look up) and by organisation alone. Same shape as
 * 007, ending in seq, so a page's seqs come from the index alone.
 */
const m009: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('audit_login_ts_seq').on('audit_events').columns(['actor_login', 'ts', 'seq']).execute();
    await db.schema.createIndex('audit_org_ts_seq').on('audit_events').columns(['org_id', 'ts', 'seq']).execute();
  },
};

/**
 * Small files in the database. A file of at most one AEAD segment (64 KiB) is sealed in memory and
 * its sealed bytes (base64 text: portable, and a backup exports them like any other row) are
 * inserted in the same transaction as its file row: one durable commit makes it visible, with no
 * file to create, fsync and rename in the blob store and no blob_pending row.
 */
const m010: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('blob_inline')
      .addColumn('blob_key', 'text', (c) => c.primaryKey())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .alterTable('files')
      .addColumn('stored_inline', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};

/**
 * Storage used per organisation as a counter (core/files/usage.ts): the quota check at every
 * upload read a sum over all of the organisation's files. Existing usage is summed once here.
 */
const m011: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('orgs')
      .addColumn('used_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db
      .updateTable('orgs')
      .set((eb: ExpressionBuilder<any, 'orgs'>) => ({
        used_bytes: eb
          .selectFrom('files')
          .select((f: ExpressionBuilder<any, 'files'>) => f.fn.coalesce(f.fn.sum('files.size'), f.lit(0)).as('used'))
          .whereRef('files.org_id', '=', 'orgs.id'),
      }))
      .execute();
  },
};

/**
 * Web sessions get a public id (what the session list shows and what ending one names: the cookie
 * value and its hash never leave the core), the client software and an index by user. Existing
 * sessions get an id derived from their hash.
 */
const m012: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('sessions').addColumn('id', 'text').execute();
    await db.schema.alterTable('sessions').addColumn('client', 'text').execute();
    await sql`update sessions set id = 'ses_' || substr(id_hash, 1, 32) where id is null`.execute(db);
    await db.schema.createIndex('sessions_id').unique().on('sessions').column('id').execute();
    await db.schema.createIndex('sessions_user').on('sessions').columns(['user_id', 'expires_at']).execute();
  },
};

/**
 * WebAuthn passkeys (core/auth/passkeys.ts) and their ceremonies' challenges. Challenges live in
 * the database so a ceremony may end on another node than it started; each row is used once.
 */
const m013: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('passkeys')
      .addColumn('id', 'text', (c) => c.primaryKey()) // credential id, base64url
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull()) // COSE key, base64url
      .addColumn('counter', 'bigint', (c) => c.notNull())
      .addColumn('transports', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('backed_up', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('passkeys_user').on('passkeys').column('user_id').execute();
    await db.schema
      .createTable('webauthn_challenges')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('challenge', 'text', (c) => c.notNull())
      .addColumn('purpose', 'text', (c) => c.notNull()) // register | login | second
      .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webauthn_challenges_expires').on('webauthn_challenges').column('expires_at').execute();
  },
};

/** OpenID Connect: users linked by issuer + subject, and sign-in flows in flight (used once). */
const m014: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('oidc_identities')
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_login_at', 'bigint')
      .addPrimaryKeyConstraint('oidc_identities_pk', ['issuer', 'subject'])
      .execute();
    await db.schema.createIndex('oidc_identities_user').on('oidc_identities').column('user_id').execute();
    await db.schema
      .createTable('oidc_flows')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

/** An IK number and a Betriebsnummer belong to one organisation each (null: none given). */
const m015: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.dropIndex('orgs_ik').execute();
    await db.schema.createIndex('orgs_ik_unique').on('orgs').column('ik').unique().execute();
    await db.schema.createIndex('orgs_betriebsnummer_unique').on('orgs').column('betriebsnummer').unique().execute();
  },
};

/**
 * Ledger lookups of the console's search (core/audit/search.ts) that no index served: by action,
 * by outcome (the denials among millions of successes) and by path. (key, seq), like
 * (file_id, seq): a page in seq order is a range of the index, cut at the cursor. Protocol has
 * no index of its own: five values, each common, so the primary key in seq order finds a page
 * at once (and the other filters narrow it through theirs).
 */
const m016: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('audit_action_seq').on('audit_events').columns(['action', 'seq']).execute();
    await db.schema.createIndex('audit_outcome_seq').on('audit_events').columns(['outcome', 'seq']).execute();
    await db.schema.createIndex('audit_path_seq').on('audit_events').columns(['target_path', 'seq']).execute();
  },
};

/**
 * Resumable uploads (tus, core/files/resumable.ts): an upload in progress and its committed parts,
 * each an ordinary sealed blob. Rows survive a restart; the file becomes visible only when the
 * last part is committed and the whole is sealed into the file's own blob (like a PUT).
 */
const m017: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('uploads')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('total', 'bigint', (c) => c.notNull())
      .addColumn('received', 'bigint', (c) => c.notNull())
      .addColumn('parts', 'integer', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull()) // open | done
      .addColumn('file_id', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('uploads_expires').on('uploads').column('expires_at').execute();
    await db.schema
      .createTable('upload_parts')
      .addColumn('upload_id', 'text', (c) => c.notNull().references('uploads.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('start', 'bigint', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('blob_key', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('upload_parts_pk', ['upload_id', 'seq'])
      .execute();
  },
};

/** The SHA-256 of each resumable upload part: an upload that arrived as one part becomes its file without being read again. */
const m018: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('upload_parts').addColumn('sha256', 'text').execute();
  },
};

export const migrations: Record<string, Migration> = {
  '001_foundation': m001,
  '002_audit_checkpoints': m002,
  '003_download_budgets': m003,
  '004_canaries': m004,
  '005_ledger_append_only': m005,
  '006_totp': m006,
  '007_ledger_query_indexes': m007,
  '008_totp_recovery': m008,
  '009_ledger_login_org_indexes': m009,
  '010_small_files_inline': m010,
  '011_org_usage_counter': m011,
  '012_session_details': m012,
  '013_passkeys': m013,
  '014_oidc': m014,
  '015_org_identifiers_unique': m015,
  '016_ledger_console_indexes': m016,
  '017_resumable_uploads': m017,
  '018_upload_part_sha256': m018,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
