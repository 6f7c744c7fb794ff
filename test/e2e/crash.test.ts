/**
 * kill -9 in the middle of uploads: the committed file survives unchanged, nothing partial ever
 * becomes visible, and the next start removes the leftovers. Runs the real `sluice serve`
 * process on SQLite and PostgreSQL.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance } from '../helpers/instance.js';
import { openInstance } from '../../src/app/instance.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function startServer(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve'], {
    cwd: ROOT,
    // SFTP on a free port: `sluice serve` starts it too, and 2222 may be taken by a parallel test.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', SLUICE_LOG_LEVEL: 'warn', SLUICE_SFTP_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function waitReady(port: number, ms = 90_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a PUT that declares `total` bytes, sends `sent` of them, and resolves once they left. */
function partialPut(port: number, token: string, p: string, total: number, sent: number): Promise<http.ClientRequest> {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: p,
      headers: { authorization: `Bearer ${token}`, 'content-length': String(total) },
    });
    req.on('error', () => undefined);
    req.write(randomBytes(sent), () => setTimeout(() => resolve(req), 300));
  });
}

function countFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1;
  return n;
}

for (const dialect of DIALECTS) {
  describe(`crash safety (${dialect})`, () => {
    let child: ChildProcess | undefined;
    after(() => {
      child?.kill('SIGKILL');
    });

    it('kill -9 mid-upload leaves the old file intact, nothing partial, and the next start sweeps', async () => {
      const t = await testInstance(dialect);
      const sys = t.system;
      await t.core.admin.orgs.create(sys, { name: 'Acme' });
      await t.core.admin.folders.create(sys, '/acme/in', { org: 'Acme' });
      await t.user('acme', { org: 'Acme' });
      await t.core.admin.grants.set(sys, 'acme', '/acme/in', 'list,read,write');
      const { token } = await t.core.admin.tokens.create(sys, 'acme', { expiresInMs: 3600_000 });
      const original = randomBytes(300_000);
      async function* one() {
        yield original;
      }
      await t.core.files.upload(sys, '/acme/in/keep.bin', one());
      const env: Record<string, string> = { SLUICE_DATA_DIR: t.dataDir, ...(t.config.databaseUrl ? { SLUICE_DATABASE_URL: t.config.databaseUrl } : {}) };
      await t.close();
      const blobs = path.join(t.dataDir, 'blobs');
      assert.equal(countFiles(path.join(blobs, 'objects')), 1);

      const port = await freePort();
      child = startServer({ ...env, SLUICE_HTTP_LISTEN: `127.0.0.1:${port}` });
      await waitReady(port);
      // A new file and a replacement of keep.bin, both cut off by kill -9 halfway.
      await partialPut(port, token, '/api/v1/fs/acme/in/new.bin', 8_000_000, 3_000_000);
      await partialPut(port, token, '/api/v1/fs/acme/in/keep.bin', 8_000_000, 3_000_000);
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      assert.ok(countFiles(path.join(blobs, 'tmp')) >= 1, 'partial blobs were being written when the server died');

      const port2 = await freePort();
      child = startServer({ ...env, SLUICE_HTTP_LISTEN: `127.0.0.1:${port2}` });
      await waitReady(port2);
      const auth = { authorization: `Bearer ${token}` };
      const keep = await fetch(`http://127.0.0.1:${port2}/api/v1/fs/acme/in/keep.bin`, { headers: auth });
      assert.equal(keep.status, 200);
      assert.equal(sha(Buffer.from(await keep.arrayBuffer())), sha(original));
      const gone = await fetch(`http://127.0.0.1:${port2}/api/v1/fs/acme/in/new.bin`, { headers: auth });
      assert.equal(gone.status, 404);
      const list = (await (await fetch(`http://127.0.0.1:${port2}/api/v1/fs/acme/in/`, { headers: auth })).json()) as { entries: { name: string }[] };
      assert.deepEqual(
        list.entries.map((e) => e.name),
        ['keep.bin'],
      );
      assert.equal(countFiles(path.join(blobs, 'tmp')), 0, 'temporary parts swept at start');
      assert.equal(countFiles(path.join(blobs, 'objects')), 1, 'only the committed blob remains');
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
      child = undefined;

      const inst = await openInstance(t.config);
      const v = await inst.core.audit.verify(inst.system({ protocol: 'cli' }));
      assert.equal(v.ok, true, JSON.stringify(v.problem));
      await inst.close();
      await t.cleanup();
    });
  });
}
