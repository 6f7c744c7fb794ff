/**
 * The drill's last step with the real `sluice` command: a backup of a SERVING instance while
 * partners upload over HTTP, restored into an empty data directory (SQLite, and PostgreSQL when
 * the matrix has it), then `sluice verify` and `sluice audit verify` on the restored instance; a
 * wrong passphrase and a damaged or missing blob fail with the documented exit codes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DIALECTS, freshDatabase, tempDir, type TempDir } from '../helpers/dialects.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const baseEnv = (env: Record<string, string>) => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  SLUICE_LOG_LEVEL: 'error',
  SLUICE_ADMIN: 'root',
  ...env,
});

function sluice(env: Record<string, string>, args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: baseEnv(env), input: '', encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The same, without blocking this process (so it can keep uploading meanwhile). */
function sluiceAsync(env: Record<string, string>, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function waitReady(port: number, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('backup → restore → verify with the real CLI, while the server runs', () => {
  let dir: TempDir;
  let server: ChildProcess | undefined;
  const src = () => ({ SLUICE_DATA_DIR: path.join(dir.path, 'src') });
  const restoredEnv = () => ({ SLUICE_DATA_DIR: path.join(dir.path, 'restored') });
  const passFile = () => path.join(dir.path, 'pass');
  const backup = () => path.join(dir.path, 'backup');
  const local = new Map<string, Buffer>(); // files put through the CLI before the backup

  before(() => {
    dir = tempDir('e2e-backup');
    fs.writeFileSync(passFile(), 'correct horse battery backup\n', { mode: 0o600 });
  });
  after(async () => {
    server?.kill('SIGKILL');
    await dir.cleanup();
  });

  it('backs up a serving instance during uploads, restores it, and verify passes', async () => {
    const env = src();
    fs.writeFileSync(path.join(dir.path, 'adminpw'), 'an administrator password\n');
    assert.equal(sluice(env, ['init', '--admin', 'root', '--admin-password-file', path.join(dir.path, 'adminpw')]).code, 0);
    assert.equal(sluice(env, ['org', 'create', 'Praxis Muster', '--ik', '123456780']).code, 0);
    fs.writeFileSync(path.join(dir.path, 'pw'), 'a partner password!\n');
    assert.equal(sluice(env, ['user', 'create', 'muster', '--org', 'Praxis Muster', '--password-file', path.join(dir.path, 'pw')]).code, 0);
    assert.equal(sluice(env, ['folder', 'create', '/muster/inbox', '--org', 'Praxis Muster']).code, 0);
    assert.equal(sluice(env, ['grant', 'muster', '/muster/inbox', 'list,read,write']).code, 0);
    const token = (JSON.parse(sluice(env, ['token', 'create', 'muster', '--json']).out) as { token: string }).token;
    for (const [name, size] of [
      ['a.bin', 10],
      ['b.bin', 700_000],
      ['c.bin', 2_200_000],
    ] as const) {
      const f = path.join(dir.path, name);
      fs.writeFileSync(f, randomBytes(size));
      const put = sluice(env, ['file', 'put', f, `/muster/inbox/${name}`]);
      assert.equal(put.code, 0, put.err);
      local.set(`/muster/inbox/${name}`, fs.readFileSync(f));
    }

    const port = await freePort();
    server = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
      cwd: ROOT,
      env: baseEnv({ ...env, SLUICE_HTTP_LISTEN: `127.0.0.1:${port}`, SLUICE_SFTP_LISTEN: `127.0.0.1:${await freePort()}`, SLUICE_LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitReady(port);
    // Partners keep uploading while the backup runs.
    let uploading = true;
    let uploaded = 0;
    const uploads = (async () => {
      while (uploading) {
        const body = randomBytes(150_000);
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/fs/muster/inbox/live-${uploaded}.bin`, {
          method: 'PUT',
          body,
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(r.status, 201);
        uploaded++;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const b = await sluiceAsync(env, ['backup', '--to', backup(), '--passphrase-file', passFile(), '--json']);
    uploading = false;
    await uploads;
    assert.equal(b.code, 0, b.err);
    const summary = JSON.parse(b.out) as { blobs: { count: number }; tables: { name: string; rows: number }[] };
    assert.ok(uploaded > 0, 'uploads ran during the backup');
    const filesInBackup = summary.tables.find((t) => t.name === 'files')!.rows;
    // Every file's bytes are in the backup: a blob file each, or a blob_inline row (small files).
    const inlineInBackup = summary.tables.find((t) => t.name === 'blob_inline')!.rows;
    assert.ok(inlineInBackup >= 1, 'the small seeded files travel inline');
    assert.equal(summary.blobs.count + inlineInBackup, filesInBackup);
    assert.ok(filesInBackup >= 3);
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
    server = undefined;

    const r = sluice(restoredEnv(), ['restore', '--from', backup(), '--passphrase-file', passFile(), '--json']);
    assert.equal(r.code, 0, r.err);
    const restored = JSON.parse(r.out) as { ok: boolean; targetDialect: string };
    assert.equal(restored.ok, true);
    assert.equal(restored.targetDialect, 'sqlite');

    const v = sluice(restoredEnv(), ['verify', '--json']);
    assert.equal(v.code, 0, v.out + v.err);
    const vr = JSON.parse(v.out) as { ok: boolean; files: number };
    assert.equal(vr.ok, true);
    assert.equal(vr.files, filesInBackup);
    assert.equal(sluice(restoredEnv(), ['audit', 'verify']).code, 0);
    // verify compared every file with its SHA-256 in the database; fetch one for good measure.
    for (const [p, body] of [...local].filter(([p]) => p.endsWith('c.bin'))) {
      const out = path.join(dir.path, `got-${path.basename(p)}`);
      assert.equal(sluice(restoredEnv(), ['file', 'get', p, out]).code, 0);
      assert.equal(sha(fs.readFileSync(out)), sha(body), p);
    }
    const ls = JSON.parse(sluice(restoredEnv(), ['file', 'ls', '/muster/inbox', '--json']).out) as { name: string }[];
    assert.equal(ls.length, filesInBackup);
    // The restored ledger holds the backup's start and this restore.
    const events = JSON.parse(sluice(restoredEnv(), ['audit', 'events', '--limit', '5000', '--json']).out) as { action: string }[];
    assert.ok(events.some((e) => e.action === 'backup.start'));
    assert.ok(events.some((e) => e.action === 'backup.restore'));
    assert.ok(events.some((e) => e.action === 'verify.run'));
  });

  it('refuses a wrong or short passphrase and a non-empty target, with one-line errors', () => {
    const wrong = path.join(dir.path, 'wrong');
    fs.writeFileSync(wrong, 'not the right passphrase\n');
    const target = { SLUICE_DATA_DIR: path.join(dir.path, 'never') };
    const r = sluice(target, ['restore', '--from', backup(), '--passphrase-file', wrong]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^sluice: cannot decrypt keys\.enc: wrong passphrase/);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.ok(!fs.existsSync(target.SLUICE_DATA_DIR));
    const again = sluice(restoredEnv(), ['restore', '--from', backup(), '--passphrase-file', passFile()]);
    assert.equal(again.code, 1);
    assert.match(again.err, /not empty/);
    const short = path.join(dir.path, 'short');
    fs.writeFileSync(short, 'eleven char\n');
    const s = sluice(src(), ['backup', '--to', path.join(dir.path, 'b2'), '--passphrase-file', short]);
    assert.equal(s.code, 2);
    assert.match(s.err, /at least 12 characters/);
    const nopass = sluice(src(), ['backup', '--to', path.join(dir.path, 'b3')]);
    assert.equal(nopass.code, 2, 'no terminal to ask on');
    assert.match(nopass.err, /--passphrase-file/);
  });

  it('sluice verify fails on a flipped blob byte (exit 1) and names the missing blob', () => {
    const blobs = walk(path.join(dir.path, 'restored', 'blobs'))
      .filter((f) => /[0-9a-f-]{36}$/.test(f))
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
    const big = blobs[0]!;
    const buf = fs.readFileSync(big);
    buf[buf.length - 100] = buf[buf.length - 100]! ^ 0xff;
    fs.writeFileSync(big, buf);
    const v = sluice(restoredEnv(), ['verify', '--json']);
    assert.equal(v.code, 1, v.err);
    const r = JSON.parse(v.out) as { ok: boolean; counts: { corrupt: number; missing: number }; corrupt: { blobKey: string }[] };
    assert.equal(r.ok, false);
    assert.deepEqual(r.counts, { missing: 0, corrupt: 1, orphans: 0 });
    assert.equal(r.corrupt[0]!.blobKey, path.basename(big));
    fs.rmSync(blobs[1]!);
    const human = sluice(restoredEnv(), ['verify']);
    assert.equal(human.code, 1);
    assert.match(human.out, /VERIFICATION FAILED/);
    assert.match(human.out, /1 missing, 1 damaged, 0 orphan/);
    assert.match(human.out, new RegExp(`missing .*blob ${path.basename(blobs[1]!)}`));
  });

  if (DIALECTS.includes('postgres')) {
    it('restores the SQLite backup into PostgreSQL (SLUICE_DATABASE_URL)', async () => {
      const db = await freshDatabase('postgres');
      try {
        const env = { SLUICE_DATA_DIR: path.join(dir.path, 'pg'), SLUICE_DATABASE_URL: db.url! };
        const r = sluice(env, ['restore', '--from', backup(), '--passphrase-file', passFile(), '--json']);
        assert.equal(r.code, 0, r.err);
        assert.equal((JSON.parse(r.out) as { targetDialect: string }).targetDialect, 'postgres');
        const v = sluice(env, ['verify']);
        assert.equal(v.code, 0, v.out + v.err);
        assert.match(v.out, /^verified: \d+ files/);
        const status = JSON.parse(sluice(env, ['status', '--json']).out) as { database: string; ledgerIntact: boolean };
        assert.deepEqual([status.database, status.ledgerIntact], ['postgres', true]);
      } finally {
        await db.cleanup();
      }
    });
  }
});
