/**
 * W9 and the ledger append rate (issue 4), on SQLite and PostgreSQL:
 *
 *   1. seed a ledger of BENCH_EVENTS events (default 1,000,000; the target in performance.md is
 *      stated for 10 million: BENCH_EVENTS=10000000) with a real hash chain (bench/lib/ledger-seed.ts);
 *   2. audit queries through the core (admin principal, each query itself recorded): by user and a
 *      7-day window, by file; the full incident scope over one address and over one user, 30 days;
 *      p50/p95/max of repeated runs on targets drawn by activity (heavy users and the busiest
 *      shared NAT address included);
 *   3. ledger appends per second through the real write path (writeTx: global lock, hash chain,
 *      durable commit), one writer and 16 concurrent writers;
 *   4. `audit verify` over the whole seeded chain (BENCH_VERIFY=1; default when ≤ 1M events).
 *
 * PostgreSQL: a throwaway cluster is started like `npm test` does (scripts/lib/pg-cluster.mjs),
 * but durable (fsync on, synchronous_commit on) with shared_buffers=1GB; or BENCH_PG_URL names an
 * empty database to use instead. BENCH_DIALECTS=sqlite (or postgres) runs only one.
 * BENCH_EVENTS=0 measures only the append rate.
 *
 *   node --import tsx bench/ledger.ts            (or: npm run bench -- w9)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config/config.js';
import { openInstance, type Instance } from '../src/app/instance.js';
import { openDatabase } from '../src/adapters/db/connect.js';
import { groupCommitStats, recordEvent } from '../src/core/tx.js';
import { appendEvent, type AuditInput } from '../src/core/audit/ledger.js';
import { systemClock } from '../src/ports/clock.js';
import type { Database, Db } from '../src/ports/db-schema.js';
import { emitResults, type WorkloadResult } from './lib/result.js';
import { rng, seedLedger, seedWorld, type SeedWorld } from './lib/ledger-seed.js';
import { pgCluster } from '../scripts/lib/pg-cluster.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const VERIFY = process.env.BENCH_VERIFY ? process.env.BENCH_VERIFY === '1' : EVENTS <= 1_000_000;
const DIALECTS = (process.env.BENCH_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim()) as ('sqlite' | 'postgres')[];
const APPENDS = Number(process.env.BENCH_APPENDS ?? 3000);
const DAY = 86_400_000;

interface Stats {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  readonly n: number;
}
function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * q) - 1))]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { p50: r(at(0.5)), p95: r(at(0.95)), max: r(s.at(-1)!), n: s.length };
}
async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<{ stats: Stats; results: unknown[] }> {
  const xs: number[] = [];
  const results: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    results.push(await fn(i));
    xs.push(performance.now() - a);
  }
  return { stats: stats(xs), results };
}

const mb = (bytes: number) => Math.round(bytes / 1e6);
function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

/**
 * The write path as it was before group commit (one database transaction, one commit, per
 * caller): the peer the grouped path is compared with, in the same run.
 */
function ungroupedRecord(db: Db, input: AuditInput): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await trx
      .updateTable('audit_head')
      .set((eb) => ({ seq: eb.ref('seq') }))
      .where('id', '=', 1)
      .execute();
    return appendEvent(trx, systemClock.now(), input);
  });
}

interface AppendFigures {
  readonly grouped: { readonly one: number; readonly sixteen: number };
  readonly ungrouped: { readonly one: number; readonly sixteen: number };
  readonly callersPerCommit: number;
}

/**
 * Appends per second through writeTx (durable commit each), one writer and 16 concurrent
 * writers, against the ungrouped write path; 4 rounds, alternating which goes first, medians.
 */
async function appendRate(db: Db, inst: Instance, dialect: string): Promise<AppendFigures> {
  const actor = inst.system({ protocol: 'cli' }, 'bench');
  const record = { grouped: (input: AuditInput) => recordEvent(db, systemClock, input), ungrouped: (input: AuditInput) => ungroupedRecord(db, input) };
  const runs: Record<'grouped' | 'ungrouped', { one: number[]; sixteen: number[] }> = {
    grouped: { one: [], sixteen: [] },
    ungrouped: { one: [], sixteen: [] },
  };
  const s0 = groupCommitStats(db);
  for (let round = 0; round < 4; round++) {
    // A B B A A B B A: neither side always goes first.
    for (const mode of round % 2 === 0 ? (['grouped', 'ungrouped'] as const) : (['ungrouped', 'grouped'] as const)) {
      const one = Math.max(16, Math.round(APPENDS / 8));
      let t0 = performance.now();
      for (let i = 0; i < one; i++) await record[mode]({ action: 'ledger.probe', outcome: 'success', actor, detail: { probe: 'append', i } });
      runs[mode].one.push(one / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          for (let i = 0; i < APPENDS / 16; i++) await record[mode]({ action: 'ledger.probe', outcome: 'success', actor, detail: { probe: 'append', w, i } });
        }),
      );
      runs[mode].sixteen.push(APPENDS / ((performance.now() - t0) / 1000));
    }
  }
  const s1 = groupCommitStats(db);
  const med = (xs: number[]) => Math.round(median(xs));
  const f: AppendFigures = {
    grouped: { one: med(runs.grouped.one), sixteen: med(runs.grouped.sixteen) },
    ungrouped: { one: med(runs.ungrouped.one), sixteen: med(runs.ungrouped.sixteen) },
    callersPerCommit: Math.round(((s1.members - s0.members) / Math.max(1, s1.commits - s0.commits)) * 10) / 10,
  };
  console.log(
    `[${dialect}] ledger appends/s: group commit ${f.grouped.one} one writer, ${f.grouped.sixteen} with 16 writers (${f.callersPerCommit} callers per commit); ` +
      `one commit per caller ${f.ungrouped.one} / ${f.ungrouped.sixteen}`,
  );
  return f;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function seed(dialect: 'sqlite' | 'postgres', sqlitePath: string, url: string | undefined, now: number): Promise<{ world: SeedWorld; seconds: number }> {
  const t0 = performance.now();
  let last = 0;
  const onProgress = (done: number) => {
    if (done - last >= 500_000 || done === EVENTS) {
      last = done;
      const s = (performance.now() - t0) / 1000;
      console.log(`[${dialect}] seeded ${done.toLocaleString('en')} events in ${s.toFixed(0)} s (${Math.round(done / s).toLocaleString('en')}/s)`);
    }
  };
  const onIndex = (name: string, s: number) => console.log(`[${dialect}] index ${name} built in ${s.toFixed(0)} s`);
  let world: SeedWorld;
  if (dialect === 'sqlite') {
    // Our own connection, tuned for a bulk load: the seeding's durability is not what is measured
    // (every transaction still commits; a crash would only lose the load).
    const raw = new SQLite(sqlitePath);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = OFF');
    raw.pragma('cache_size = -1000000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    world = await seedLedger(db, { events: EVENTS, now, rowsPerInsert: 1000, rowsPerTx: 200_000, onProgress, onIndex });
    raw.pragma('wal_checkpoint(TRUNCATE)');
    await db.destroy();
  } else {
    const { db, close } = await openDatabase({ url, sqlitePath, poolSize: 2 });
    world = await seedLedger(db, { events: EVENTS, now, rowsPerInsert: 10_000, rowsPerTx: 100_000, onProgress, onIndex });
    await close();
    // What autovacuum does on its own shortly after a bulk load; done now so the queries do not
    // race it. (Static statement, no values.)
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('VACUUM ANALYZE');
    await c.end();
  }
  return { world, seconds: (performance.now() - t0) / 1000 };
}

async function runDialect(dialect: 'sqlite' | 'postgres', url?: string): Promise<WorkloadResult[]> {
  // BENCH_DATA_DIR keeps the data directory (and with it the SQLite database) for another run,
  // which then skips the seeding; for PostgreSQL pair it with BENCH_PG_URL of the kept cluster.
  const keep = process.env.BENCH_DATA_DIR;
  const dir = keep ? path.join(keep, dialect) : fs.mkdtempSync(path.join(os.tmpdir(), `sluice-bench-w9-${dialect}-`));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const seedFile = path.join(dir, 'bench-seed.json');
  const seeded = fs.existsSync(seedFile) ? (JSON.parse(fs.readFileSync(seedFile, 'utf8')) as { events: number; now: number; seconds: number }) : undefined;
  if (seeded && seeded.events !== EVENTS) throw new Error(`${dir} holds a ledger seeded with ${seeded.events} events, not ${EVENTS}`);
  const config = loadConfig({ SLUICE_DATA_DIR: dir, SLUICE_LOG_LEVEL: 'silent', ...(url ? { SLUICE_DATABASE_URL: url } : {}) });
  const inst = await openInstance(config, { create: true, log: pino({ level: 'silent' }) });
  const sys = inst.system({ protocol: 'cli' }, 'bench');
  const sqlitePath = path.join(dir, 'sluice.db');
  const out: WorkloadResult[] = [];
  const ev = EVENTS.toLocaleString('en');
  let db: Db | undefined;
  let closeDb: (() => Promise<void>) | undefined;
  try {
    const details: Record<string, unknown> = { events: EVENTS };
    if (EVENTS > 0) {
      let w: SeedWorld;
      let seconds: number;
      if (seeded) {
        w = seedWorld({ now: seeded.now });
        seconds = seeded.seconds;
        console.log(`[${dialect}] reusing the ledger seeded in ${dir}`);
      } else {
        ({ world: w, seconds } = await seed(dialect, sqlitePath, url, Date.now()));
        if (keep) fs.writeFileSync(seedFile, JSON.stringify({ events: EVENTS, now: w.now, seconds }));
      }
      let size: number;
      if (dialect === 'sqlite') size = dirBytes(dir);
      else {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        size = Number((await c.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n);
        await c.end();
      }
      console.log(`[${dialect}] seeded ${ev} events in ${seconds.toFixed(0)} s; database ${mb(size).toLocaleString('en')} MB`);
      Object.assign(details, { seedSeconds: Math.round(seconds), dbMB: mb(size) });

      // Targets drawn by activity (who an investigator looks at is not uniform; heavy users are
      // the slow case), the heaviest user and the busiest NAT address always included.
      const r = rng(99);
      const weights = w.users.map((u) => u.weight);
      const totalW = weights.reduce((a, b) => a + b, 0);
      const byWeight = () => {
        let x = r() * totalW;
        for (let i = 0; i < weights.length; i++) if ((x -= weights[i]!) <= 0) return i;
        return weights.length - 1;
      };
      const window = (days: number, i: number) => {
        // Half the windows end now (hot), half anywhere in the 90 days (cold).
        const to = i % 2 === 0 ? w.now : w.start + days * DAY + Math.floor(r() * (w.now - w.start - days * DAY));
        return { from: to - days * DAY, to };
      };
      const heaviest = w.users[w.byActivity[0]!]!;
      const byUser = await timed(40, (i) =>
        inst.core.audit.events(sys, { login: (i === 0 ? heaviest : w.users[byWeight()]!).login, ...window(7, i), limit: 1000 }),
      );
      const byFile = await timed(40, () => inst.core.audit.events(sys, { fileId: w.fileIds(Math.floor(r() * w.files)), limit: 1000 }));
      // By a login no user has (deleted, or guessed by an attacker: only the recorded login is
      // left), and by organisation alone (no user named); windowed and not (the oldest page).
      const byLogin = await timed(20, (i) => inst.core.audit.events(sys, { login: `admin${i % 50}`, ...window(7, i), limit: 1000 }));
      const byOrg = await timed(20, (i) =>
        inst.core.audit.events(sys, { orgId: (i === 0 ? heaviest : w.users[byWeight()]!).orgId, ...(i % 4 === 3 ? {} : window(7, i)), limit: 1000 }),
      );
      const scopeIp = await timed(10, (i) => {
        const u = w.users[byWeight()]!;
        const ip = i === 0 ? w.natIps[0]! : u.ips[Math.floor(r() * u.ips.length)]!;
        return inst.core.incident.scope(sys, { ...window(30, i), ips: [ip] });
      });
      const scopeUser = await timed(10, (i) => inst.core.incident.scope(sys, { ...window(30, i), users: [(i === 0 ? heaviest : w.users[byWeight()]!).login] }));
      const sizes = (xs: unknown[]) => xs.map((x) => (Array.isArray(x) ? x.length : (x as { totals: { events: number } }).totals.events));
      const row = (id: string, title: string, s: Stats, limit: number, found: number[]): WorkloadResult => ({
        id,
        title,
        unit: 'ms p95',
        sluice: s.p95,
        peerName: '—',
        peer: null,
        ratio: null,
        targetRatio: null,
        target: `< ${limit} ms`,
        pass: s.p95 < limit,
        details: {
          ...details,
          p50: s.p50,
          max: s.max,
          runs: s.n,
          eventsFoundMax: Math.max(...found),
          eventsFoundMedian: found.sort((a, b) => a - b)[found.length >> 1],
        },
      });
      out.push(row(`w9-user-${dialect}`, `audit by user, 7-day window, ${ev} events (${dialect})`, byUser.stats, 100, sizes(byUser.results)));
      out.push(row(`w9-file-${dialect}`, `audit by file, ${ev} events (${dialect})`, byFile.stats, 100, sizes(byFile.results)));
      out.push(
        row(
          `w9-login-${dialect}`,
          `audit by recorded login (no such user), 7-day window, ${ev} events (${dialect})`,
          byLogin.stats,
          100,
          sizes(byLogin.results),
        ),
      );
      out.push(row(`w9-org-${dialect}`, `audit by organisation, 7-day window or none, ${ev} events (${dialect})`, byOrg.stats, 100, sizes(byOrg.results)));
      out.push(row(`w9-scope-ip-${dialect}`, `incident scope, one address, 30 days, ${ev} events (${dialect})`, scopeIp.stats, 5000, sizes(scopeIp.results)));
      out.push(
        row(`w9-scope-user-${dialect}`, `incident scope, one user, 30 days, ${ev} events (${dialect})`, scopeUser.stats, 5000, sizes(scopeUser.results)),
      );
    }

    const opened = await openDatabase({ url, sqlitePath });
    db = opened.db;
    closeDb = opened.close;
    const rate = await appendRate(db, inst, dialect);
    out.push({
      id: `ledger-append-${dialect}`,
      title: `ledger appends per second, 16 concurrent writers, group commit (${dialect})`,
      unit: 'events/s',
      sluice: rate.grouped.sixteen,
      peerName: 'one commit per caller',
      peer: rate.ungrouped.sixteen,
      ratio: Math.round((rate.grouped.sixteen / rate.ungrouped.sixteen) * 100) / 100,
      targetRatio: null,
      target: 'report',
      pass: null,
      details: { oneWriter: rate.grouped.one, oneWriterUngrouped: rate.ungrouped.one, callersPerCommit: rate.callersPerCommit, events: EVENTS },
    });

    if (VERIFY && EVENTS > 0) {
      const t0 = performance.now();
      const v = await inst.core.audit.verify(sys);
      const s = (performance.now() - t0) / 1000;
      console.log(
        `[${dialect}] audit verify over ${v.events.toLocaleString('en')} events: ${v.ok ? 'ok' : `FAILED: ${v.problem?.reason}`} in ${s.toFixed(0)} s`,
      );
      if (!v.ok) throw new Error(`the seeded ledger does not verify: ${v.problem?.reason}`);
      out.push({
        id: `w9-verify-${dialect}`,
        title: `audit verify, whole chain (${dialect})`,
        unit: 's',
        sluice: Math.round(s),
        peerName: '—',
        peer: null,
        ratio: null,
        targetRatio: null,
        target: 'ok',
        pass: v.ok,
        details: { events: v.events },
      });
    }
    for (const r of out)
      console.log(
        `[${dialect}] ${r.title}: ${r.sluice} ${r.unit} (${r.target})${r.details?.p50 !== undefined ? `  p50 ${String(r.details.p50)} ms, max ${String(r.details.max)} ms` : ''}`,
      );
  } finally {
    await closeDb?.();
    await inst.close();
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const results: WorkloadResult[] = [];
if (DIALECTS.includes('sqlite')) results.push(...(await runDialect('sqlite')));
if (DIALECTS.includes('postgres')) {
  let url = process.env.BENCH_PG_URL;
  const cluster = url
    ? undefined
    : pgCluster({
        log: (m: string) => console.log(`[postgres] ${m}`),
        label: 'bench/ledger.ts',
        // Durable, as in production (unlike the test cluster); room for a 10M-event ledger.
        settings: { shared_buffers: "'1GB'", max_wal_size: "'8GB'", max_connections: '50' },
      });
  const stop = () => cluster?.stopSync();
  process.on('exit', stop);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
  try {
    url ??= await cluster!.start();
    results.push(...(await runDialect('postgres', url)));
  } finally {
    if (!process.env.BENCH_DATA_DIR) stop();
    else {
      process.off('exit', stop);
      console.log(`[postgres] cluster kept running: ${url}`);
    }
  }
}
emitResults(results);
