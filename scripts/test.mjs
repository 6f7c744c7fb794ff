#!/usr/bin/env node
// `npm test`: the whole test suite, with the real components it needs.
//
//   1. typecheck (tsc --noEmit) and lint (eslint .), failing fast;
//   2. a throwaway PostgreSQL cluster from the machine's binaries (installed with apt-get when
//      missing and we are root), on a free loopback port, trust auth, fsync off;
//   3. node's test runner over every *.test.ts under src/ and test/, with SLUICE_TEST_PG_URL set;
//   4. the cluster is stopped and its directory removed, whatever happens (failure, SIGINT,
//      SIGTERM), and the exit code is the test runner's.
//
// Usage: npm test [-- [NODE_TEST_FLAGS…] [FILTER…]]
//   FILTER keeps the test files whose path contains it:  npm test -- src/core test/parity
//   flags starting with "-" go to node:                  npm test -- --test-name-pattern=upload
//   SLUICE_TEST_SKIP_CHECKS=1 skips typecheck and lint (a local quick loop; refused in CI).
// PostgreSQL is never skipped: when it cannot be started, this fails.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TEST_ROOTS = ['src', 'test'];
const IS_ROOT = process.getuid?.() === 0;
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

const log = (msg) => console.log(`[test] ${msg}`);
const since = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

class Failure extends Error {}

// ------------------------------------------------------------------------------------------------
// Children and signals. `current` is the foreground child (tsc, eslint, the test runner): a signal
// is forwarded to it and the main flow unwinds when it has exited. PostgreSQL commands are never
// interrupted half-way; the main flow checks `interrupted` after each step.
// ------------------------------------------------------------------------------------------------
let current;
let interrupted;

function onSignal(signal) {
  if (interrupted) {
    log(`${signal} again: cleaning up now`);
    cleanupSync();
    process.exit(SIGNAL_EXIT[signal] ?? 1);
  }
  interrupted = signal;
  log(`${signal} received: stopping`);
  current?.kill(signal);
  // If the child does not go away, do not hang: clean up and leave anyway.
  setTimeout(() => {
    log('children did not stop in time: cleaning up now');
    cleanupSync();
    process.exit(SIGNAL_EXIT[signal] ?? 1);
  }, 15_000).unref();
}
for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, onSignal);
process.on('exit', () => cleanupSync());

function checkInterrupted() {
  if (interrupted) throw new Failure(`interrupted by ${interrupted}`);
}

/** Runs a command with inherited stdio; resolves to its exit code (128+n when killed by a signal). */
function runForeground(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
    current = child;
    child.on('error', (err) => {
      current = undefined;
      reject(new Failure(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      current = undefined;
      resolve(code ?? 128 + (os.constants.signals[signal] ?? 0));
    });
  });
}

/** Runs a command with stdout+stderr captured to `outFile`; resolves to { code, output }. */
function runCaptured(cmd, args, outFile, opts = {}) {
  return new Promise((resolve, reject) => {
    // A file, not a pipe: the postmaster started by `pg_ctl start` must not hold our pipes open.
    const fd = fs.openSync(outFile, 'a');
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', fd, fd], ...opts });
    fs.closeSync(fd);
    child.on('error', (err) => reject(new Failure(`cannot run ${cmd}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      let output = '';
      try {
        output = fs.readFileSync(outFile, 'utf8');
      } catch {}
      resolve({ code: code ?? 128 + (os.constants.signals[signal] ?? 0), output });
    });
  });
}

// ------------------------------------------------------------------------------------------------
// Phase 1: typecheck and lint.
// ------------------------------------------------------------------------------------------------
async function checks() {
  // A developer's quick loop may skip them (never in CI): SLUICE_TEST_SKIP_CHECKS=1 npm test -- src/core
  if (process.env.SLUICE_TEST_SKIP_CHECKS === '1') {
    if (process.env.CI) throw new Failure('SLUICE_TEST_SKIP_CHECKS is not allowed in CI');
    log('typecheck, lint: SKIPPED (SLUICE_TEST_SKIP_CHECKS=1)');
    return;
  }
  for (const [name, args] of [
    ['typecheck', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
    ['lint', ['eslint', '.']],
  ]) {
    const t0 = Date.now();
    log(`${name}: npx ${args.join(' ')}`);
    const code = await runForeground('npx', args);
    checkInterrupted();
    if (code !== 0) throw new Failure(`${name} failed (exit code ${code})`, { cause: code });
    log(`${name}: ok (${since(t0)})`);
  }
}

// ------------------------------------------------------------------------------------------------
// Phase 2: test files.
// ------------------------------------------------------------------------------------------------
function findTestFiles(filters) {
  const files = [];
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile() && entry.name.endsWith('.test.ts')) files.push(child);
    }
  };
  for (const dir of TEST_ROOTS) if (fs.existsSync(path.join(ROOT, dir))) walk(dir);
  files.sort();
  if (filters.length === 0) return files;

  // A filter matches as written ("paths", "src/core") and as a path relative to where npm was
  // started (so `npm test -- core/paths` works from inside src/ too).
  const from = process.env.INIT_CWD || process.cwd();
  const needles = filters.flatMap((f) => {
    const plain = f.replaceAll('\\', '/').replace(/^\.\//, '').replace(/\/$/, '');
    const rel = path.relative(ROOT, path.resolve(from, f)).replaceAll('\\', '/');
    return rel && !rel.startsWith('..') ? [plain, rel] : [plain];
  });
  return files.filter((file) => needles.some((n) => file.includes(n)));
}

// ------------------------------------------------------------------------------------------------
// Phase 3: a throwaway PostgreSQL cluster.
// ------------------------------------------------------------------------------------------------
/** The running (or half-started) cluster; cleanupSync() stops it and removes its directory. */
let cluster;

function hasPgTools(dir) {
  return ['initdb', 'pg_ctl', 'postgres'].every((tool) => fs.existsSync(path.join(dir, tool)));
}

/** The bin directory of the newest PostgreSQL on this machine, or undefined. */
function findPgBin() {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .filter((v) => /^\d+(\.\d+)?$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const candidates = [
    ...versions.map((v) => path.join(base, v, 'bin')),
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
  ];
  return candidates.find(hasPgTools);
}

async function installPostgres() {
  log('postgres: no PostgreSQL binaries found; installing the Debian package "postgresql"');
  // Only the binaries are needed: keep postgresql-common from creating and starting its own
  // "main" cluster on port 5432 (if this file already exists, it is left as it is).
  const conf = '/etc/postgresql-common/createcluster.conf';
  if (!fs.existsSync(conf)) {
    log(`postgres: writing ${conf} with "create_main_cluster = false"`);
    fs.mkdirSync(path.dirname(conf), { recursive: true });
    fs.writeFileSync(conf, 'create_main_cluster = false\n');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update'],
    ['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confold', 'postgresql'],
  ]) {
    log(`postgres: apt-get ${args.join(' ')}`);
    const code = await runForeground('apt-get', args, { env });
    checkInterrupted();
    if (code !== 0) throw new Failure(`apt-get ${args[0]} failed (exit code ${code})`);
  }
}

function userIds(name) {
  const id = (flag) => spawnSync('id', [flag, name], { encoding: 'utf8' });
  const [u, g] = [id('-u'), id('-g')];
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The command line to run a PostgreSQL tool: as the postgres user when we are root. */
function pgCommand(bin, tool, args) {
  const exe = path.join(bin, tool);
  return IS_ROOT ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
}

const tail = (text, lines = 30) => text.trimEnd().split('\n').slice(-lines).join('\n');

async function startPostgres() {
  const t0 = Date.now();
  let bin = findPgBin();
  if (!bin && IS_ROOT) {
    await installPostgres();
    bin = findPgBin();
  }
  if (!bin) {
    throw new Failure(
      'PostgreSQL binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin or on PATH' +
        (IS_ROOT ? ', and installing them failed' : '; install PostgreSQL (apt-get install postgresql) or run as root') +
        '. The suite never runs without PostgreSQL.',
    );
  }
  let owner;
  if (IS_ROOT) {
    owner = userIds('postgres');
    if (!owner) throw new Failure('running as root, but there is no "postgres" user to run PostgreSQL as');
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pg-'));
  const data = path.join(dir, 'data');
  const out = path.join(dir, 'commands.log');
  const serverLog = path.join(dir, 'postgres.log');
  cluster = { bin, dir, data, out, running: false };
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);

  const initdb = await runCaptured(
    ...pgCommand(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']),
    out,
  );
  checkInterrupted();
  if (initdb.code !== 0) {
    throw new Failure(`initdb failed (exit code ${initdb.code}):\n${tail(initdb.output)}`);
  }
  fs.appendFileSync(
    path.join(data, 'postgresql.conf'),
    [
      '',
      '# throwaway test cluster (scripts/test.mjs)',
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 200',
      '',
    ].join('\n'),
  );

  // The port is free when asked for, but another process may take it before the server binds:
  // try a few ports.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // detached: the postmaster gets its own session, so a terminal's Ctrl-C reaches us (and the
    // tests), and we stop the cluster in order rather than racing its own shutdown.
    const start = await runCaptured(
      ...pgCommand(bin, 'pg_ctl', ['-D', data, '-l', serverLog, '-w', '-t', '60', '-o', `-p ${port}`, 'start']),
      out,
      { detached: true },
    );
    cluster.running = fs.existsSync(path.join(data, 'postmaster.pid'));
    checkInterrupted();
    if (start.code === 0) {
      log(`postgres: started on 127.0.0.1:${port} in ${dir} (${since(t0)})`);
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    }
    const serverOutput = fs.existsSync(serverLog) ? fs.readFileSync(serverLog, 'utf8') : '';
    if (attempt < 3 && /could not bind|address already in use/i.test(serverOutput)) {
      log(`postgres: port ${port} was taken, trying another`);
      continue;
    }
    throw new Failure(`pg_ctl start failed (exit code ${start.code}):\n${tail(start.output)}\n${tail(serverOutput)}`);
  }
}

/** Stops the cluster (if any) and removes its directory. Synchronous: safe in 'exit' handlers. */
function cleanupSync() {
  if (!cluster) return;
  const { bin, dir, data } = cluster;
  cluster = undefined;
  const t0 = Date.now();
  const pidFile = path.join(data, 'postmaster.pid');
  let pid;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {}
  if (pid) {
    const [cmd, args] = pgCommand(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
    const stop = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8' });
    if (stop.status !== 0) log(`postgres: pg_ctl stop failed: ${(stop.stderr || stop.stdout || '').trim()}`);
    if (isAlive(pid, 5000)) {
      log(`postgres: postmaster ${pid} still running; killing it`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  log(`postgres: ${pid ? 'stopped and ' : ''}removed ${dir} (${since(t0)})`);
}

/** Whether process `pid` still runs after up to `waitMs` (a zombie, exited but not yet reaped, does not). */
function isAlive(pid, waitMs = 0) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    let alive;
    try {
      process.kill(pid, 0);
      alive = !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch (err) {
      alive = err.code === 'EPERM';
    }
    if (!alive || Date.now() >= deadline) return alive;
    spawnSync('sleep', ['0.05']);
  }
}

// ------------------------------------------------------------------------------------------------
// Phase 4: node's test runner.
// ------------------------------------------------------------------------------------------------
async function runTests(files, nodeFlags, pgUrl) {
  // Tests get our test settings, never a developer's real SLUICE_* configuration (a data dir, a
  // database URL) from the shell.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_') || k.startsWith('SLUICE_TEST_')),
  );
  const dropped = Object.keys(process.env).filter((k) => !(k in env));
  if (dropped.length) log(`tests: not passing ${dropped.join(', ')} from the environment`);
  env.SLUICE_TEST_PG_URL = pgUrl;
  env.SLUICE_TEST_RUNNER = '1';
  const args = ['--import', 'tsx', '--test', '--test-concurrency=2', ...nodeFlags, ...files];
  log(`tests: node ${args.slice(0, 4 + nodeFlags.length).join(' ')} <${files.length} file(s)>`);
  return runForeground(process.execPath, args, { env });
}

async function main() {
  const argv = process.argv.slice(2);
  const nodeFlags = argv.filter((a) => a.startsWith('-'));
  const filters = argv.filter((a) => !a.startsWith('-'));

  await checks();

  const files = findTestFiles(filters);
  if (files.length === 0) {
    throw new Failure(filters.length ? `no test files match ${filters.join(', ')}` : 'no test files found');
  }
  log(`found ${files.length} test file(s) under ${TEST_ROOTS.join('/, ')}/${filters.length ? ` matching ${filters.join(', ')}` : ''}`);

  const pgUrl = await startPostgres();
  const t0 = Date.now();
  const code = await runTests(files, nodeFlags, pgUrl);
  log(`tests: exit code ${code} (${since(t0)})`);
  checkInterrupted();
  return code;
}

let exitCode;
try {
  exitCode = await main();
} catch (err) {
  if (!(err instanceof Failure)) throw err;
  log(`FAILED: ${err.message}`);
  exitCode = interrupted ? SIGNAL_EXIT[interrupted] : typeof err.cause === 'number' ? err.cause : 1;
} finally {
  cleanupSync();
}
process.exit(exitCode);
