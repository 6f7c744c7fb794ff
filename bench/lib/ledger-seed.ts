/**
 * A fast, honest seeder for W9: a large ledger with a real hash chain (the ledger's own
 * eventHash, so `sluice audit verify` passes over it), written by multi-row Kysely inserts in big
 * transactions instead of one fsync'd write transaction per event. Each transaction also advances
 * audit_head, so the chain and its head agree at every commit.
 *
 * The traffic is shaped like the insurer's: ~2,000 users in ~1,900 partner organisations (a few
 * with two users), activity Zipf-distributed over users (a handful of data centres do much of
 * it), ~500,000 files (most reads and writes in the user's own organisation's folder), one to
 * three home addresses per user plus shared NAT addresses of data centres, and a stream of
 * unknown addresses guessing passwords; events over 90 days in time order: sign-ins (token,
 * password, public key), failed sign-ins, listings, downloads (file.read + file.read.end, some
 * ranged), uploads, deletes, renames.
 */
import { createHash } from 'node:crypto';
import { PostgresAdapter, sql, type Kysely, type Transaction } from 'kysely';
import { eventHash } from '../../src/core/audit/ledger.js';
import type { AuditEventRow, Database } from '../../src/ports/db-schema.js';
import { ROOT_FOLDER_ID } from '../../src/ports/db-schema.js';

export interface SeedOptions {
  readonly events: number;
  readonly users?: number;
  readonly orgs?: number;
  readonly files?: number;
  readonly days?: number;
  /** The newest event's time; events span [now - days, now). */
  readonly now: number;
  /** Rows per INSERT statement (SQLite: 17 columns × rows ≤ 32,766 bound values). */
  readonly rowsPerInsert: number;
  /** Rows per transaction. */
  readonly rowsPerTx?: number;
  readonly onProgress?: (done: number) => void;
  readonly onIndex?: (name: string, seconds: number) => void;
}

export interface SeedWorld {
  readonly now: number;
  readonly start: number;
  readonly users: readonly { readonly id: string; readonly login: string; readonly orgId: string; readonly ips: readonly string[]; readonly weight: number }[];
  readonly fileIds: (i: number) => string;
  readonly files: number;
  /** Shared data-centre NAT addresses, busiest first. */
  readonly natIps: readonly string[];
  /** Users by activity, heaviest first (indexes into users). */
  readonly byActivity: readonly number[];
}

/** Deterministic PRNG (mulberry32): the same seed gives the same ledger. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex12 = (n: number) => n.toString(16).padStart(12, '0');
const uid = (kind: string, n: number) => `00000000-0000-7000-${kind}-${hex12(n)}`;

/** The synthetic world (users, organisations, addresses, files): cheap, recomputed for queries. */
export function seedWorld(o: { users?: number; orgs?: number; files?: number; days?: number; now: number }): SeedWorld {
  const USERS = o.users ?? 2000;
  const ORGS = o.orgs ?? 1900;
  const FILES = o.files ?? 500_000;
  const days = o.days ?? 90;
  const r = rng(7);
  const natIps = Array.from({ length: 30 }, (_, i) => `100.64.${i}.1`);
  // Zipf (s = 0.8) over a shuffled rank, so heavy users are not simply the first ids.
  const ranks = Array.from({ length: USERS }, (_, i) => i);
  for (let i = ranks.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!];
  }
  const users = Array.from({ length: USERS }, (_, u) => {
    const orgIdx = u < ORGS ? u : (u * 7) % ORGS;
    const n = 1 + (u % 3);
    const ips = Array.from({ length: n }, (_, k) => `10.${(u >> 8) & 255}.${u & 255}.${10 + k}`);
    // Every tenth user is behind a data centre's NAT for half its traffic.
    if (u % 10 === 0) ips.push(natIps[u % natIps.length]!);
    return { id: uid('8000', 0x100000 + u), login: `partner${u}`, orgId: uid('8000', 0x200000 + orgIdx), ips, weight: 1 / Math.pow(ranks[u]! + 1, 0.8) };
  });
  const byActivity = users.map((_, i) => i).sort((a, b) => users[b]!.weight - users[a]!.weight);
  // NAT addresses ordered by the traffic behind them.
  const natLoad = new Map<string, number>();
  users.forEach((u, i) => {
    if (i % 10 === 0) natLoad.set(u.ips.at(-1)!, (natLoad.get(u.ips.at(-1)!) ?? 0) + u.weight);
  });
  return {
    now: o.now,
    start: o.now - days * 86_400_000,
    users,
    fileIds: (i) => uid('9000', i),
    files: FILES,
    natIps: [...natLoad].sort((a, b) => b[1] - a[1]).map(([ip]) => ip),
    byActivity,
  };
}

/** Organisations, their folders, users and files (the rows the scope joins to). */
async function seedDirectory(db: Kysely<Database>, w: SeedWorld, orgs: number): Promise<void> {
  const r = rng(11);
  const t = w.start - 86_400_000;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < orgs; i += 500) {
      const n = Math.min(500, orgs - i);
      await trx
        .insertInto('orgs')
        .values(
          Array.from({ length: n }, (_, k) => ({
            id: uid('8000', 0x200000 + i + k),
            name: `Partner ${i + k}`,
            name_key: `partner ${i + k}`,
            ik: String(100_000_000 + i + k),
            betriebsnummer: null,
            contacts: JSON.stringify([{ email: `security@partner${i + k}.example` }]),
            quota_bytes: null,
            budget_files: null,
            budget_bytes: null,
            status: 'active',
            created_at: t,
          })),
        )
        .execute();
      await trx
        .insertInto('folders')
        .values(
          Array.from({ length: n }, (_, k) => ({
            id: uid('a000', i + k),
            parent_id: ROOT_FOLDER_ID,
            name: `partner-${i + k}`,
            name_key: `partner-${i + k}`,
            path: `/partner-${i + k}`,
            path_key: `partner-${i + k}`,
            path_hash: createHash('sha256')
              .update(`partner-${i + k}`)
              .digest('hex'),
            org_id: uid('8000', 0x200000 + i + k),
            created_at: t,
            created_by: null,
          })),
        )
        .execute();
    }
    for (let i = 0; i < w.users.length; i += 500) {
      await trx
        .insertInto('users')
        .values(
          w.users.slice(i, i + 500).map((u) => ({
            id: u.id,
            login: u.login,
            org_id: u.orgId,
            role: 'partner',
            status: 'active',
            display_name: null,
            email: null,
            password_hash: null,
            password_changed_at: null,
            failed_logins: 0,
            locked_until: null,
            last_login_at: null,
            expires_at: null,
            created_at: t,
            mfa_state: null,
            totp_secret: null,
            totp_last_step: null,
            mfa_changed_at: null,
          })),
        )
        .execute();
    }
    for (let i = 0; i < w.files; i += 1000) {
      const n = Math.min(1000, w.files - i);
      await trx
        .insertInto('files')
        .values(
          Array.from({ length: n }, (_, k) => {
            const f = i + k;
            const org = f % orgs;
            const size = Math.round(Math.exp(7 + r() * 10)); // ~1 KiB … ~24 MiB, log-uniform
            const meta = r() < 0.3 ? { records: 1 + Math.floor(r() * 5000), categories: ['health'] } : {};
            return {
              id: w.fileIds(f),
              folder_id: uid('a000', org),
              name: `f${f}.csv`,
              name_key: `f${f}.csv`,
              size,
              sha256: createHash('sha256').update(`file ${f}`).digest('hex'),
              blob_key: uid('b000', f),
              org_id: uid('8000', 0x200000 + org),
              uploaded_by: null,
              uploaded_by_login: null,
              created_at: t,
              modified_at: t,
              metadata: JSON.stringify(meta),
              stored_inline: 0,
            };
          }),
        )
        .execute();
    }
  });
}

type Fields = Omit<AuditEventRow, 'hash'>;

const COLUMNS = [
  'seq',
  'ts',
  'actor_type',
  'actor_id',
  'actor_login',
  'org_id',
  'protocol',
  'remote_addr',
  'action',
  'target_path',
  'file_id',
  'sha256',
  'bytes',
  'outcome',
  'detail',
  'prev_hash',
  'hash',
] as const;

/**
 * Inserts rows. PostgreSQL: one INSERT … SELECT FROM unnest() with one bound array per column
 * (a multi-row VALUES list of thousands of rows costs the server and the driver far more to
 * parse and bind); SQLite: a multi-row VALUES insert.
 */
async function insertEvents(trx: Transaction<Database>, rows: AuditEventRow[], postgres: boolean): Promise<void> {
  if (!postgres) {
    await trx.insertInto('audit_events').values(rows).execute();
    return;
  }
  const col = <K extends (typeof COLUMNS)[number]>(k: K) => rows.map((r) => r[k]);
  await trx
    .insertInto('audit_events')
    .columns([...COLUMNS])
    .expression(
      sql<AuditEventRow>`SELECT * FROM unnest(${col('seq')}::bigint[], ${col('ts')}::bigint[], ${col('actor_type')}::text[], ${col('actor_id')}::text[], ${col('actor_login')}::text[],
        ${col('org_id')}::text[], ${col('protocol')}::text[], ${col('remote_addr')}::text[], ${col('action')}::text[], ${col('target_path')}::text[], ${col('file_id')}::text[],
        ${col('sha256')}::text[], ${col('bytes')}::bigint[], ${col('outcome')}::text[], ${col('detail')}::text[], ${col('prev_hash')}::text[], ${col('hash')}::text[])`,
    )
    .execute();
}

/**
 * Seeds `events` events after the current head. Returns the world the queries draw from.
 * The caller gives a connection it may tune for bulk loading (the seeding's durability is not
 * what is measured); the chain is computed with the ledger's own eventHash.
 */
export async function seedLedger(db: Kysely<Database>, o: SeedOptions): Promise<SeedWorld> {
  const ORGS = o.orgs ?? 1900;
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const insert = (trx: Transaction<Database>, rows: AuditEventRow[]) => insertEvents(trx, rows, postgres);
  const w = seedWorld(o);
  await seedDirectory(db, w, ORGS);
  const r = rng(13);
  const cum: number[] = [];
  let total = 0;
  for (const u of w.users) cum.push((total += u.weight));
  const pickUser = () => {
    const x = r() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const filesPerOrg = Math.floor(w.files / ORGS);
  const orgIndex = (orgId: string) => parseInt(orgId.slice(-12), 16) - 0x200000;
  const pickFile = (orgId: string) => (r() < 0.8 ? orgIndex(orgId) + ORGS * Math.floor(r() * filesPerOrg) : Math.floor(r() * w.files));
  const clients = ['SSH-2.0-OpenSSH_9.2p1', 'SSH-2.0-WinSCP_6.3', 'SSH-2.0-rclone/v1.65.0', 'SSH-2.0-paramiko_3.4.0'];

  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  let seq = Number(head.seq);
  let prev = head.hash;
  const span = o.now - w.start;
  const rowsPerTx = o.rowsPerTx ?? 100_000;
  let made = 0;
  const push = (rows: AuditEventRow[], f: Omit<Fields, 'seq' | 'ts' | 'prev_hash'>) => {
    const e: Fields = { ...f, seq: ++seq, ts: w.start + Math.floor((made++ * span) / o.events), prev_hash: prev };
    const hash = eventHash(e);
    prev = hash;
    rows.push({ ...e, hash });
  };
  /** Appends one activity's events (1 or 2) to rows. */
  const activity = (rows: AuditEventRow[]) => {
    const ui = pickUser();
    const u = w.users[ui]!;
    const http = ui % 3 === 0;
    const ip = u.ips[u.ips.length > 1 && r() < 0.5 ? u.ips.length - 1 : Math.floor(r() * u.ips.length)]!;
    const who = { actor_type: 'user', actor_id: u.id, actor_login: u.login, org_id: u.orgId, protocol: http ? 'http' : 'sftp', remote_addr: ip };
    const auth = http ? { token: uid('c000', ui), method: 'token' } : { method: ui % 2 ? 'publickey' : 'password', client: clients[ui % clients.length] };
    const x = r();
    const folder = `/partner-${orgIndex(u.orgId)}`;
    if (x < 0.1) {
      push(rows, {
        ...who,
        action: http ? 'auth.token' : 'auth.login',
        target_path: null,
        file_id: null,
        sha256: null,
        bytes: null,
        outcome: 'success',
        detail: JSON.stringify(http ? { token: auth.token } : { method: auth.method, client: auth.client }),
      });
    } else if (x < 0.11) {
      // A failed sign-in: a typo of the user's, or someone guessing from an unknown address.
      const guess = r() < 0.5;
      push(rows, {
        actor_type: 'user',
        actor_id: guess ? null : u.id,
        actor_login: guess ? `admin${Math.floor(r() * 50)}` : u.login,
        org_id: null,
        protocol: 'sftp',
        remote_addr: guess ? `198.51.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}` : ip,
        action: 'auth.login',
        target_path: null,
        file_id: null,
        sha256: null,
        bytes: null,
        outcome: 'failure',
        detail: JSON.stringify({ method: 'password', reason: 'bad credentials' }),
      });
    } else if (x < 0.3) {
      push(rows, {
        ...who,
        action: 'folder.list',
        target_path: folder,
        file_id: null,
        sha256: null,
        bytes: null,
        outcome: 'success',
        detail: JSON.stringify({ ...auth, entries: Math.floor(r() * 300) }),
      });
    } else if (x < 0.62) {
      const fi = pickFile(u.orgId);
      const size = 1000 + Math.floor(r() * 2_000_000);
      const ranged = r() < 0.1;
      const bytes = ranged ? Math.floor(size / 4) : size;
      const path = `/partner-${fi % ORGS}/f${fi}.csv`;
      const sha = createHash('sha256').update(`file ${fi}`).digest('hex');
      push(rows, {
        ...who,
        action: 'file.read',
        target_path: path,
        file_id: w.fileIds(fi),
        sha256: sha,
        bytes,
        outcome: 'success',
        detail: JSON.stringify({ ...auth, ...(ranged ? { range: [0, bytes - 1], size } : { size }) }),
      });
      const readSeq = seq;
      push(rows, {
        ...who,
        action: 'file.read.end',
        target_path: path,
        file_id: w.fileIds(fi),
        sha256: sha,
        bytes,
        outcome: 'success',
        detail: JSON.stringify({ ...auth, read: readSeq, complete: true }),
      });
    } else if (x < 0.75) {
      const fi = pickFile(u.orgId);
      push(rows, {
        ...who,
        action: 'file.write',
        target_path: `/partner-${fi % ORGS}/f${fi}.csv`,
        file_id: w.fileIds(fi),
        sha256: createHash('sha256').update(`file ${fi}`).digest('hex'),
        bytes: 1000 + Math.floor(r() * 5_000_000),
        outcome: r() < 0.02 ? 'denied' : 'success',
        detail: JSON.stringify(auth),
      });
    } else if (x < 0.77) {
      const fi = pickFile(u.orgId);
      push(rows, {
        ...who,
        action: 'file.delete',
        target_path: `/partner-${fi % ORGS}/f${fi}.csv`,
        file_id: w.fileIds(fi),
        sha256: null,
        bytes: null,
        outcome: 'success',
        detail: JSON.stringify(auth),
      });
    } else if (x < 0.775) {
      const fi = pickFile(u.orgId);
      push(rows, {
        ...who,
        action: 'entry.rename',
        target_path: `/partner-${fi % ORGS}/f${fi}.csv`,
        file_id: w.fileIds(fi),
        sha256: null,
        bytes: null,
        outcome: 'success',
        detail: JSON.stringify({ ...auth, to: `/partner-${fi % ORGS}/done/f${fi}.csv` }),
      });
    } else {
      push(rows, {
        ...who,
        action: 'folder.list',
        target_path: `${folder}/out`,
        file_id: null,
        sha256: null,
        bytes: null,
        outcome: r() < 0.05 ? 'denied' : 'success',
        detail: JSON.stringify({ ...auth, entries: Math.floor(r() * 50) }),
      });
    }
  };

  // Bulk-load practice: the secondary indexes of audit_events are dropped for the load and built
  // again afterwards from their own definitions as the database reports them (so the result is
  // the schema the migrations made); building an index once is far cheaper than keeping it
  // up to date over millions of random inserts. The build is part of the measured seeding time.
  const indexes = await secondaryIndexes(db, postgres);
  for (const ix of indexes) await sql`DROP INDEX ${sql.id(ix.name)}`.execute(db);

  // Generation (hashing) overlaps with the previous insert where the driver is asynchronous (pg).
  let pending: Promise<unknown> = Promise.resolve();
  while (made < o.events) {
    const txRows: AuditEventRow[][] = [];
    for (let n = 0; n < rowsPerTx && made < o.events;) {
      const rows: AuditEventRow[] = [];
      while (rows.length < o.rowsPerInsert && made < o.events) activity(rows);
      // An activity may add a second event past the target; keep the count exact.
      while (made > o.events) {
        rows.pop();
        made--;
        seq--;
      }
      prev = rows.at(-1)!.hash;
      txRows.push(rows);
      n += rows.length;
    }
    const last = txRows.at(-1)!.at(-1)!;
    await pending;
    pending = db.transaction().execute(async (trx) => {
      for (const rows of txRows) await insert(trx, rows);
      await trx.updateTable('audit_head').set({ seq: last.seq, hash: last.hash }).where('id', '=', 1).execute();
    });
    o.onProgress?.(made);
  }
  await pending;
  for (const ix of indexes) {
    const t0 = performance.now();
    // The statement is the database's own stored definition of the index, not built from input.
    await sql`${sql.raw(ix.definition)}`.execute(db);
    o.onIndex?.(ix.name, (performance.now() - t0) / 1000);
  }
  return w;
}

/** The secondary indexes of audit_events (not its primary key) with their CREATE statements. */
async function secondaryIndexes(db: Kysely<Database>, postgres: boolean): Promise<{ name: string; definition: string }[]> {
  if (postgres) {
    const r = await sql<{ name: string; definition: string }>`SELECT i.indexname AS name, i.indexdef AS definition FROM pg_indexes i
      WHERE i.tablename = 'audit_events' AND i.schemaname = current_schema()
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`.execute(db);
    return r.rows;
  }
  const r = await sql<{
    name: string;
    definition: string;
  }>`SELECT name, sql AS definition FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND sql IS NOT NULL`.execute(db);
  return r.rows;
}
