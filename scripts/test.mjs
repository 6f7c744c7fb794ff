#!/usr/bin/env node
// `npm test`: the whole test suite, with the real components it needs.
//
//   1. typecheck (tsc --noEmit, the server and the web app), lint (eslint .) and format
//      (prettier --check .), failing fast;
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
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterError, pgCluster } from './lib/pg-cluster.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TEST_ROOTS = ['src', 'test'];
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

// ------------------------------------------------------------------------------------------------
// Phase 1: typecheck, lint and format.
// ------------------------------------------------------------------------------------------------
async function checks() {
  // A developer's quick loop may skip them (never in CI): SLUICE_TEST_SKIP_CHECKS=1 npm test -- src/core
  if (process.env.SLUICE_TEST_SKIP_CHECKS === '1') {
    if (process.env.CI) throw new Failure('SLUICE_TEST_SKIP_CHECKS is not allowed in CI');
    log('typecheck, lint, format: SKIPPED (SLUICE_TEST_SKIP_CHECKS=1)');
    return;
  }
  for (const [name, args] of [
    ['typecheck', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
    ['typecheck web', ['tsc', '-p', 'web/tsconfig.json', '--noEmit']],
    ['lint', ['eslint', '.']],
    ['format', ['prettier', '--check', '--log-level', 'warn', '.']],
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
// Phase 3: a throwaway PostgreSQL cluster (scripts/lib/pg-cluster.mjs), fsync off: tests need no
// durability across a machine crash, only speed.
// ------------------------------------------------------------------------------------------------
/** The running (or half-started) cluster; cleanupSync() stops it and removes its directory. */
let cluster;

async function startPostgres() {
  cluster = pgCluster({
    log,
    label: 'scripts/test.mjs',
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' },
    checkInterrupted,
    runForeground: (cmd, args, opts) => runForeground(cmd, args, opts),
  });
  try {
    return await cluster.start();
  } catch (err) {
    if (err instanceof ClusterError) throw new Failure(`${err.message}${/not found/.test(err.message) ? '. The suite never runs without PostgreSQL.' : ''}`);
    throw err;
  }
}

/** Stops the cluster (if any) and removes its directory. Synchronous: safe in 'exit' handlers. */
function cleanupSync() {
  cluster?.stopSync();
  cluster = undefined;
}

// ------------------------------------------------------------------------------------------------
// Phase 4: node's test runner.
// ------------------------------------------------------------------------------------------------
async function runTests(files, nodeFlags, pgUrl) {
  // Tests get our test settings, never a developer's real SLUICE_* configuration (a data dir, a
  // database URL) from the shell.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_') || k.startsWith('SLUICE_TEST_')));
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
