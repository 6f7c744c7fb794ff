/**
 * W9 and the ledger append rate (issue 4): appends per second through the real write path, then
 * audit queries over a ledger of BENCH_EVENTS synthetic events (default 1,000,000; the target in
 * performance.md is stated for 10 million: BENCH_EVENTS=10000000): by user and window, by file,
 * and a full incident scope over one address. p95 of repeated runs. SQLite by default; PostgreSQL
 * too when BENCH_PG_URL names an empty database (postgres://…).
 *
 *   node --import tsx bench/ledger.ts            (or: npm run bench -- w9)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config/config.js';
import { openInstance } from '../src/app/instance.js';
import { openDatabase } from '../src/adapters/db/connect.js';
import { recordEvent } from '../src/core/tx.js';
import { systemClock } from '../src/ports/clock.js';
import { emitResults, type WorkloadResult } from './lib/result.js';
import type { AuditEventRow } from '../src/ports/db-schema.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const USERS = 2000;
const FILES = 100_000;
const DAYS = 90;

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
}

async function runDialect(dialect: 'sqlite' | 'postgres', url?: string): Promise<WorkloadResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-ledger-'));
  const config = loadConfig({ SLUICE_DATA_DIR: dir, SLUICE_LOG_LEVEL: 'silent', ...(url ? { SLUICE_DATABASE_URL: url } : {}) });
  const inst = await openInstance(config, { create: true, log: pino({ level: 'silent' }) });
  const sys = inst.system({ protocol: 'cli' }, 'bench');
  const { db, close } = await openDatabase({ url: config.databaseUrl, sqlitePath: path.join(dir, 'sluice.db') });
  const out: WorkloadResult[] = [];
  try {
    // 1. Append rate through the real write path (global lock, hash chain, fsync'd commit).
    const N = 3000;
    let t0 = performance.now();
    for (let i = 0; i < N; i++) await recordEvent(db, systemClock, { action: 'bench.append', outcome: 'success', actor: sys, detail: { i } });
    const seqRate = N / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    await Promise.all(Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; i < N / 16; i++) await recordEvent(db, systemClock, { action: 'bench.append', outcome: 'success', actor: sys, detail: { w, i } });
    }));
    const parRate = N / ((performance.now() - t0) / 1000);
    console.log(`[${dialect}] ledger appends: ${seqRate.toFixed(0)}/s sequential, ${parRate.toFixed(0)}/s with 16 concurrent writers`);
    out.push({ id: `ledger-append-${dialect}`, title: `ledger appends per second (${dialect}), 16 writers`, unit: 'events/s', sluice: Math.round(parRate), peerName: '—', peer: null, ratio: null, targetRatio: null, target: 'report', pass: null, details: { sequential: Math.round(seqRate) } });

    // 2. A large synthetic ledger (not chained: queries do not read the chain).
    const head = await db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
    let seq = Number(head.seq);
    const now = Date.now();
    const start = now - DAYS * 86_400_000;
    const users = Array.from({ length: USERS }, (_, i) => ({ id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`, login: `partner${i}`, org: `org-${i % 200}`, ip: `10.${(i >> 8) & 255}.${i & 255}.7` }));
    const files = Array.from({ length: FILES }, (_, i) => `00000000-0000-7000-9000-${String(i).padStart(12, '0')}`);
    const actions = ['file.read', 'file.read.end', 'file.write', 'folder.list', 'auth.token', 'file.read', 'file.read.end'];
    t0 = performance.now();
    const BATCH = 1000; // 17 columns × 1000 stays under SQLite's 32,766 bound variables
    for (let done = 0; done < EVENTS; ) {
      const rows: AuditEventRow[] = [];
      for (let i = 0; i < BATCH && done < EVENTS; i++, done++) {
        const u = users[(done * 7919) % USERS]!;
        const action = actions[done % actions.length]!;
        rows.push({
          seq: ++seq, ts: start + Math.floor((done / EVENTS) * (now - start)), actor_type: 'user', actor_id: u.id, actor_login: u.login, org_id: u.org, protocol: done % 3 ? 'sftp' : 'http',
          remote_addr: u.ip, action, target_path: `/${u.org}/out/f${done % FILES}.csv`, file_id: action.startsWith('file') ? files[(done * 104729) % FILES]! : null,
          sha256: null, bytes: action.startsWith('file') ? 40_000 : null, outcome: 'success', detail: '{}', prev_hash: '', hash: '',
        });
      }
      await db.transaction().execute((trx) => trx.insertInto('audit_events').values(rows).execute());
      if (done % 200_000 === 0) process.stdout.write(`\r[${dialect}] seeded ${done.toLocaleString()} events`);
    }
    await db.updateTable('audit_head').set({ seq }).where('id', '=', 1).execute();
    console.log(`\n[${dialect}] seeded ${EVENTS.toLocaleString()} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // 3. Queries, 20 runs each on varying targets, p95.
    const time = async (fn: (i: number) => Promise<unknown>) => {
      const xs: number[] = [];
      for (let i = 0; i < 20; i++) {
        const a = performance.now();
        await fn(i);
        xs.push(performance.now() - a);
      }
      return { p95: p95(xs), median: xs.sort((a, b) => a - b)[10]! };
    };
    // Users must exist for login → id resolution; create the ones the queries name.
    for (let i = 0; i < 20; i++) {
      const u = users[i * 97]!;
      await db.insertInto('users').values({ id: u.id, login: u.login, org_id: null, role: 'partner', status: 'active', display_name: null, email: null, password_hash: null, password_changed_at: null, failed_logins: 0, locked_until: null, last_login_at: null, expires_at: null, created_at: now }).execute().catch(() => undefined);
    }
    const byUser = await time((i) => inst.core.audit.events(sys, { login: users[i * 97]!.login, from: now - 7 * 86_400_000, to: now, limit: 1000 }));
    const byFile = await time((i) => inst.core.audit.events(sys, { fileId: files[i * 4999]!, limit: 1000 }));
    const scope = await time((i) => inst.core.incident.scope(sys, { from: now - 30 * 86_400_000, to: now, ips: [users[i * 97]!.ip] }));
    const row = (id: string, title: string, r: { p95: number; median: number }, limit: number): WorkloadResult => ({
      id, title, unit: 'ms p95', sluice: Math.round(r.p95 * 10) / 10, peerName: '—', peer: null, ratio: null, targetRatio: null, target: `< ${limit} ms`, pass: r.p95 < limit, details: { medianMs: Math.round(r.median * 10) / 10, events: EVENTS },
    });
    out.push(row(`w9-user-${dialect}`, `audit by user and 7-day window over ${EVENTS.toLocaleString()} events (${dialect})`, byUser, 100));
    out.push(row(`w9-file-${dialect}`, `audit by file (${dialect})`, byFile, 100));
    out.push(row(`w9-scope-${dialect}`, `incident scope, one address, 30 days (${dialect})`, scope, 5000));
    for (const r of out) console.log(`[${dialect}] ${r.title}: ${r.sluice} ${r.unit} (${r.target})`);
  } finally {
    await close();
    await inst.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const results = await runDialect('sqlite');
if (process.env.BENCH_PG_URL) results.push(...(await runDialect('postgres', process.env.BENCH_PG_URL)));
emitResults(results);
