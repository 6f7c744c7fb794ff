/**
 * The incident drill of issue 4, as ONE piece of code used by the e2e test (test/e2e/drill.test.ts)
 * and by `npm run drill` (scripts/drill.mjs): a real `sluice serve` (HTTP + SFTP) with 1,000 files
 * of 20 partner organisations; a "stolen" partner credential that can read five partners' folders
 * downloads everything it can over SFTP (OpenSSH sftp) and HTTP from 127.0.0.2 while legitimate
 * partners keep working from 127.0.0.1; then the responder's side with the real `sluice` command:
 * budget trip and alerts, incident scope by the attacker's address, notification drafts and
 * sending, lockdown, and backup → restore into an empty data directory → verify.
 *
 * Every expectation becomes a Check (pass/fail, what was measured); nothing here throws on a failed
 * expectation, so the user script can print the whole report. Setup problems (a missing tool, a
 * server that does not start) do throw.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Client as SshClient, type SFTPWrapper } from 'ssh2';
import { loadConfig } from '../../src/config/config.js';
import { openInstance } from '../../src/app/instance.js';
import { ikWithCheckDigit } from '../../src/core/admin/identifiers.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { opensshOptions } from '../helpers/openssh.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

/** The drill's numbers (stated in the report and the README). */
export const DRILL = {
  partners: 20,
  filesPerPartner: 50,
  /** Per-user download budget per window: what a stolen partner credential can get at most. */
  userFiles: 50,
  userBytes: 64 * 1024 * 1024,
  orgFiles: 200,
  globalFiles: 5000,
  window: '1h',
  /** Partners whose folders the stolen credential can read (its own first). */
  attackerPartners: [7, 3, 11, 15, 18],
  attackerAddress: '127.0.0.2',
  bounds: { alertMs: 10_000, scopeMs: 60_000, lockdownMs: 2_000 },
} as const;

export interface Check {
  readonly step: string;
  readonly expectation: string;
  readonly pass: boolean;
  /** What was measured or found. */
  readonly measured: string;
}

export interface DrillOptions {
  readonly dialect: 'sqlite' | 'postgres';
  /** postgres: a URL of a role that may create databases (two are created and dropped). */
  readonly pgUrl?: string | undefined;
  /** Keep the working directory (and databases) for inspection. */
  readonly keep?: boolean | undefined;
  /** Progress lines as the drill goes. */
  readonly log?: ((line: string) => void) | undefined;
}

export interface DrillReport {
  readonly ok: boolean;
  readonly checks: readonly Check[];
  /** Measured durations in ms, by name. */
  readonly timings: Readonly<Record<string, number>>;
  readonly dir: string;
  readonly kept: boolean;
}

/** p02's large file, read at SLOW_READ_BYTES_PER_S while the lockdown comes. */
const BIG_FILE = '/p02/out/archiv-2025.bin';
const BIG_FILE_BYTES = 24 * 1024 * 1024;
const SLOW_READ_BYTES_PER_S = 2 * 1024 * 1024;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const pad = (n: number) => String(n).padStart(2, '0');
const partnerName = (n: number) => `Partner ${pad(n)}`;
const CATEGORIES = ['health', 'billing', 'care', 'rehab', 'pharmacy', 'insurance-number'];

interface Cli {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
  readonly ms: number;
}

interface SeededFile {
  readonly path: string;
  readonly org: string;
  readonly sha256: string;
  readonly size: number;
  readonly records: number;
}

/** Runs the drill; resolves with the report (also when expectations fail). */
export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const log = opts.log ?? (() => undefined);
  const checks: Check[] = [];
  const timings: Record<string, number> = {};
  const check = (step: string, expectation: string, pass: boolean, measured: string) => {
    checks.push({ step, expectation, pass, measured });
    log(`  ${pass ? 'PASS' : 'FAIL'}  ${expectation} — ${measured}`);
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-drill-'));
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    await drill(opts, dir, log, check, timings, cleanups);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ok: checks.length > 0 && checks.every((c) => c.pass), checks, timings, dir, kept: !!opts.keep };
}

async function drill(
  opts: DrillOptions,
  dir: string,
  log: (l: string) => void,
  check: (step: string, expectation: string, pass: boolean, measured: string) => void,
  timings: Record<string, number>,
  cleanups: (() => Promise<void> | void)[],
): Promise<void> {
  const tools = { sftp: which('sftp'), keygen: which('ssh-keygen') };
  if (!tools.sftp || !tools.keygen) throw new Error('the drill needs the OpenSSH client (sftp, ssh-keygen): apt-get install openssh-client');

  // --- databases, receivers ----------------------------------------------------------------------
  let dbUrl: string | undefined;
  let restoredDbUrl: string | undefined;
  if (opts.dialect === 'postgres') {
    if (!opts.pgUrl) throw new Error('the PostgreSQL drill needs a database URL (--url)');
    const name = `sluice_drill_${randomBytes(6).toString('hex')}`;
    dbUrl = await createDatabase(opts.pgUrl, name);
    restoredDbUrl = await createDatabase(opts.pgUrl, `${name}_restored`);
    if (!opts.keep)
      cleanups.push(
        () => dropDatabase(opts.pgUrl!, name),
        () => dropDatabase(opts.pgUrl!, `${name}_restored`),
      );
  }
  const smtp = await startSmtp();
  cleanups.push(() => smtp.close());
  const mailTimes = stampArrivals(smtp);
  cleanups.push(() => mailTimes.stop());
  const hookSecret = randomBytes(24).toString('hex');
  const hook = await startWebhook(hookSecret);
  cleanups.push(() => hook.close());

  const dataDir = path.join(dir, 'data');
  const httpPort = await freePort();
  const sftpPort = await freePort();
  const env: Record<string, string> = {
    SLUICE_DATA_DIR: dataDir,
    SLUICE_ADMIN: 'root',
    ...(dbUrl ? { SLUICE_DATABASE_URL: dbUrl } : {}),
    SLUICE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    SLUICE_SFTP_LISTEN: `127.0.0.1:${sftpPort}`,
    SLUICE_SMTP_URL: smtp.url,
    SLUICE_MAIL_FROM: 'sluice@insurer.example',
    SLUICE_ALERT_EMAIL: 'soc@insurer.example',
    SLUICE_ALERT_WEBHOOK_URL: `${hook.url}/sluice-alerts`,
    SLUICE_ALERT_WEBHOOK_SECRET: hookSecret,
    SLUICE_ALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
    SLUICE_BUDGET_WINDOW: DRILL.window,
    SLUICE_BUDGET_USER_FILES: String(DRILL.userFiles),
    SLUICE_BUDGET_USER_BYTES: String(DRILL.userBytes),
    SLUICE_BUDGET_ORG_FILES: String(DRILL.orgFiles),
    SLUICE_BUDGET_GLOBAL_FILES: String(DRILL.globalFiles),
    SLUICE_LOG_LEVEL: 'warn',
  };
  const sluice = (args: string[], extraEnv: Record<string, string> = env) => runCli(args, extraEnv);

  // --- 1. seed ------------------------------------------------------------------------------------
  log(`1. seed: ${DRILL.partners} partner organisations × ${DRILL.filesPerPartner} files, users, keys, grants (${opts.dialect})`);
  let t = Date.now();
  const passFile = path.join(dir, 'admin.pass');
  fs.writeFileSync(passFile, 'drill administrator password\n', { mode: 0o600 });
  const init = await sluice(['init', '--admin', 'root', '--admin-password-file', passFile, '--json']);
  if (init.code !== 0) throw new Error(`sluice init failed: ${init.err}`);
  const keysDir = path.join(dir, 'client');
  fs.mkdirSync(keysDir, { mode: 0o700 });
  const attackerKey = await sshKeygen(tools.keygen, keysDir, 'stolen-p07');
  const legitKey = await sshKeygen(tools.keygen, keysDir, 'p05');
  const userPassword = 'partner password for the drill';
  const seeded = new Map<string, SeededFile>();
  const tokens: Record<string, string> = {};
  {
    const inst = await openInstance(loadConfig({ ...process.env, ...env, SLUICE_LOG_LEVEL: 'silent' }));
    try {
      const sys = inst.system({ protocol: 'cli', remoteAddr: 'local', client: 'drill seed' }, 'cli:drill');
      const jobs: (() => Promise<void>)[] = [];
      for (let n = 1; n <= DRILL.partners; n++) {
        const org = partnerName(n);
        await inst.core.admin.orgs.create(sys, {
          name: org,
          ik: ikWithCheckDigit(`1090${pad(n)}${String(100 + n).slice(-2)}`),
          contacts: [{ email: `datenschutz@partner${pad(n)}.example` }],
        });
        await inst.core.admin.folders.create(sys, `/p${pad(n)}/out`, { org });
        await inst.core.admin.users.create(sys, { login: `p${pad(n)}`, role: 'partner', org, password: userPassword });
        await inst.core.admin.grants.set(sys, `org:${org}`, `/p${pad(n)}/out`, 'list,read,write');
        for (let i = 1; i <= DRILL.filesPerPartner; i++) {
          const p = `/p${pad(n)}/out/abrechnung-${pad(n)}-${String(i).padStart(3, '0')}.csv`;
          const body = randomBytes(1024 + randomInt(4096));
          const records = 10 + randomInt(5000);
          const categories = [CATEGORIES[n % CATEGORIES.length]!, CATEGORIES[(n + i) % CATEGORIES.length]!];
          seeded.set(p, { path: p, org, sha256: sha(body), size: body.length, records });
          jobs.push(async () => {
            await inst.core.files.upload(sys, p, once(body), { expectedSize: body.length, metadata: { records, categories } });
          });
        }
      }
      await parallel(jobs, 8);
      // A large file p02 is downloading (slowly) when the lockdown comes.
      const big = randomBytes(BIG_FILE_BYTES);
      await inst.core.files.upload(sys, BIG_FILE, once(big), { expectedSize: big.length, metadata: { records: 90_000, categories: ['health'] } });
      // The stolen credential: partner p07 was (legitimately) granted read on four other partners' folders.
      for (const n of DRILL.attackerPartners.slice(1)) await inst.core.admin.grants.set(sys, 'p07', `/p${pad(n)}/out`, 'list,read');
      await inst.core.admin.keys.add(sys, 'p07', attackerKey.publicLine);
      await inst.core.admin.keys.add(sys, 'p05', legitKey.publicLine);
      for (const login of ['p07', 'p02']) tokens[login] = (await inst.core.admin.tokens.create(sys, login, { expiresInMs: 86_400_000 })).token;
    } finally {
      await inst.close();
    }
  }
  timings.seed = Date.now() - t;
  log(
    `   seeded ${seeded.size} files in ${(timings.seed / 1000).toFixed(1)} s; budgets: per user ${DRILL.userFiles} files / ${DRILL.userBytes / 1048576} MiB, per organisation ${DRILL.orgFiles} files, global ${DRILL.globalFiles} files, per ${DRILL.window}`,
  );

  // --- 2. serve -------------------------------------------------------------------------------------
  log('2. sluice serve (HTTP + SFTP), alerts to an SMTP server and a webhook receiver started by the drill');
  const server = startServer(env, path.join(dir, 'server.log'));
  cleanups.push(() => stopServer(server));
  await waitReady(httpPort);
  const base = `http://127.0.0.1:${httpPort}`;
  const knownHosts = path.join(keysDir, 'known_hosts');
  const hostKeyLines = fs
    .readdirSync(path.join(dataDir, 'keys'))
    .filter((f) => /^ssh_host_.*\.pub$/.test(f))
    .map((f) => fs.readFileSync(path.join(dataDir, 'keys', f), 'utf8').trim());
  fs.writeFileSync(knownHosts, hostKeyLines.map((l) => `[127.0.0.1]:${sftpPort} ${l.split(/\s+/).slice(0, 2).join(' ')}\n`).join(''));
  const hostKeyBlobs = new Set(hostKeyLines.map((l) => l.split(/\s+/)[1]!));

  // --- 3. the attack, with legitimate traffic alongside --------------------------------------------
  log(`3. attack: stolen credential of p07 downloads everything it can from ${DRILL.attackerAddress}, over SFTP and HTTP at once`);
  const attackFrom = Date.now() - 1000;
  const attacker = { ip: DRILL.attackerAddress, token: tokens.p07! };
  // The attacker lists what it can reach, then interleaves the partners so the budget hits several.
  const visible: string[][] = [];
  for (const n of DRILL.attackerPartners) {
    const r = await httpRequest(base, 'GET', `/api/v1/fs/p${pad(n)}/out/`, { authorization: `Bearer ${attacker.token}` }, undefined, attacker.ip);
    const entries = r.status === 200 ? (JSON.parse(r.body.toString()) as { entries: { name: string }[] }).entries : [];
    visible.push(entries.map((e) => `/p${pad(n)}/out/${e.name}`));
  }
  const targets: string[] = [];
  for (let i = 0; i < DRILL.filesPerPartner; i++) for (const v of visible) if (v[i]) targets.push(v[i]!);
  check(
    'attack',
    `the stolen credential sees ${DRILL.attackerPartners.length} partners' folders`,
    targets.length === DRILL.attackerPartners.length * DRILL.filesPerPartner,
    `${targets.length} files listed`,
  );
  const sftpTargets = targets.filter((_, i) => i % 2 === 0);
  const httpTargets = targets.filter((_, i) => i % 2 === 1);
  const loot = path.join(dir, 'attacker-loot');
  fs.mkdirSync(loot);

  // Legitimate partners: p02 over HTTP, p05 over SFTP (a session that stays open for the lockdown).
  const legitSession = await sftpSession(sftpPort, 'p05', fs.readFileSync(legitKey.file), hostKeyBlobs);
  cleanups.push(() => legitSession.end());
  let legitOk = 0;
  let legitFailed = 0;
  const legit = (async () => {
    for (let i = 1; i <= 10; i++) {
      const r = await httpRequest(base, 'GET', `/api/v1/fs/p02/out/abrechnung-02-${String(i).padStart(3, '0')}.csv`, {
        authorization: `Bearer ${tokens.p02!}`,
      });
      if (r.status === 200) legitOk++;
      else legitFailed++;
      if (i % 2 === 0) {
        const up = await httpRequest(
          base,
          'PUT',
          `/api/v1/fs/p02/out/eingang-${i}.csv`,
          { authorization: `Bearer ${tokens.p02!}`, 'x-sluice-records': '12', 'x-sluice-categories': 'billing' },
          randomBytes(2048),
        );
        if (up.status === 201) legitOk++;
        else legitFailed++;
      }
      try {
        await sftpRead(legitSession.sftp, `/p05/out/abrechnung-05-${String(i).padStart(3, '0')}.csv`);
        legitOk++;
      } catch {
        legitFailed++;
      }
    }
  })();

  t = Date.now();
  const sftpBatch = sftpTargets.map((p) => `-get "${p}" "${path.join(loot, 'sftp' + p.replaceAll('/', '_'))}"`).join('\n') + '\n';
  const sftpRun = runProcess(
    tools.sftp,
    ['-b', '-', '-P', String(sftpPort), ...opensshOptions(knownHosts, attackerKey.file), '-o', `BindAddress=${attacker.ip}`, `p07@127.0.0.1`],
    sftpBatch,
  );
  const httpGot = new Map<string, Buffer>();
  const httpStatus = new Map<number, number>();
  // The HTTP side joins once the SFTP client has its first file (SSH setup takes longer than a
  // GET), so both protocols take part before the budget is spent.
  const sftpStarted = Date.now();
  while (fs.readdirSync(loot).length === 0 && Date.now() - sftpStarted < 15_000) await sleep(20);
  const httpRun = parallel(
    httpTargets.map((p) => async () => {
      const r = await httpRequest(base, 'GET', `/api/v1/fs${p}`, { authorization: `Bearer ${attacker.token}` }, undefined, attacker.ip);
      httpStatus.set(r.status, (httpStatus.get(r.status) ?? 0) + 1);
      if (r.status === 200 && r.body.length > 0) httpGot.set(p, r.body);
    }),
    4,
  );
  const [sftpResult] = await Promise.all([sftpRun, httpRun, legit]);
  timings.attack = Date.now() - t;
  // What the attacker's clients actually hold: every local file with at least one byte.
  const received = new Map<string, Buffer>(httpGot);
  for (const f of fs.readdirSync(loot)) {
    const body = fs.readFileSync(path.join(loot, f));
    if (body.length > 0) received.set(f.replace(/^sftp/, '').replaceAll('_', '/'), body);
  }
  const viaSftp = [...received.keys()].filter((p) => !httpGot.has(p)).length;
  const receivedBytes = [...received.values()].reduce((n, b) => n + b.length, 0);
  const intact = [...received].every(([p, b]) => seeded.get(p)?.sha256 === sha(b));
  const receivedOrgs = new Set([...received.keys()].map((p) => seeded.get(p)?.org ?? '?'));
  log(
    `   attacker received ${received.size} files (${viaSftp} over SFTP, ${httpGot.size} over HTTP; HTTP statuses ${JSON.stringify(Object.fromEntries(httpStatus))}; sftp exit ${sftpResult.code}) in ${(timings.attack / 1000).toFixed(1)} s`,
  );
  check(
    'budget',
    `at most the budget left: ≤ ${DRILL.userFiles} files and ≤ ${DRILL.userBytes} bytes`,
    received.size > 0 && received.size <= DRILL.userFiles && receivedBytes <= DRILL.userBytes,
    `${received.size} files, ${receivedBytes} bytes (${viaSftp} SFTP + ${httpGot.size} HTTP) of ${targets.length} attempted`,
  );
  check('budget', 'every file the attacker holds is complete and genuine (SHA-256)', received.size > 0 && intact, intact ? 'all match' : 'mismatch');
  fs.writeFileSync(path.join(dir, 'attacker-sftp.log'), sftpResult.out + sftpResult.err);
  // OpenSSH shows only the status ("Failure"); the ssh2 client shows the server's message too.
  const sftpRefusals = sftpResult.err.split('\n').filter((l) => /^remote open .*: Failure$/.test(l.trim()));
  const oneMore = await sftpSession(sftpPort, 'p07', fs.readFileSync(attackerKey.file), hostKeyBlobs, attacker.ip).then(
    async (sess) => {
      try {
        await sftpRead(sess.sftp, sftpTargets.at(-1)!);
        return 'read';
      } catch (e) {
        return (e as Error).message;
      } finally {
        sess.end();
      }
    },
    (e: Error) => `no session: ${e.message}`,
  );
  check(
    'budget',
    'both protocols delivered files before the budget was spent',
    viaSftp > 0 && httpGot.size > 0,
    `${viaSftp} over SFTP, ${httpGot.size} over HTTP`,
  );
  check(
    'budget',
    'then downloads were refused over both protocols (HTTP 429; SFTP failure status with the budget message)',
    (httpStatus.get(429) ?? 0) > 0 && sftpRefusals.length > 0 && viaSftp + sftpRefusals.length === sftpTargets.length && /budget/i.test(oneMore),
    `HTTP 429 × ${httpStatus.get(429) ?? 0}; SFTP refused × ${sftpRefusals.length} ("${oneMore}")`,
  );
  check('budget', 'the breach spans more than one partner', receivedOrgs.size > 1, `${receivedOrgs.size} partners: ${[...receivedOrgs].sort().join(', ')}`);
  check(
    'budget',
    'legitimate partners kept working from 127.0.0.1 (HTTP and SFTP)',
    legitFailed === 0 && legitOk === 25,
    `${legitOk} operations succeeded, ${legitFailed} failed`,
  );

  // --- 4. alerts ------------------------------------------------------------------------------------
  log('4. alerts: BUDGET_TRIPPED by e-mail, webhook and in the ledger');
  const waitUntil = Date.now() + DRILL.bounds.alertMs + 2000;
  // One look at the ledger since the attack began (the command takes seconds): the trip and its alert.
  const events = JSON.parse((await sluice(['audit', 'events', '--from', new Date(attackFrom).toISOString(), '--limit', '10000', '--json'])).out || '[]') as {
    action: string;
    time: string;
    detail: Record<string, unknown>;
  }[];
  const trips = events.filter((e) => e.action === 'budget.trip');
  const trip = trips.find((e) => e.detail.by === 'p07');
  const tripAt = trip ? Date.parse(trip.time) : NaN;
  let mailAt: number | undefined;
  let hookAt: number | undefined;
  while (Date.now() < waitUntil && (mailAt === undefined || hookAt === undefined)) {
    mailAt ??= mailTimes.find((m) => m.to.includes('soc@insurer.example') && m.data.includes('BUDGET_TRIPPED'));
    hookAt ??= hook.received.find((h) => h.valid && h.body.code === 'BUDGET_TRIPPED')?.at;
    if (mailAt === undefined || hookAt === undefined) await sleep(50);
  }
  const ledgerAlert = events.find((e) => e.action === 'alert' && e.detail.code === 'BUDGET_TRIPPED' && e.detail.by === 'p07');
  check(
    'alert',
    'the budget tripped for the stolen credential (ledger budget.trip)',
    !!trip,
    trip ? `${trip.detail.label} at ${trip.time}` : `no trip (${trips.length} trip events)`,
  );
  timings.alertEmail = mailAt !== undefined ? mailAt - tripAt : NaN;
  timings.alertWebhook = hookAt !== undefined ? hookAt - tripAt : NaN;
  check(
    'alert',
    `e-mail alert within ${DRILL.bounds.alertMs / 1000} s of the trip`,
    timings.alertEmail <= DRILL.bounds.alertMs,
    mailAt !== undefined ? `${timings.alertEmail} ms` : 'no e-mail',
  );
  check(
    'alert',
    `signed webhook alert within ${DRILL.bounds.alertMs / 1000} s of the trip (HMAC checked)`,
    timings.alertWebhook <= DRILL.bounds.alertMs,
    hookAt !== undefined ? `${timings.alertWebhook} ms` : `no valid webhook (${hook.received.length} received)`,
  );
  check(
    'alert',
    'the alert is in the ledger',
    !!ledgerAlert && Date.parse(ledgerAlert.time) - tripAt <= DRILL.bounds.alertMs,
    ledgerAlert ? `alert event at ${ledgerAlert.time}` : 'missing',
  );

  // --- 5. incident scope ---------------------------------------------------------------------------
  log(`5. sluice incident scope --ip ${attacker.ip}`);
  const scopeFile = path.join(dir, 'scope.json');
  const scopeTo = new Date(Date.now() + 1000).toISOString();
  const sc = await sluice([
    'incident',
    'scope',
    '--ip',
    attacker.ip,
    '--from',
    new Date(attackFrom).toISOString(),
    '--to',
    scopeTo,
    '--json',
    '--out',
    scopeFile,
  ]);
  timings.scope = sc.ms;
  type ScopeJson = {
    reads: { path: string; org: string | null; extent?: string; addresses: string[]; by: string[] }[];
    organisations: { org: string | null; filesRead: number; dataSubjects: number; contacts: { email: string }[] }[];
    actors: { login: string | null }[];
    totals: { filesRead: number; dataSubjects: number };
    ledger: { lastSeq: number | null };
  };
  const scope: ScopeJson | undefined = sc.code === 0 ? (JSON.parse(fs.readFileSync(scopeFile, 'utf8')) as ScopeJson) : undefined;
  const scopePaths = new Set(scope?.reads.map((r) => r.path) ?? []);
  const missing = [...received.keys()].filter((p) => !scopePaths.has(p));
  const extra = [...scopePaths].filter((p) => !received.has(p));
  check(
    'scope',
    `incident scope finishes in < ${DRILL.bounds.scopeMs / 1000} s (the whole command)`,
    sc.code === 0 && sc.ms < DRILL.bounds.scopeMs,
    `${sc.ms} ms, exit ${sc.code}${sc.code ? ': ' + sc.err.trim() : ''}`,
  );
  check(
    'scope',
    'it names exactly the files the attacker received',
    !!scope && received.size > 0 && missing.length === 0 && extra.length === 0,
    `${scopePaths.size} named, ${received.size} received; missing ${missing.length}, extra ${extra.length}`,
  );
  const scopeOrgs = new Set((scope?.organisations ?? []).filter((o) => o.filesRead > 0).map((o) => o.org ?? '?'));
  const orgsRight = sameSet(scopeOrgs, receivedOrgs) && (scope?.reads ?? []).every((r) => r.org === seeded.get(r.path)?.org);
  check('scope', 'and their partner organisations', orgsRight, `${[...scopeOrgs].sort().join(', ')}`);
  const subjects = [...received.keys()].reduce((n, p) => n + (seeded.get(p)?.records ?? 0), 0);
  check(
    'scope',
    'with the data subjects of those files',
    scope?.totals.dataSubjects === subjects,
    `${scope?.totals.dataSubjects} data subjects (expected ${subjects})`,
  );
  const actors = (scope?.actors ?? []).map((a) => a.login);
  check(
    'scope',
    'legitimate traffic from other addresses is not in it',
    actors.length === 1 && actors[0] === 'p07' && (scope?.reads ?? []).every((r) => r.addresses.length === 1 && r.addresses[0] === attacker.ip),
    `actors: ${actors.join(', ')}`,
  );

  // --- 6. notification -----------------------------------------------------------------------------
  log('6. sluice incident notify --scope (drafts, then --send) and incident report');
  const nd = await sluice(['incident', 'notify', '--scope', scopeFile, '--lang', 'en', '--json']);
  timings.notifyDrafts = nd.ms;
  type Drafts = { drafts: { org: string | null; to: string[]; text: string; sent?: boolean }[]; withoutContact: string[] };
  const drafts: Drafts = nd.code === 0 ? (JSON.parse(nd.out) as Drafts) : { drafts: [], withoutContact: [] };
  const draftOrgs = new Set(drafts.drafts.map((d) => d.org ?? '?'));
  const draftsRight = drafts.drafts.every((d) => {
    const mine = [...received.keys()].filter((p) => seeded.get(p)?.org === d.org);
    const others = [...received.keys()].filter((p) => seeded.get(p)?.org !== d.org);
    const n = Number(d.org?.slice(-2));
    return (
      mine.every((p) => d.text.includes(p)) &&
      !others.some((p) => d.text.includes(p)) &&
      d.to.length === 1 &&
      d.to[0] === `datenschutz@partner${pad(n)}.example`
    );
  });
  check(
    'notify',
    'one draft per affected partner, and only for them',
    nd.code === 0 && sameSet(draftOrgs, receivedOrgs) && drafts.drafts.length === receivedOrgs.size,
    `${drafts.drafts.length} drafts: ${[...draftOrgs].sort().join(', ')}`,
  );
  check(
    'notify',
    "each draft lists exactly that partner's files and goes to its contact",
    nd.code === 0 && drafts.drafts.length > 0 && draftsRight,
    draftsRight ? 'yes' : 'no',
  );
  const before = smtp.mails.length;
  const ns = await sluice(['incident', 'notify', '--scope', scopeFile, '--lang', 'de', '--send', '--json']);
  timings.notifySend = ns.ms;
  const sent = smtp.mails.slice(before).filter((m) => m.to.some((a) => a.startsWith('datenschutz@')));
  const sentTo = new Set(sent.flatMap((m) => m.to));
  const expectedTo = new Set([...receivedOrgs].map((o) => `datenschutz@partner${o.slice(-2)}.example`));
  check(
    'notify',
    '--send delivers them to the partners over SMTP',
    ns.code === 0 && sent.length === receivedOrgs.size && sameSet(sentTo, expectedTo),
    `${sent.length} mails to ${[...sentTo].sort().join(', ')}`,
  );
  const artFile = path.join(dir, 'art33.md');
  const rep = await sluice(['incident', 'report', '--scope', scopeFile, '--out', artFile]);
  const art = rep.code === 0 ? fs.readFileSync(artFile, 'utf8') : '';
  check(
    'notify',
    'incident report writes the Art. 33 skeleton with the numbers',
    // The report writes numbers in its language (145.028 in German, 145,028 in English).
    rep.code === 0 && [String(subjects), subjects.toLocaleString('de-DE'), subjects.toLocaleString('en-GB')].some((n) => art.includes(n)),
    rep.code === 0 ? `${art.length} characters` : rep.err.trim(),
  );

  // --- 7. lockdown ---------------------------------------------------------------------------------
  log('7. sluice lockdown on --mode closed');
  const sessionFail = pollUntilFails(async () => {
    await new Promise<void>((resolve, reject) => legitSession.sftp.readdir('/p05/out', (err) => (err ? reject(err) : resolve())));
  });
  const httpFail = pollUntilFails(async () => {
    const r = await httpRequest(base, 'GET', '/api/v1/fs/p02/out/', { authorization: `Bearer ${tokens.p02!}` });
    if (r.status !== 200) throw new Error(`HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
  });
  const lockFrom = new Date(Date.now() - 1000).toISOString();
  const slow = slowDownload(base, BIG_FILE, tokens.p02!, SLOW_READ_BYTES_PER_S);
  await sleep(300);
  const lk = await sluice(['lockdown', 'on', '--mode', 'closed', '--reason', 'drill: stolen credential of p07', '--json']);
  const [sFail, hFail, slowEnd] = await Promise.all([sessionFail.result(15_000), httpFail.result(15_000), slow.result(30_000)]);
  const lockEvents = JSON.parse((await sluice(['audit', 'events', '--from', lockFrom, '--limit', '10000', '--json'])).out || '[]') as {
    action: string;
    time: string;
    path: string | null;
    bytes: number | null;
    detail: Record<string, unknown>;
  }[];
  const onEvents = lockEvents.filter((e) => e.action === 'lockdown.on');
  const onAt = onEvents.length ? Date.parse(onEvents.at(-1)!.time) : NaN;
  timings.lockdownSftpSession = sFail ? sFail.at - onAt : NaN;
  timings.lockdownHttp = hFail ? hFail.at - onAt : NaN;
  // The server's own record of when it stopped sending the large file (file.read.end, incomplete).
  const cut = lockEvents.find((e) => e.action === 'file.read.end' && e.path === BIG_FILE);
  timings.lockdownRunningDownload = cut ? Date.parse(cut.time) - onAt : NaN;
  check('lockdown', 'lockdown on succeeds', lk.code === 0 && onEvents.length > 0, `exit ${lk.code}, ledger lockdown.on at ${onEvents.at(-1)?.time}`);
  check(
    'lockdown',
    `a running SFTP session is refused within ${DRILL.bounds.lockdownMs / 1000} s`,
    !!sFail && /lock/i.test(sFail.error) && timings.lockdownSftpSession < DRILL.bounds.lockdownMs,
    sFail ? `${timings.lockdownSftpSession} ms after the change (${sFail.error})` : 'still working',
  );
  check(
    'lockdown',
    `HTTP requests are refused within ${DRILL.bounds.lockdownMs / 1000} s`,
    !!hFail && /HTTP 423/.test(hFail.error) && timings.lockdownHttp < DRILL.bounds.lockdownMs,
    hFail ? `${timings.lockdownHttp} ms after the change (${hFail.error.slice(0, 60)})` : 'still working',
  );
  check(
    'lockdown',
    `a download in progress over HTTP is cut off within ${DRILL.bounds.lockdownMs / 1000} s (the server's file.read.end record), the client holding an incomplete file`,
    !!cut &&
      cut.detail.complete === false &&
      timings.lockdownRunningDownload < DRILL.bounds.lockdownMs &&
      !!slowEnd &&
      !slowEnd.complete &&
      slowEnd.bytes < BIG_FILE_BYTES,
    cut
      ? `${timings.lockdownRunningDownload} ms after the change; ${cut.bytes} of ${BIG_FILE_BYTES} bytes sent, client got ${slowEnd?.bytes ?? '?'} (${slowEnd?.error ?? 'ended normally'})`
      : 'no end record',
  );
  const newSftp = await sftpSession(sftpPort, 'p05', fs.readFileSync(legitKey.file), hostKeyBlobs).then(
    (s) => {
      s.end();
      return 'accepted';
    },
    (e: Error) => `refused (${e.message})`,
  );
  const login = await httpRequest(
    base,
    'POST',
    '/api/v1/auth/login',
    { 'content-type': 'application/json', origin: base },
    Buffer.from(JSON.stringify({ login: 'p02', password: userPassword })),
  );
  const stolenToken = await httpRequest(base, 'GET', '/api/v1/fs/p03/out/', { authorization: `Bearer ${attacker.token}` }, undefined, attacker.ip);
  check(
    'lockdown',
    'new sign-ins are refused (SFTP key, HTTP password, API token)',
    newSftp.startsWith('refused') && login.status >= 400 && stolenToken.status >= 400,
    `SFTP ${newSftp}; login HTTP ${login.status}; token HTTP ${stolenToken.status}`,
  );
  const lockMail = mailTimes.find((m) => m.to.includes('soc@insurer.example') && m.data.includes('LOCKDOWN_CHANGED'));
  const lockHook = hook.received.find((h) => h.valid && h.body.code === 'LOCKDOWN_CHANGED');
  check(
    'lockdown',
    'the change raised LOCKDOWN_CHANGED by e-mail and signed webhook',
    lockMail !== undefined && !!lockHook,
    `e-mail ${lockMail !== undefined ? 'received' : 'missing'}, webhook ${lockHook ? 'received' : 'missing'}`,
  );
  const st = await sluice(['lockdown', 'status', '--json']);
  const ls = await sluice(['file', 'ls', '/p03/out', '--json']);
  const adminWorks =
    st.code === 0 &&
    (JSON.parse(st.out) as { mode: string }).mode === 'closed' &&
    ls.code === 0 &&
    (JSON.parse(ls.out) as unknown[]).length === DRILL.filesPerPartner;
  check('lockdown', 'the administrator CLI still works', adminWorks, `lockdown status exit ${st.code}, file ls exit ${ls.code}`);

  // --- 8. backup → restore → verify ----------------------------------------------------------------
  log('8. sluice backup (server running) → sluice restore into an empty data directory → sluice verify, sluice audit verify');
  const backupDir = path.join(dir, 'backup');
  const pass = path.join(dir, 'backup.pass');
  fs.writeFileSync(pass, 'drill backup passphrase, keep apart\n', { mode: 0o600 });
  const bk = await sluice(['backup', '--to', backupDir, '--passphrase-file', pass, '--json']);
  timings.backup = bk.ms;
  const bkFiles = bk.code === 0 ? ((JSON.parse(bk.out) as { tables: { name: string; rows: number }[] }).tables.find((x) => x.name === 'files')?.rows ?? 0) : 0;
  check(
    'backup',
    'backup of the running server',
    bk.code === 0 && bkFiles >= seeded.size,
    `${bk.ms} ms, ${bkFiles} files${bk.code ? ': ' + bk.err.trim() : ''}`,
  );
  const restoredEnv: Record<string, string> = {
    SLUICE_DATA_DIR: path.join(dir, 'restored'),
    SLUICE_LOG_LEVEL: 'warn',
    SLUICE_ADMIN: 'root',
    ...(restoredDbUrl ? { SLUICE_DATABASE_URL: restoredDbUrl } : {}),
  };
  const rs = await sluice(['restore', '--from', backupDir, '--passphrase-file', pass, '--json'], restoredEnv);
  timings.restore = rs.ms;
  check(
    'backup',
    'restore into an empty data directory',
    rs.code === 0 && (JSON.parse(rs.out || '{}') as { ok?: boolean }).ok === true,
    `${rs.ms} ms${rs.code ? ': ' + rs.err.trim() : ''}`,
  );
  const vf = await sluice(['verify', '--json'], restoredEnv);
  timings.verify = vf.ms;
  const vr = vf.code === 0 ? (JSON.parse(vf.out) as { ok: boolean; files: number }) : undefined;
  check(
    'backup',
    'sluice verify passes on the restored instance (every blob re-read, SHA-256 checked)',
    !!vr?.ok && vr.files === bkFiles,
    `${vf.ms} ms, ${vr?.files ?? 0} files${vf.code ? ': ' + (vf.out + vf.err).trim().slice(0, 300) : ''}`,
  );
  const av = await sluice(['audit', 'verify', '--json'], restoredEnv);
  timings.auditVerify = av.ms;
  const ar = av.code === 0 ? (JSON.parse(av.out) as { ok: boolean; events: number }) : undefined;
  check(
    'backup',
    'sluice audit verify passes on the restored instance',
    !!ar?.ok,
    `${av.ms} ms, ${ar?.events ?? 0} events${av.code ? ': ' + av.err.trim() : ''}`,
  );
  const rsScope = await sluice(
    ['incident', 'scope', '--ip', attacker.ip, '--from', new Date(attackFrom).toISOString(), '--to', scopeTo, '--json'],
    restoredEnv,
  );
  const rsReads = rsScope.code === 0 ? new Set((JSON.parse(rsScope.out) as ScopeJson).reads.map((r) => r.path)) : new Set<string>();
  check('backup', 'the restored ledger answers the same incident scope', rsScope.code === 0 && sameSet(rsReads, scopePaths), `${rsReads.size} files`);
}

// --- helpers ---------------------------------------------------------------------------------------

function which(tool: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const f = path.join(d, tool);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return undefined;
}

async function* once(b: Buffer): AsyncGenerator<Uint8Array> {
  yield b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((x) => b.has(x));

async function parallel(jobs: readonly (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

function runProcess(
  cmd: string,
  args: string[],
  input: string,
  env: Record<string, string> = {},
  timeoutMs = 300_000,
): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.tmpdir(), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: Date.now() - t0 });
    });
    c.stdin.on('error', () => undefined);
    c.stdin.end(input);
  });
}

/** The real `sluice` command (through tsx, as in development). */
function runCli(args: string[], env: Record<string, string>): Promise<Cli> {
  return runProcess(process.execPath, ['--import', 'tsx', MAIN, ...args], '', env);
}

function startServer(env: Record<string, string>, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  const c = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), ...env },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  return c;
}

async function stopServer(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function waitReady(port: number, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error('the server did not become ready (see server.log with --keep)');
    await sleep(100);
  }
}

/** One HTTP request from a chosen local address (the attacker's), body collected. */
function httpRequest(
  base: string,
  method: string,
  urlPath: string,
  headers: Record<string, string>,
  body?: Buffer,
  localAddress?: string,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(urlPath, base);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        agent: false,
        ...(localAddress ? { localAddress } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Stamped {
  readonly to: string[];
  readonly data: string;
  readonly at: number;
}

/** Arrival times of mails at the test SMTP server (polled every 20 ms). */
function stampArrivals(smtp: TestSmtp): { find(pred: (m: Stamped) => boolean): number | undefined; stop(): void } {
  const stamped: Stamped[] = [];
  const timer = setInterval(() => {
    while (stamped.length < smtp.mails.length) stamped.push({ ...smtp.mails[stamped.length]!, at: Date.now() });
  }, 20);
  return { find: (pred) => stamped.find(pred)?.at, stop: () => clearInterval(timer) };
}

interface Hooked {
  readonly at: number;
  readonly valid: boolean;
  readonly body: Record<string, unknown>;
}

/** A webhook receiver that checks the X-Sluice-Signature HMAC and stamps arrival times. */
async function startWebhook(secret: string): Promise<{ url: string; received: Hooked[]; close(): Promise<void> }> {
  const received: Hooked[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const at = Date.now();
      const raw = Buffer.concat(parts).toString();
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-sluice-signature'] ?? ''));
      const want = m ? createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest() : undefined;
      const valid = !!m && !!want && timingSafeEqual(want, Buffer.from(m[2]!, 'hex'));
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        /* invalid */
      }
      received.push({ at, valid, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function sshKeygen(keygen: string, dir: string, name: string): Promise<{ file: string; publicLine: string }> {
  const file = path.join(dir, name);
  const r = await runProcess(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@drill`, '-f', file], '');
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.err}`);
  return { file, publicLine: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

/** An SFTP session with the ssh2 client (stays open), the host key checked against the server's. */
function sftpSession(
  port: number,
  user: string,
  privateKey: Buffer,
  hostKeys: ReadonlySet<string>,
  localAddress?: string,
): Promise<{ sftp: SFTPWrapper; end(): void }> {
  return new Promise((resolve, reject) => {
    const c = new SshClient();
    c.on('error', reject);
    c.on('ready', () => {
      c.sftp((err, sftp) => (err ? reject(err) : resolve({ sftp, end: () => c.end() })));
    });
    c.connect({
      host: '127.0.0.1',
      port,
      username: user,
      privateKey,
      readyTimeout: 10_000,
      ...(localAddress ? { localAddress } : {}),
      hostVerifier: (key: Buffer) => hostKeys.has(key.toString('base64')),
    });
  });
}

function sftpRead(sftp: SFTPWrapper, p: string): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.readFile(p, (err, data) => (err ? reject(err) : resolve(data))));
}

/** A GET read at `rate` bytes/s (a slow client); result() says how much arrived and how it ended. */
function slowDownload(
  base: string,
  urlPath: string,
  token: string,
  rate: number,
): { result(timeoutMs: number): Promise<{ bytes: number; complete: boolean; error?: string } | undefined> } {
  const done = new Promise<{ bytes: number; complete: boolean; error?: string }>((resolve) => {
    let bytes = 0;
    const req = http.get(new URL(`/api/v1/fs${urlPath}`, base), { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      const expected = Number(res.headers['content-length']);
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        res.pause();
        setTimeout(() => res.resume(), (c.length / rate) * 1000);
      });
      res.on('end', () => resolve({ bytes, complete: res.complete && bytes === expected }));
      res.on('error', (e) => resolve({ bytes, complete: false, error: e.message }));
      res.on('aborted', () => resolve({ bytes, complete: false, error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ bytes, complete: false, error: e.message }));
  });
  return {
    result: (timeoutMs) => Promise.race([done, sleep(timeoutMs).then(() => undefined)]),
  };
}

/** Repeats `op` every 50 ms until it fails; result() gives the time and error of the first failure. */
function pollUntilFails(op: () => Promise<void>): { result(timeoutMs: number): Promise<{ at: number; error: string } | undefined> } {
  let stop = false;
  const done = (async () => {
    while (!stop) {
      try {
        await op();
      } catch (e) {
        return { at: Date.now(), error: (e as Error).message };
      }
      await sleep(50);
    }
    return undefined;
  })();
  return {
    async result(timeoutMs) {
      const timer = setTimeout(() => (stop = true), timeoutMs);
      const r = await done;
      clearTimeout(timer);
      return r;
    },
  };
}

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    // The name is generated here (hex), never taken from input; identifiers cannot be parameters.
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
