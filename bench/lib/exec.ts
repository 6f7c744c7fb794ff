/** Running commands with a time bound, finding them, and installing missing Debian packages. */
import { spawn, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill (SIGKILL) after this long; default 60 s. */
  readonly timeoutMs?: number;
  /** Written to standard input, then closed. */
  readonly input?: string;
  /** Stream the output to ours (prefixed) instead of only capturing it. */
  readonly echo?: boolean;
  /** Do not throw on a non-zero exit. */
  readonly allowFail?: boolean;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

/** Runs a command to completion (bounded in time) and returns its output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env };
    if (opts.cwd !== undefined) so.cwd = opts.cwd;
    const child = spawn(cmd, args, so);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r: RunResult = { code, signal, stdout, stderr };
      if (timedOut) reject(new CommandError(`${cmd} ${args.join(' ')}: no result within ${timeoutMs / 1000} s`, r));
      else if (code !== 0 && !opts.allowFail) {
        const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-5).join('\n');
        reject(new CommandError(`${cmd} ${args.join(' ')} exited with ${code ?? signal}${tail ? `:\n${tail}` : ''}`, r));
      } else resolve(r);
    });
  });
}

/** Full path of an executable on PATH (or in /usr/sbin, /sbin for daemons), or null. */
export function which(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {}
  }
  return null;
}

/**
 * Makes sure the commands exist; missing ones are installed from Debian's packages (apt-get
 * update, then apt-get install -y PACKAGES) when we are root, saying so. Throws otherwise.
 * `needs` maps a command to the package that provides it.
 */
export async function ensureCommands(needs: Readonly<Record<string, string>>, log: (msg: string) => void): Promise<void> {
  const missing = Object.entries(needs).filter(([cmd]) => which(cmd) === null);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  const names = missing.map(([cmd]) => cmd).join(', ');
  if (process.getuid?.() !== 0) {
    throw new Error(`missing ${names}; install them with: sudo apt-get install -y ${pkgs.join(' ')}`);
  }
  log(`missing ${names}: running apt-get update && apt-get install -y ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, timeoutMs: 300_000 });
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, timeoutMs: 600_000 });
  const still = missing.filter(([cmd]) => which(cmd) === null).map(([cmd]) => cmd);
  if (still.length) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
  log(`installed ${pkgs.join(' ')}`);
}
