/**
 * The typed database schema. The core reaches the database only through Kysely with these
 * types: every query is built by the query builder with bound parameters. Timestamps are
 * milliseconds since the epoch; booleans are 0/1; JSON columns are text.
 */
import type { ColumnType, Kysely, Selectable } from 'kysely';

export const ROOT_FOLDER_ID = '00000000-0000-7000-8000-000000000000';
/** prev_hash of the first ledger event. */
export const GENESIS_HASH = '0'.repeat(64);
/** sha256 of the empty string: the root folder's path_key is ''. */
export const ROOT_PATH_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface OrgTable {
  id: string;
  name: string;
  name_key: string;
  ik: string | null;
  betriebsnummer: string | null;
  contacts: string; // JSON array of {name?, email, role?}
  quota_bytes: number | null;
  /** Bytes of the organisation's files, kept by the transactions that add, remove or move them (core/files/usage.ts). */
  used_bytes: ColumnType<number, number | undefined, number>;
  /** Download budget overrides for the organisation scope (null: the configured default). */
  budget_files: number | null;
  budget_bytes: number | null;
  status: string; // active | disabled
  created_at: number;
}

export interface UserTable {
  id: string;
  login: string; // canonical lowercase
  org_id: string | null;
  role: string; // partner | staff | admin
  status: string; // active | disabled | decoy (a trap account: any sign-in attempt alerts)
  display_name: string | null;
  email: string | null;
  password_hash: string | null;
  password_changed_at: number | null;
  failed_logins: number;
  locked_until: number | null;
  last_login_at: number | null;
  expires_at: number | null;
  created_at: number;
  /** Two-factor sign-in: null (off) | pending (enrolment started, not confirmed) | active. */
  mfa_state: string | null;
  /** The TOTP secret sealed with a key-encryption key (core/auth/totp.ts); never the plain secret. */
  totp_secret: string | null;
  /** The last TOTP time step accepted (a code works once). */
  totp_last_step: number | null;
  /** When mfa_state last changed. */
  mfa_changed_at: number | null;
  /** Unused recovery codes: JSON array of their hashes (core/auth/totp.ts); null when none were made. */
  mfa_recovery: string | null;
}

export interface SshKeyTable {
  id: string;
  user_id: string;
  algorithm: string;
  fingerprint: string; // SHA256:base64, as OpenSSH prints it
  public_key: string; // "algo base64" without comment
  comment: string | null;
  created_at: number;
}

export interface FolderTable {
  id: string;
  parent_id: string | null; // null only for the root row
  path: string; // display path, '/' for the root
  path_key: string; // comparison path of name keys, '' for the root
  path_hash: string; // sha256 hex of path_key (fixed-size unique index)
  name: string;
  name_key: string;
  org_id: string | null; // owning organisation (quota), inherited from the parent at creation
  created_at: number;
  created_by: string | null;
}

export interface FileTable {
  id: string;
  folder_id: string;
  name: string;
  name_key: string;
  size: number;
  sha256: string;
  blob_key: string;
  org_id: string | null; // owning organisation of the folder at upload time (quota)
  uploaded_by: string | null;
  uploaded_by_login: string | null;
  created_at: number;
  modified_at: number;
  metadata: string; // JSON object
  /** 1: the sealed bytes are in blob_inline (small files), 0: in the blob store under blob_key. */
  stored_inline: number;
}

/** Small files' sealed bytes (same SLC1 format as in the blob store), base64, committed with their file row. */
export interface BlobInlineTable {
  blob_key: string;
  sealed: string;
}

export interface GrantTable {
  id: string;
  folder_id: string;
  subject_type: string; // user | org
  subject_id: string;
  permissions: string; // canonical comma list, e.g. "list,read,write"
  created_at: number;
  created_by: string | null;
}

export interface TokenTable {
  id: string;
  user_id: string;
  name: string | null;
  secret_hash: string; // sha256 hex of the secret part
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface SessionTable {
  id_hash: string; // sha256 hex of the cookie value
  /** Public id (sessions list, ending one); null only before migration 012 filled it. */
  id: string | null;
  user_id: string;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
  remote_addr: string | null;
  /** Client software (user agent) at sign-in, truncated. */
  client: string | null;
}

export interface PasskeyTable {
  id: string; // credential id, base64url
  user_id: string;
  name: string;
  public_key: string; // COSE public key, base64url
  counter: number;
  transports: string; // JSON array
  backed_up: number;
  created_at: number;
  last_used_at: number | null;
}

export interface WebauthnChallengeTable {
  id: string;
  challenge: string;
  purpose: 'register' | 'login' | 'second';
  user_id: string | null;
  created_at: number;
  expires_at: number;
}

export interface OidcIdentityTable {
  issuer: string;
  subject: string;
  user_id: string;
  created_at: number;
  last_login_at: number | null;
}

export interface OidcFlowTable {
  id: string;
  data: string; // JSON { state, nonce, verifier }
  created_at: number;
  expires_at: number;
}

export interface BlobPendingTable {
  blob_key: string;
  kind: string; // upload | delete
  node_id: string;
  created_at: number;
}

/** A resumable (tus) upload in progress, or finished and kept until it expires (core/files/resumable.ts). */
export interface UploadTable {
  id: string;
  user_id: string;
  /** The target file's path, as parsed and formatted by the core. */
  path: string;
  /** Declared size (Upload-Length). */
  total: number;
  /** Bytes committed in parts so far (the upload's offset). */
  received: number;
  /** Number of committed parts (the next part's seq). */
  parts: number;
  /** JSON { tus: raw Upload-Metadata, file: file metadata } */
  metadata: string;
  state: string; // open | done
  file_id: string | null;
  created_at: number;
  expires_at: number;
}

/** One committed part of a resumable upload: bytes [start, start+size) of it, sealed under blob_key. */
export interface UploadPartTable {
  upload_id: string;
  seq: number;
  start: number;
  size: number;
  blob_key: string;
  /** SHA-256 of the part's plaintext (null in rows made before migration 018). */
  sha256: string | null;
}

export interface AuditEventTable {
  seq: number; // 1, 2, 3, … assigned under the chain lock; part of the hash
  ts: number;
  actor_type: string; // user | system | anonymous
  actor_id: string | null;
  actor_login: string | null;
  org_id: string | null;
  protocol: string; // http | sftp | cli | web | system
  remote_addr: string | null;
  action: string;
  target_path: string | null;
  file_id: string | null;
  sha256: string | null;
  bytes: number | null;
  outcome: string; // success | failure | denied
  detail: string; // JSON object
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number; // always 1
  seq: number;
  hash: string;
}

export interface AuditCheckpointTable {
  seq: number;
  hash: string;
  ts: number;
  key_id: string;
  signature: string; // Ed25519, base64
}

export interface BudgetUsageTable {
  scope: string; // user:<id> | org:<id> | global
  bucket: number; // window start, ms
  files: number;
  bytes: number;
}

export interface BudgetTripTable {
  id: string;
  scope: string;
  tripped_at: number;
  detail: string; // JSON
  lifted_at: number | null;
  lifted_by: string | null;
}

export interface CanaryTable {
  file_id: string;
  planted_at: number;
  planted_by: string | null;
  note: string | null;
}

export interface SettingTable {
  key: string;
  value: string;
}

export interface Database {
  orgs: OrgTable;
  users: UserTable;
  ssh_keys: SshKeyTable;
  folders: FolderTable;
  files: FileTable;
  grants: GrantTable;
  tokens: TokenTable;
  sessions: SessionTable;
  passkeys: PasskeyTable;
  webauthn_challenges: WebauthnChallengeTable;
  oidc_identities: OidcIdentityTable;
  oidc_flows: OidcFlowTable;
  blob_pending: BlobPendingTable;
  uploads: UploadTable;
  upload_parts: UploadPartTable;
  blob_inline: BlobInlineTable;
  audit_events: AuditEventTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointTable;
  budget_usage: BudgetUsageTable;
  budget_trips: BudgetTripTable;
  canaries: CanaryTable;
  settings: SettingTable;
}

export type Db = Kysely<Database>;
export type OrgRow = Selectable<OrgTable>;
export type UserRow = Selectable<UserTable>;
export type FolderRow = Selectable<FolderTable>;
export type FileRow = Selectable<FileTable>;
export type GrantRow = Selectable<GrantTable>;
export type TokenRow = Selectable<TokenTable>;
export type AuditEventRow = Selectable<AuditEventTable>;
