/**
 * Diagnostic, not a workload of record: the server-side latency of each SFTP request of W3's
 * small-file sequence (as OpenSSH's `sftp put` / `get` send them), one request at a time from an
 * ssh2 client in the same process, against the SFTP server on SQLite in a temp directory. Shows
 * which request of a file's round trips costs what.
 *
 *   node --import tsx bench/sftp-requests.ts        N=500 files of SIZE=10240 bytes
 */
import { boxUser, serveSftp } from '../test/sftp/helpers.js';
import { BUDGETS_OFF } from './lib/budgets.js';
import { connect, FX, OPEN, RawSftp, str, T, WRITE_NEW, type Reply } from '../test/sftp/raw.js';

const N = Number(process.env.N ?? 500);
const SIZE = Number(process.env.SIZE ?? 10_240);
const s = await serveSftp('sqlite', { env: { ...BUDGETS_OFF } });
const key = await boxUser(s, 'lena');
const c = await RawSftp.open(await connect(s.port, 'lena', { key }));

const times = new Map<string, number[]>();
async function timed(name: string, p: () => Promise<Reply>): Promise<Reply> {
  const t0 = performance.now();
  const r = await p();
  const arr = times.get(name) ?? [];
  arr.push(performance.now() - t0);
  times.set(name, arr);
  return r;
}
const handleOf = (r: Reply) => r.body.subarray(4, 4 + r.body.readUInt32BE(0));
const statusOf = (r: Reply) => r.body.readUInt32BE(0);
const data = Buffer.alloc(SIZE, 7);

async function put(i: number) {
  const p = `/box/f${i}`;
  await timed('put: STAT (does it exist / is it a folder)', () => c.request(T.STAT, str(p)));
  const h = handleOf(await timed('put: OPEN write', () => c.open(p, WRITE_NEW)));
  await timed('put: WRITE', () => c.write(h, 0, data));
  const r = await timed('put: CLOSE (commit)', () => c.close(h));
  if (statusOf(r) !== FX.OK) throw new Error(`close failed: ${statusOf(r)}`);
}
async function get(i: number) {
  const p = `/box/f${i}`;
  await timed('get: STAT', () => c.request(T.STAT, str(p)));
  const h = handleOf(await timed('get: OPEN read (ledger read event)', () => c.open(p, OPEN.READ)));
  await timed('get: FSTAT', () => c.request(T.FSTAT, str(h)));
  await timed('get: READ data', () => c.read(h, 0, 32_768));
  await timed('get: READ at end (EOF)', () => c.read(h, SIZE, 32_768));
  await timed('get: CLOSE', () => c.close(h));
}

for (let i = 0; i < 30; i++) await put(1e6 + i);
for (let i = 0; i < 30; i++) await get(1e6 + i);
times.clear();
for (const [what, fn] of [
  ['put', put],
  ['get', get],
] as const) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  console.log(`${what}: ${((performance.now() - t0) / N).toFixed(2)} ms per file (${N} files of ${SIZE} bytes)`);
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
for (const [k, a] of times) console.log(`  ${k.padEnd(42)} median ${median(a).toFixed(3)} ms  mean ${mean(a).toFixed(3)} ms`);
c.end();
await s.close();
