/**
 * Diagnostic, not a workload of record: the per-file cost of the core's upload and download path
 * without any protocol (W3's files, one after another, as one SFTP session sends them), on SQLite
 * in a temp directory. Prints wall and CPU ms per file, the time of each phase, and with
 * STATEMENTS=1 the time SQLite spends per statement kind (COMMIT is the durable one).
 *
 *   node --import tsx bench/files-core.ts            N=300 files of SIZE=10240 bytes
 *   PROFILE=/tmp/fc node --import tsx bench/files-core.ts   also writes /tmp/fc-up.cpuprofile, -down
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import SQLite from 'better-sqlite3';
import { testInstance } from '../test/helpers/instance.js';
import { BUDGETS_OFF } from './lib/budgets.js';

const N = Number(process.env.N ?? 300);
const SIZE = Number(process.env.SIZE ?? 10_240);
const PROFILE = process.env.PROFILE;

// Time spent inside SQLite per statement text (better-sqlite3's Statement methods).
const spent = new Map<string, { ms: number; n: number }>();
if (process.env.STATEMENTS) {
  const probe = new SQLite(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, (...a: unknown[]) => unknown>;
  probe.close();
  for (const m of ['run', 'all', 'get']) {
    const orig = proto[m]!;
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      const t0 = performance.now();
      try {
        return orig.apply(this, a);
      } finally {
        const k = this.source.slice(0, 70);
        const e = spent.get(k) ?? { ms: 0, n: 0 };
        e.ms += performance.now() - t0;
        e.n++;
        spent.set(k, e);
      }
    };
  }
}

// Budgets out of the way: N files are downloaded by one user within the hour.
const t = await testInstance('sqlite', { ...BUDGETS_OFF });
await t.core.admin.orgs.create(t.system, { name: 'Acme' });
await t.core.admin.folders.create(t.system, '/acme/in', { org: 'Acme' });
const user = await t.user('alice', { org: 'Acme' });
await t.core.admin.grants.set(t.system, 'org:Acme', '/acme/in', 'list,read,write,delete');
const data = Buffer.alloc(SIZE, 7);
const phases = new Map<string, number>();
const lap = (k: string, t0: number) => {
  const now = performance.now();
  phases.set(k, (phases.get(k) ?? 0) + now - t0);
  return now;
};

async function up(i: number) {
  let t0 = performance.now();
  const h = await t.core.files.openUpload(user, `/acme/in/f${i}`);
  t0 = lap('open', t0);
  await h.write(data);
  t0 = lap('write', t0);
  await h.finish();
  lap('finish', t0);
}
/** The downloads' `finished` promises of the current phase, awaited at its end. */
const ends: Promise<void>[] = [];
async function down(i: number) {
  let t0 = performance.now();
  const d = await t.core.files.openDownload(user, `/acme/in/f${i}`);
  t0 = lap('open', t0);
  for await (const _ of d.stream as AsyncIterable<Buffer>) void _;
  lap('stream', t0);
  // Not awaited here, as no front end does: the end of a read may ride with the next one (lazy).
  ends.push(d.finished);
}

{
  const m = process.memoryUsage();
  console.log(`  at start: RSS ${(m.rss / 1e6).toFixed(0)} MB, heap used ${(m.heapUsed / 1e6).toFixed(0)} MB`);
}
for (let i = 0; i < 50; i++) {
  await up(1e6 + i);
  await down(1e6 + i);
}
const session = new Session();
session.connect();
for (const [name, fn] of [
  ['upload', up],
  ['download', down],
] as const) {
  phases.clear();
  spent.clear();
  if (PROFILE) {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  await Promise.all(ends.splice(0));
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (PROFILE) {
    const { profile } = await session.post('Profiler.stop');
    fs.writeFileSync(`${PROFILE}-${name}.cpuprofile`, JSON.stringify(profile));
  }
  const mem = process.memoryUsage();
  console.log(
    `  memory after ${name}: RSS ${(mem.rss / 1e6).toFixed(0)} MB, heap used ${(mem.heapUsed / 1e6).toFixed(0)} MB, external ${(mem.external / 1e6).toFixed(0)} MB`,
  );
  console.log(`${name}: ${(ms / N).toFixed(2)} ms/file wall, ${((c.user + c.system) / 1000 / N).toFixed(2)} ms/file CPU (${N} files of ${SIZE} bytes)`);
  console.log(`  phases: ${[...phases].map(([k, v]) => `${k} ${(v / N).toFixed(2)}`).join(', ')} ms/file`);
  for (const [k, e] of [...spent].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 12))) {
    console.log(`  ${((e.ms * 1000) / N).toFixed(0).padStart(6)} µs/file  ${(e.n / N).toFixed(1)}×  ${k}`);
  }
}
session.disconnect();
if (globalThis.gc) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 500));
  globalThis.gc();
  const m = process.memoryUsage();
  console.log(
    `  after gc: RSS ${(m.rss / 1e6).toFixed(0)} MB, heap used ${(m.heapUsed / 1e6).toFixed(0)} MB, external ${(m.external / 1e6).toFixed(0)} MB, arrayBuffers ${(m.arrayBuffers / 1e6).toFixed(0)} MB`,
  );
}
await t.cleanup();
