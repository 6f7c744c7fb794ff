/**
 * `sluice serve` runs SFTP next to HTTP: a partner onboarded with the CLI (`sluice key add`)
 * moves a file with OpenSSH's sftp, verifying the host key against `sluice status`; SIGTERM
 * stops both. A data directory from before SFTP gets its host keys at its first serve.
 *
 * SFTP sessions run in two worker processes (SLUICE_SFTP_PROCESSES=2): the connection limit is
 * still counted for the whole server, /metrics includes what the workers counted, a worker killed
 * with SIGKILL is replaced and the service goes on — its unfinished upload is removed at once, not
 * at the next start — and SIGTERM stops every process.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir, type TempDir } from '../helpers/dialects.js';
import Database from 'better-sqlite3';
import { run, sshKeygen } from './helpers.js';
import { connect, RawSftp, WRITE_NEW, type UserKey } from './raw.js';
import { requireTool } from './tools.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The child processes of `pid` (Linux /proc). */
/** The SFTP worker processes among pid's children (tsx may also run an esbuild service there). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out.filter((child) => {
    try {
      return fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('sftp-worker');
    } catch {
      return false;
    }
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor<T>(what: string, f: () => T | undefined | false, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

describe('sluice serve with SFTP', () => {
  let dir: TempDir;
  let data: string;
  let env: Record<string, string>;
  let server: ChildProcess | undefined;
  const sluice = (args: string[], input = '') =>
    run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { env, input, cwd: ROOT, timeoutMs: 60_000 });

  /** Starts `sluice serve` and waits until its SFTP listener answers. */
  async function startServe(): Promise<{ child: ChildProcess; sftpPort: number; readonly stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server = child;
    const out = { child, sftpPort: Number(env.SLUICE_SFTP_LISTEN!.split(':')[1]), stderr: '' };
    child.stderr!.on('data', (c: Buffer) => (out.stderr += c.toString()));
    for (const until = Date.now() + 30_000; ;) {
      const up = await new Promise<boolean>((r) =>
        net
          .connect(out.sftpPort, '127.0.0.1')
          .once('connect', function (this: net.Socket) {
            this.destroy();
            r(true);
          })
          .once('error', () => r(false)),
      );
      if (up) return out;
      if (Date.now() > until || child.exitCode !== null) assert.fail(`sluice serve did not start SFTP: ${out.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    dir = tempDir('serve-sftp');
    data = path.join(dir.path, 'data');
    env = {
      SLUICE_DATA_DIR: data,
      SLUICE_LOG_LEVEL: 'warn',
      SLUICE_ADMIN: 'admin',
      SLUICE_HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
      SLUICE_SFTP_LISTEN: `127.0.0.1:${await freePort()}`,
      // The connection limits are settings: a small one here, checked below.
      SLUICE_SFTP_MAX_CONNECTIONS_PER_IP: '3',
      SLUICE_SFTP_PROCESSES: '2',
    };
  });
  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
    await dir.cleanup();
  });

  it('serves SFTP for a partner set up with the CLI, host key as `sluice status` prints it, and stops on SIGTERM', async () => {
    for (const args of [
      ['init'],
      ['org', 'create', 'Praxis'],
      ['user', 'create', 'praxis', '--org', 'Praxis', '--no-password'],
      ['folder', 'create', '/praxis/inbox', '--org', 'Praxis'],
      ['grant', 'praxis', '/praxis/inbox', 'list,read,write'],
    ]) {
      const r = await sluice(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    // A data directory initialised before SFTP existed: no host keys yet.
    for (const f of fs.readdirSync(path.join(data, 'keys')).filter((f) => f.startsWith('ssh_host_'))) fs.rmSync(path.join(data, 'keys', f));
    const key = await sshKeygen(dir.path, 'id_praxis');
    const add = await sluice(['key', 'add', 'praxis', `${key.file}.pub`]);
    assert.equal(add.code, 0, add.stderr);

    const started = await startServe();
    const srv = started.child;
    const stderr = () => started.stderr;
    const sftpPort = started.sftpPort;

    const status = JSON.parse((await sluice(['status', '--json'])).stdout) as { sshHostKeys: { type: string; fingerprint: string }[] };
    assert.equal(status.sshHostKeys.length, 2, 'the first serve created the host keys');
    // known_hosts from the .pub files, checked against the fingerprints `sluice status` printed.
    const keygen = requireTool('ssh-keygen', 'openssh-client');
    const knownHosts = path.join(dir.path, 'known_hosts');
    let lines = '';
    for (const f of ['ssh_host_ed25519_key.pub', 'ssh_host_rsa_key.pub']) {
      const pub = path.join(data, 'keys', f);
      const fp = (await run(keygen, ['-l', '-E', 'sha256', '-f', pub])).stdout.split(' ')[1];
      assert.ok(
        status.sshHostKeys.some((k) => k.fingerprint === fp),
        `${f} fingerprint is listed by sluice status`,
      );
      lines += `[127.0.0.1]:${sftpPort} ${fs.readFileSync(pub, 'utf8').split(' ').slice(0, 2).join(' ')}\n`;
    }
    fs.writeFileSync(knownHosts, lines);

    const content = randomBytes(3 * 1024 * 1024 + 5);
    fs.writeFileSync(path.join(dir.path, 'report.csv'), content);
    const sftp = requireTool('sftp', 'openssh-client');
    const sftpArgs = [
      '-b',
      '-',
      '-P',
      String(sftpPort),
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
      '-i',
      key.file,
      'praxis@127.0.0.1',
    ];

    // SLUICE_SFTP_MAX_CONNECTIONS_PER_IP=3: with three connections open, a fourth is refused.
    const held = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<net.Socket>((r, j) => {
            const c = net.connect(sftpPort, '127.0.0.1', () => r(c));
            c.once('error', j);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    const refused = await run(sftp, sftpArgs, { input: 'ls\n', cwd: dir.path, timeoutMs: 60_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /too many connections from this address/);
    for (const c of held) c.destroy();
    await new Promise((r) => setTimeout(r, 300));

    const r = await run(sftp, sftpArgs, { input: 'cd /praxis/inbox\nput report.csv\nget report.csv back.csv\nls -l\n', cwd: dir.path, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(fs.readFileSync(path.join(dir.path, 'back.csv'))), sha(content));

    // Two SFTP worker processes; the sign-in happened in one of them, and /metrics shows it.
    const workers = childrenOf(srv.pid!);
    assert.equal(
      workers.length,
      2,
      `two SFTP worker processes: ${workers
        .map((w) => {
          try {
            return fs.readFileSync(`/proc/${w}/cmdline`, 'utf8').replaceAll('\0', ' ');
          } catch {
            return `${w} gone`;
          }
        })
        .join(' | ')}`,
    );
    const metricsText = async () => {
      const res = await fetch(`http://${env.SLUICE_HTTP_LISTEN}/metrics`);
      assert.equal(res.status, 200);
      return res.text();
    };
    const authOk = (text: string) => Number(/^sluice_sftp_auth_total\{method="publickey",outcome="success"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const before = await metricsText();
    assert.ok(
      authOk(before) >= 1,
      `the workers' sign-ins are in /metrics:\n${before
        .split('\n')
        .filter((l) => l.includes('sftp'))
        .join('\n')}`,
    );
    assert.match(before, /^sluice_bytes_in_total\{protocol="sftp"\} 3145733$/m, 'bytes uploaded through a worker');

    // An upload left unfinished in a worker: registered in blob_pending, a temporary file written.
    const db = new Database(path.join(data, 'sluice.db'), { readonly: true, fileMustExist: true });
    const pendingUploads = () => db.prepare("select node_id from blob_pending where kind = 'upload'").all() as { node_id: string }[];
    const tmpFiles = () => fs.readdirSync(path.join(data, 'blobs', 'tmp')).filter((f) => !f.startsWith('.'));
    const client = await connect(sftpPort, 'praxis', { key: { privateKey: fs.readFileSync(key.file, 'utf8') } as UserKey });
    const raw = await RawSftp.open(client);
    const partial = (await raw.open('/praxis/inbox/partial.bin', WRITE_NEW)).handle!;
    for (let i = 0; i < 4; i++) await raw.write(partial, i * 65_536, randomBytes(65_536));
    const [owner] = await waitFor('the partial upload to be registered', () => {
      const rows = pendingUploads();
      return rows.length === 1 && tmpFiles().length === 1 && rows;
    });
    const holder = Number(/\/sftp-\d+-(\d+)$/.exec(owner!.node_id)?.[1]);
    assert.ok(workers.includes(holder), `registered under the worker that holds it: ${owner!.node_id}`);

    // A worker killed outright is replaced; sessions go on; the dead worker's upload is removed.
    process.kill(holder, 'SIGKILL');
    await waitFor('the killed worker to be replaced', () => {
      const now = childrenOf(srv.pid!);
      return now.length === 2 && !now.includes(holder) && now;
    });
    client.end();
    await waitFor("the dead worker's upload to be removed", () => pendingUploads().length === 0 && tmpFiles().length === 0, 10_000);
    db.close();
    for (let i = 0; i < 3; i++) {
      const again = await run(sftp, sftpArgs, { input: `cd /praxis/inbox\nget report.csv back${i}.csv\n`, cwd: dir.path, timeoutMs: 60_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(sha(fs.readFileSync(path.join(dir.path, `back${i}.csv`))), sha(content));
    }
    const all = childrenOf(srv.pid!);

    srv.kill('SIGTERM');
    const [code] = (await once(srv, 'exit')) as [number | null];
    assert.equal(code, 0, `exit code after SIGTERM; stderr: ${stderr()}`);
    for (const pid of all) await waitFor(`worker ${pid} to exit`, () => !alive(pid), 10_000);
    const ls = await sluice(['file', 'ls', '/praxis/inbox', '--json']);
    assert.match(ls.stdout, /report\.csv/);
  });

  it('SFTP worker processes leave at once when serve is killed', async () => {
    // Started: the listener answers only once every worker is ready.
    const srv = (await startServe()).child;
    const workers = childrenOf(srv.pid!);
    assert.equal(workers.length, 2, 'two SFTP workers');
    srv.kill('SIGKILL');
    await once(srv, 'exit');
    for (const w of workers) await waitFor(`worker ${w} to exit`, () => !alive(w), 10_000);
  });
});
