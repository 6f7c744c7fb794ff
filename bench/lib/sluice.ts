/**
 * A throwaway Sluice for a benchmark: a fresh data directory, set up through the real CLI
 * (init, org, user, folder, grant, token), then `sluice serve` on free loopback ports, waited for
 * on /healthz. Runs the built dist/ (after `npm run build`) like production; falls back to the
 * TypeScript sources through tsx when the build fails. Stopped at cleanup whatever happens.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupProcess } from './cleanup.js';
import { run } from './exec.js';
import { freePort, waitForUrl } from './net.js';
import { isAlive, processTree, readRssBytes } from './proc.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export class SluiceUnavailable extends Error {}

export interface SluiceOptions {
  /** Directory for the data dir, secrets and logs (a benchmark's temp dir). */
  readonly dir: string;
  /** PEM files for HTTPS; without them Sluice serves plain HTTP on loopback. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Run `npm run build` first and use dist/ (default: yes unless BENCH_BUILD=0). */
  readonly build?: boolean;
  /** Extra SLUICE_* settings for serve. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra options for the node running serve, e.g. --cpu-prof (not allowed in NODE_OPTIONS). */
  readonly nodeArgs?: readonly string[];
  /** The benchmark user, its organisation and folder (defaults: bench, bench-org, /bench). */
  readonly login?: string;
  readonly org?: string;
  readonly folder?: string;
  readonly log: (msg: string) => void;
}

export interface Sluice {
  /** https://127.0.0.1:PORT (or http://). */
  readonly baseUrl: string;
  readonly httpPort: number;
  readonly sftpPort: number;
  /** Process id of the `sluice serve` process (a node process; its children are its workers). */
  readonly pid: number;
  readonly login: string;
  readonly password: string;
  readonly folder: string;
  /** API token of `login`: Authorization: Bearer TOKEN. */
  readonly token: string;
  readonly dataDir: string;
  /** "dist" (built) or "tsx" (from the sources). */
  readonly mode: 'dist' | 'tsx';
  /** Resident memory of the serve process tree right after /healthz first answered, in bytes. */
  readonly startRssBytes: number;
  /** Where serve's stdout and stderr go. */
  readonly logFile: string;
  /** Runs a CLI command against the same data directory. */
  cli(args: readonly string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** The last lines of the server log (for error messages). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** The command that runs the CLI: the built one if `npm run build` succeeds, else through tsx. */
async function cliCommand(build: boolean, log: (msg: string) => void): Promise<{ mode: 'dist' | 'tsx'; argv: string[] }> {
  const dist = path.join(ROOT, 'dist', 'cli', 'main.js');
  if (build) {
    log('building Sluice (npm run build)');
    try {
      await run('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeoutMs: 300_000 });
    } catch (e) {
      log(`build failed, running from the sources through tsx instead: ${(e as Error).message.split('\n').slice(0, 6).join('\n  ')}`);
      return { mode: 'tsx', argv: [process.execPath, '--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts')] };
    }
  }
  if (fs.existsSync(dist)) return { mode: 'dist', argv: [process.execPath, path.join(ROOT, 'bin', 'sluice.js')] };
  log('dist/ is missing: running from the sources through tsx');
  return { mode: 'tsx', argv: [process.execPath, '--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts')] };
}

/** The node options `npm start` runs serve with (package.json scripts.start: "node OPTIONS bin/sluice.js …"). */
function startNodeArgs(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const m = /^node\s+(.*?)\s*bin\/sluice\.js\b/.exec(pkg.scripts?.start ?? '');
  return m?.[1] ?? '';
}

export async function startSluice(o: SluiceOptions): Promise<Sluice> {
  if (!fs.existsSync(path.join(ROOT, 'src', 'protocols', 'http', 'server.ts'))) {
    throw new SluiceUnavailable('the HTTP server (src/protocols/http/server.ts) does not exist yet');
  }
  const login = o.login ?? 'bench';
  const org = o.org ?? 'bench-org';
  const folder = o.folder ?? '/bench';
  const dataDir = path.join(o.dir, 'sluice-data');
  const secrets = path.join(o.dir, 'sluice-secrets');
  fs.mkdirSync(secrets, { mode: 0o700, recursive: true });
  const adminPw = path.join(secrets, 'admin.pw');
  const userPw = path.join(secrets, 'user.pw');
  // Random, and containing neither login (the password policy refuses that).
  const pw = () => `Pw.${randomBytes(18).toString('base64url')}`;
  const password = pw();
  fs.writeFileSync(adminPw, `${pw()}\n`, { mode: 0o600 });
  fs.writeFileSync(userPw, `${password}\n`, { mode: 0o600 });

  const { mode, argv } = await cliCommand(o.build ?? process.env.BENCH_BUILD !== '0', o.log);
  const [node, ...pre] = argv as [string, ...string[]];
  // Only our own settings: none of the caller's SLUICE_* (a config file, PostgreSQL, ports).
  const baseEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  baseEnv.SLUICE_DATA_DIR = dataDir;
  baseEnv.SLUICE_LOG_LEVEL = 'warn';
  baseEnv.SLUICE_ADMIN = 'admin';
  // An empty PostgreSQL database to run on instead of SQLite (a diagnostic, not a workload setting).
  if (process.env.BENCH_SLUICE_DATABASE_URL) baseEnv.SLUICE_DATABASE_URL = process.env.BENCH_SLUICE_DATABASE_URL;
  const cli = async (args: readonly string[], opts: { timeoutMs?: number } = {}) =>
    (await run(node, [...pre, ...args], { cwd: ROOT, env: baseEnv, timeoutMs: opts.timeoutMs ?? 60_000 })).stdout;

  o.log(`setting up Sluice (${mode}) in ${dataDir}: init, org, user, folder, grant, token`);
  await cli(['init', '--admin-password-file', adminPw], { timeoutMs: 120_000 });
  await cli(['org', 'create', org]);
  await cli(['user', 'create', login, '--org', org, '--role', 'partner', '--password-file', userPw]);
  await cli(['folder', 'create', folder]);
  await cli(['grant', login, folder, 'list,read,write,delete']);
  const tokenOut = await cli(['token', 'create', login, '--expires', '1d', '--name', 'bench', '--json']);
  const token = (JSON.parse(tokenOut) as { token?: string }).token;
  if (!token) throw new Error(`token create printed no token: ${tokenOut.slice(0, 200)}`);

  const httpPort = await freePort();
  const sftpPort = await freePort();
  const logFile = path.join(o.dir, 'sluice-serve.log');
  const out = fs.openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    SLUICE_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    SLUICE_SFTP_LISTEN: `127.0.0.1:${sftpPort}`,
    ...(o.tls ? { SLUICE_TLS_CERT: o.tls.cert, SLUICE_TLS_KEY: o.tls.key } : {}),
    // SFTP worker processes (default: serve's own, one per core): BENCH_SFTP_PROCESSES=0 compares one process.
    ...(process.env.BENCH_SFTP_PROCESSES ? { SLUICE_SFTP_PROCESSES: process.env.BENCH_SFTP_PROCESSES } : {}),
    ...o.env,
  };
  // Node options for serve: those of `npm start` (package.json) unless BENCH_SLUICE_NODE_ARGS says
  // otherwise ('' runs plain `node`).
  const extraNodeArgs = (process.env.BENCH_SLUICE_NODE_ARGS ?? startNodeArgs()).split(' ').filter(Boolean);
  const child = spawn(node, [...extraNodeArgs, ...(o.nodeArgs ?? []), ...pre, 'serve'], { cwd: ROOT, env, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('sluice serve could not be started');
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = cleanupProcess('sluice serve', pid, 15_000);
  const logTail = (lines = 20) => {
    try {
      return fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const baseUrl = `${o.tls ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  try {
    await waitForUrl(`${baseUrl}/healthz`, { timeoutMs: 60_000, alive: () => !exited && isAlive(pid) });
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- sluice serve log ---\n${logTail()}`, { cause: e });
  }
  const startRssBytes = processTree(pid).reduce((a, p) => a + (readRssBytes(p) ?? 0), 0);
  o.log(`Sluice is serving on ${baseUrl} (pid ${pid}, RSS ${(startRssBytes / 1e6).toFixed(0)} MB)`);
  return { baseUrl, httpPort, sftpPort, pid, login, password, folder, token, dataDir, mode, startRssBytes, logFile, cli, logTail, stop };
}
