/**
 * Attack corpus §2.11, Gladinet CentreStack / Triofox (rows 28–30): a machine key shipped with
 * every install (CVE-2025-30406), a local-file read that leaked it (CVE-2025-11371) and a
 * management page that trusted `Host: localhost` (CVE-2025-12480).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { OPEN, str, T } from '../sftp/raw.js';
import { attackTarget, type Target } from './harness.js';

/** The contents of every file in a directory tree, by relative path. */
function filesOf(dir: string, base = dir): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) for (const [k, v] of filesOf(p, base)) out.set(k, v);
    else out.set(path.relative(base, p), fs.readFileSync(p));
  }
  return out;
}

for (const dialect of DIALECTS) {
  describe(`attacks: Gladinet CentreStack / Triofox (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2025-30406 (GL-1): every secret is made per install — keys differ, and a token of one install means nothing to another; no private key is shipped', async () => {
      const other = await attackTarget(dialect);
      try {
        const mine = filesOf(path.join(x.s.t.dataDir, 'keys'));
        const theirs = filesOf(path.join(other.s.t.dataDir, 'keys'));
        assert.ok(mine.size >= 3, `keys: ${[...mine.keys()].join(', ')}`);
        for (const [name, bytes] of mine) {
          for (const [, b] of theirs) assert.ok(!bytes.equals(b), `${name} is the same in two installs`);
        }
        for (const tok of [other.tokens.root, other.tokens.alice]) {
          const r = await x.http('GET', '/api/v1/auth/me', { headers: { authorization: `Bearer ${tok}` } });
          assert.equal(r.status, 401, "another install's token");
        }
      } finally {
        await other.close();
      }
      // Nothing tracked in the repository is a private key, except throwaway test fixtures.
      const tracked = (await promisify(execFile)('git', ['ls-files'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })).stdout.split('\n').filter(Boolean);
      for (const f of tracked) {
        if (f.startsWith('test/') || !fs.existsSync(f) || fs.statSync(f).size > 2_000_000) continue;
        const text = fs.readFileSync(f, 'latin1');
        assert.doesNotMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----(?!['"`])/, `${f} holds a private key`);
      }
    });

    it('CVE-2025-11371 (GL-2): configuration and key files by name, through every download route and SFTP, are not found', async () => {
      const names = [
        'config.json',
        '.env',
        'app.yaml',
        'secrets/',
        'data/db.sqlite',
        'sluice.db',
        'keys/ssh_host_ed25519_key',
        'keys/kek-1.key',
        'Web.config',
        'package.json',
      ];
      const sftp = await x.sftp('alice');
      try {
        for (const n of names) {
          for (const u of [
            `/api/v1/fs/${n}`,
            `/api/v1/fs/acme/inbox/${n}`,
            `/${n}`,
            `/storage/t.dn?s=..%5C..%5C..%5C${encodeURIComponent(n)}&sid=1`,
            `/api/v1/fs-ops/stat?path=/${encodeURIComponent(n)}`,
          ]) {
            for (const token of [x.tokens.alice, x.tokens.root]) {
              const r = await x.http('GET', u, { token });
              assert.ok(r.status === 404 || r.status === 400, `${u}: ${r.status}`);
              x.safe(r, u);
            }
          }
          for (const p of [`/${n}`, `/../${n}`, `/acme/inbox/../../${n}`, `${x.s.t.dataDir}/${n}`]) x.sftpFailed(await sftp.open(p, OPEN.READ), `SFTP ${p}`);
        }
        x.sftpFailed(await sftp.request(T.OPENDIR, str(path.join(x.s.t.dataDir, 'keys'))), 'OPENDIR of the key directory');
      } finally {
        sftp.end();
      }
    });

    it('CVE-2025-12480 (GL-3): Host localhost or a loopback address opens no management page and no admin route', async () => {
      const before = await x.snapshot();
      for (const host of ['localhost', '127.0.0.1', '[::1]', 'localhost:8080']) {
        for (const [m, u] of [
          ['GET', '/management/admindatabase.aspx'],
          ['GET', '/setup'],
          ['GET', '/admin'],
          ['GET', '/install'],
          ['GET', '/debug'],
          ['GET', '/api/v1/admin/users'],
          ['POST', '/api/v1/admin/users'],
          ['PUT', '/api/v1/admin/lockdown'],
        ] as const) {
          const body = m === 'GET' ? '' : '{"login":"evil","role":"admin","mode":"normal"}';
          const r = await x.raw(
            `${m} ${u} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
          );
          assert.ok(r.status === 401 || r.status === 404, `${m} ${u} Host ${host}: ${r.status}`);
          x.safe(r, `${m} ${u}`);
        }
      }
      await x.unchanged(before, 'Host: localhost');
    });
  });
}
