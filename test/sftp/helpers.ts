/**
 * A real Sluice instance with its HTTP and SFTP front ends on loopback (as `sluice serve` runs
 * them, sharing one core and one metrics registry), plus real clients: OpenSSH `sftp` in batch
 * mode with a throwaway key pair, rclone's sftp backend, and a raw SSH client for hostile tests.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer, createMetrics } from '../../src/protocols/http/server.js';
import { createSftpServer, type SftpLimits, type SftpServer } from '../../src/protocols/sftp/server.js';
import { loadHostKeys, type HostKey } from '../../src/app/host-keys.js';
import { paths } from '../../src/app/instance.js';
import type { TestDialect } from '../helpers/dialects.js';
import { tempDir, type TempDir } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { requireTool } from './tools.js';
import { opensshOptions } from '../helpers/openssh.js';
import { userKey, type UserKey } from './raw.js';

export interface SftpServed {
  readonly t: TestInstance;
  readonly http: FastifyInstance;
  readonly httpBase: string;
  readonly sftp: SftpServer;
  readonly port: number;
  readonly hostKeys: readonly HostKey[];
  /** A directory for client files (keys, known_hosts, local copies). */
  readonly dir: string;
  readonly knownHosts: string;
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function serveSftp(dialect: TestDialect, opts: { env?: Record<string, string>; limits?: Partial<SftpLimits> } = {}): Promise<SftpServed> {
  const t = await testInstance(dialect, opts.env);
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write(line: string) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ unparsable: line });
        }
      },
    },
  );
  const metrics = createMetrics({ defaultMetrics: false });
  let http: FastifyInstance | undefined;
  let sftp: SftpServer | undefined;
  let port: number;
  let hostKeys: HostKey[];
  let haddr: ReturnType<FastifyInstance['server']['address']>;
  try {
    http = await buildHttpServer({ core: t.core, config: t.config, log, metrics });
    await http.listen({ host: '127.0.0.1', port: 0 });
    haddr = http.server.address();
    if (!haddr || typeof haddr === 'string') throw new Error('no http port');
    hostKeys = loadHostKeys(paths(t.config).keys);
    // Penalties per address are off unless a test turns them on: every test client comes from
    // 127.0.0.1, and the failures many tests provoke on purpose would lock the next test out.
    sftp = createSftpServer({ core: t.core, log, hostKeys: hostKeys.map((k) => k.privateKey), metrics, limits: { penalties: undefined, ...opts.limits } });
    port = (await sftp.listen('127.0.0.1', 0)).port;
  } catch (e) {
    // A half-built server must not keep the test process alive.
    await sftp?.close(0).catch(() => undefined);
    await http?.close().catch(() => undefined);
    await t.cleanup();
    throw e;
  }
  const dir: TempDir = tempDir('sftp-client');
  const knownHosts = path.join(dir.path, 'known_hosts');
  fs.writeFileSync(knownHosts, hostKeys.map((k) => `[127.0.0.1]:${port} ${k.publicKey}\n`).join(''));
  return {
    t,
    http: http!,
    httpBase: `http://127.0.0.1:${haddr.port}`,
    sftp: sftp!,
    port,
    hostKeys,
    dir: dir.path,
    knownHosts,
    logs,
    async close() {
      await sftp!.close(1000);
      await http!.close();
      await t.cleanup();
      await dir.cleanup();
    },
  };
}

export interface ClientKey {
  /** Private key file (for ssh/sftp -i and rclone key_file). */
  readonly file: string;
  /** The OpenSSH public key line. */
  readonly publicLine: string;
}

/** A throwaway key pair made by ssh-keygen, the way a partner would make one. */
export async function sshKeygen(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): Promise<ClientKey> {
  const keygen = requireTool('ssh-keygen', 'openssh-client');
  const file = path.join(dir, name);
  const args = ['-q', '-t', type, '-N', '', '-C', `${name}@test`, '-f', file, ...(type === 'rsa' ? ['-b', '3072'] : [])];
  const r = await run(keygen, args);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return { file, publicLine: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command asynchronously (the servers live in this process: never spawnSync). */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n[killed after ${opts.timeoutMs ?? 60_000} ms]`;
    }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** OpenSSH client options: our known_hosts only, keys only (no agent, no password prompts). */
export function sshOptions(s: SftpServed, key: ClientKey | undefined, extra: string[] = []): string[] {
  return opensshOptions(s.knownHosts, key?.file, extra);
}

/** `sftp -b -` with the commands on stdin; fails on the first failing command (batch mode). */
export function sftpBatch(s: SftpServed, user: string, key: ClientKey | undefined, commands: string[], extra: string[] = [], cwd?: string): Promise<RunResult> {
  const sftp = requireTool('sftp', 'openssh-client');
  return run(sftp, ['-b', '-', '-P', String(s.port), ...sshOptions(s, key, extra), `${user}@127.0.0.1`], {
    input: commands.join('\n') + '\n',
    timeoutMs: 120_000,
    ...(cwd ? { cwd } : {}),
  });
}

/**
 * A partner `login` of organisation Box with every right on the folder /box, signing in with a
 * fresh ssh2 key (returned).
 */
export async function boxUser(s: SftpServed, login: string): Promise<UserKey> {
  const { t } = s;
  await t.core.admin.folders.create(t.system, '/box').catch((e: { code?: string }) => {
    if (e.code !== 'ALREADY_EXISTS') throw e;
  });
  await t.user(login, { org: 'Box' });
  await t.core.admin.grants.set(t.system, login, '/box', 'all');
  const key = userKey();
  await t.core.admin.keys.add(t.system, login, key.publicLine);
  return key;
}
