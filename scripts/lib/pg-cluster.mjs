// A throwaway PostgreSQL cluster from the machine's binaries, for `npm test` (scripts/test.mjs)
// and the benchmarks (bench/ledger.ts): initdb in a temp dir, trust auth, a free loopback port,
// and a synchronous stop that also works from 'exit' handlers and on a half-started cluster.
//
//   const c = pgCluster({ log, settings: { fsync: 'off' } });
//   const url = await c.start();   // postgres://postgres@127.0.0.1:PORT/postgres
//   …
//   c.stopSync();                  // stops it and removes its directory; safe to call twice
//
// Binaries: the newest /usr/lib/postgresql/*/bin, or PATH. When missing and we are root, the
// Debian package is installed with apt-get (without postgresql-common's own "main" cluster).
// As root, the tools run as the "postgres" user.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const IS_ROOT = process.getuid?.() === 0;

export class ClusterError extends Error {}

const since = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const tail = (text, lines = 30) => text.trimEnd().split('\n').slice(-lines).join('\n');

function hasPgTools(dir) {
  return ['initdb', 'pg_ctl', 'postgres'].every((tool) => fs.existsSync(path.join(dir, tool)));
}

/** The bin directory of the newest PostgreSQL on this machine, or undefined. */
export function findPgBin() {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .filter((v) => /^\d+(\.\d+)?$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const candidates = [...versions.map((v) => path.join(base, v, 'bin')), ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean)];
  return candidates.find(hasPgTools);
}

/** Runs a command with stdout+stderr appended to `outFile`; resolves to { code, output }. */
function runCaptured(cmd, args, outFile, opts = {}) {
  return new Promise((resolve, reject) => {
    // A file, not a pipe: the postmaster started by `pg_ctl start` must not hold our pipes open.
    const fd = fs.openSync(outFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], ...opts });
    fs.closeSync(fd);
    child.on('error', (err) => reject(new ClusterError(`cannot run ${cmd}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      let output = '';
      try {
        output = fs.readFileSync(outFile, 'utf8');
      } catch {}
      resolve({ code: code ?? 128 + (os.constants.signals[signal] ?? 0), output });
    });
  });
}

/** Runs a command with inherited stdio; resolves to its exit code. */
function runInherited(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...opts });
    child.on('error', (err) => reject(new ClusterError(`cannot run ${cmd}: ${err.message}`)));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (os.constants.signals[signal] ?? 0)));
  });
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

/**
 * A cluster handle. Options: `log(msg)`; `settings` (postgresql.conf lines, e.g. { fsync: 'off' });
 * `checkInterrupted()` (called after each step, throws to abandon the start); `runForeground`
 * (cmd, args, opts) → exit code, for apt-get (defaults to inherited stdio); `label` (conf comment).
 */
export function pgCluster(opts = {}) {
  const log = opts.log ?? (() => {});
  const checkInterrupted = opts.checkInterrupted ?? (() => {});
  const runForeground = opts.runForeground ?? runInherited;
  let state; // { bin, dir, data } once the directory exists

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
    for (const args of [['update'], ['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confold', 'postgresql']]) {
      log(`postgres: apt-get ${args.join(' ')}`);
      const code = await runForeground('apt-get', args, { env });
      checkInterrupted();
      if (code !== 0) throw new ClusterError(`apt-get ${args[0]} failed (exit code ${code})`);
    }
  }

  async function start() {
    const t0 = Date.now();
    let bin = findPgBin();
    if (!bin && IS_ROOT) {
      await installPostgres();
      bin = findPgBin();
    }
    if (!bin) {
      throw new ClusterError(
        'PostgreSQL binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin or on PATH' +
          (IS_ROOT ? ', and installing them failed' : '; install PostgreSQL (apt-get install postgresql) or run as root'),
      );
    }
    let owner;
    if (IS_ROOT) {
      owner = userIds('postgres');
      if (!owner) throw new ClusterError('running as root, but there is no "postgres" user to run PostgreSQL as');
    }

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pg-'));
    const data = path.join(dir, 'data');
    const out = path.join(dir, 'commands.log');
    const serverLog = path.join(dir, 'postgres.log');
    state = { bin, dir, data };
    if (owner) fs.chownSync(dir, owner.uid, owner.gid);

    const initdb = await runCaptured(...pgCommand(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']), out);
    checkInterrupted();
    if (initdb.code !== 0) throw new ClusterError(`initdb failed (exit code ${initdb.code}):\n${tail(initdb.output)}`);
    const settings = { listen_addresses: "'127.0.0.1'", unix_socket_directories: `'${dir}'`, ...(opts.settings ?? {}) };
    fs.appendFileSync(
      path.join(data, 'postgresql.conf'),
      ['', `# throwaway cluster (${opts.label ?? 'scripts/lib/pg-cluster.mjs'})`, ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`), ''].join('\n'),
    );

    // The port is free when asked for, but another process may take it before the server binds:
    // try a few ports.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      // detached: the postmaster gets its own session, so a terminal's Ctrl-C reaches us, and we
      // stop the cluster in order rather than racing its own shutdown.
      const started = await runCaptured(...pgCommand(bin, 'pg_ctl', ['-D', data, '-l', serverLog, '-w', '-t', '60', '-o', `-p ${port}`, 'start']), out, {
        detached: true,
      });
      checkInterrupted();
      if (started.code === 0) {
        log(`postgres: started on 127.0.0.1:${port} in ${dir} (${since(t0)})`);
        return `postgres://postgres@127.0.0.1:${port}/postgres`;
      }
      const serverOutput = fs.existsSync(serverLog) ? fs.readFileSync(serverLog, 'utf8') : '';
      if (attempt < 3 && /could not bind|address already in use/i.test(serverOutput)) {
        log(`postgres: port ${port} was taken, trying another`);
        continue;
      }
      throw new ClusterError(`pg_ctl start failed (exit code ${started.code}):\n${tail(started.output)}\n${tail(serverOutput)}`);
    }
  }

  /** Stops the cluster (if any) and removes its directory. Synchronous: safe in 'exit' handlers. */
  function stopSync() {
    if (!state) return;
    const { bin, dir, data } = state;
    state = undefined;
    const t0 = Date.now();
    let pid;
    try {
      pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {}
    if (pid) {
      const [cmd, args] = pgCommand(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      const stop = spawnSync(cmd, args, { encoding: 'utf8' });
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

  return {
    start,
    stopSync,
    /** The cluster's directory (data in `data/`), while it exists. */
    get dir() {
      return state?.dir;
    },
  };
}
