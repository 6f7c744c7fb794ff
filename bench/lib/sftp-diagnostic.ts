/**
 * The common start of the SFTP diagnostics (bench/sftp-memory.ts, bench/sftp-cpu.ts): a temp
 * directory, a client key, a random file of `size` bytes, a Sluice with budgets off and that key
 * added to its benchmark user, and OpenSSH sftp in batch mode against it (aes128-gcm, host key
 * checked). `finish()` stops Sluice, keeps its log where BENCH_KEEP_LOG says, removes the directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeRandomFile, tempDir } from './fixtures.js';
import { run } from './exec.js';
import { startSluice, type Sluice } from './sluice.js';
import { BUDGETS_OFF } from './budgets.js';

export interface SftpDiagnostic {
  readonly s: Sluice;
  /** The random file. */
  readonly big: string;
  /** Runs sftp batch `commands` against Sluice as its benchmark user. */
  sftp(commands: string): Promise<unknown>;
  finish(): Promise<void>;
}

export async function startSftpDiagnostic(name: string, size: number, log: (m: string) => void): Promise<SftpDiagnostic> {
  const dir = tempDir(name);
  const key = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key], { timeoutMs: 30_000 });
  const big = path.join(dir, 'big.bin');
  await makeRandomFile(big, size);
  const s = await startSluice({ dir, log, env: { ...BUDGETS_OFF } });
  const finish = async () => {
    await s.stop();
    // The server's log (e.g. with BENCH_SLUICE_NODE_ARGS="--max-semi-space-size=4 --trace-gc") is kept where BENCH_KEEP_LOG says.
    if (process.env.BENCH_KEEP_LOG) fs.copyFileSync(s.logFile, process.env.BENCH_KEEP_LOG);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await s.cli(['key', 'add', s.login, `${key}.pub`]);
    const knownHosts = path.join(dir, 'known_hosts');
    const hostPub = fs
      .readFileSync(path.join(s.dataDir, 'keys', 'ssh_host_ed25519_key.pub'), 'utf8')
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${s.sftpPort} ${hostPub}\n`);
    const sftp = (commands: string) =>
      run(
        'sftp',
        [
          '-q',
          '-b',
          '-',
          '-c',
          'aes128-gcm@openssh.com',
          '-P',
          String(s.sftpPort),
          '-i',
          key,
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'IdentityAgent=none',
          '-o',
          'LogLevel=ERROR',
          `${s.login}@127.0.0.1`,
        ],
        { input: commands, timeoutMs: 600_000, cwd: dir },
      );
    return { s, big, sftp, finish };
  } catch (e) {
    await finish();
    throw e;
  }
}
