/**
 * rclone's sftp backend (configured through the environment, as a partner's script would)
 * against the SFTP front end: upload (64 concurrent writes per file: out of order on the wire),
 * list, download, server-side move, delete, folders; checked by SHA-256 and through the HTTP API.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, tokenFor } from '../http/helpers.js';
import { run, serveSftp, sshKeygen, type ClientKey, type SftpServed } from './helpers.js';
import { requireTool } from './tools.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const dialect of DIALECTS) {
  describe(`sftp with rclone (${dialect})`, () => {
    let s: SftpServed;
    let key: ClientKey;
    let token: string;
    let rcloneBin: string;
    const local = (...p: string[]) => path.join(s.dir, ...p);
    const rclone = (...args: string[]) =>
      run(rcloneBin, [...args, '--retries', '1', '--low-level-retries', '1'], {
        timeoutMs: 120_000,
        env: {
          RCLONE_CONFIG: '/dev/null',
          RCLONE_CONFIG_SLUICE_TYPE: 'sftp',
          RCLONE_CONFIG_SLUICE_HOST: '127.0.0.1',
          RCLONE_CONFIG_SLUICE_PORT: String(s.port),
          RCLONE_CONFIG_SLUICE_USER: 'billing',
          RCLONE_CONFIG_SLUICE_KEY_FILE: key.file,
          RCLONE_CONFIG_SLUICE_KNOWN_HOSTS_FILE: s.knownHosts,
          // No remote shell: hashes are not computed with md5sum/sha1sum over exec.
          RCLONE_CONFIG_SLUICE_SHELL_TYPE: 'none',
          RCLONE_CONFIG_SLUICE_DISABLE_HASHCHECK: 'true',
        },
      });

    before(async () => {
      rcloneBin = requireTool('rclone', 'rclone');
      s = await serveSftp(dialect);
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Rechenzentrum' });
      await t.core.admin.folders.create(t.system, '/billing/in', { org: 'Rechenzentrum' });
      await t.user('billing', { org: 'Rechenzentrum' });
      await t.core.admin.grants.set(t.system, 'billing', '/billing', 'list,read,write,delete');
      key = await sshKeygen(s.dir, 'id_billing');
      await t.core.admin.keys.add(t.system, 'billing', key.publicLine);
      token = await tokenFor(t, 'billing');
    });
    after(() => s?.close());

    it('uploads a folder, lists it, downloads it, moves and deletes files', async () => {
      fs.mkdirSync(local('out'));
      const files: Record<string, Buffer> = {
        'a.dat': randomBytes(24 * 1024 * 1024 + 3),
        'b.csv': Buffer.from('IK;Betrag\n123456789;42,00\n'),
        'empty.txt': Buffer.alloc(0),
      };
      for (const [n, b] of Object.entries(files)) fs.writeFileSync(local('out', n), b);

      const up = await rclone('copy', local('out'), 'sluice:/billing/in');
      assert.equal(up.code, 0, up.stderr);

      const ls = await rclone('lsjson', 'sluice:/billing/in');
      assert.equal(ls.code, 0, ls.stderr);
      const listed = (JSON.parse(ls.stdout) as { Name: string; Size: number; IsDir: boolean }[]).map((e) => [e.Name, e.Size]).sort();
      assert.deepEqual(
        listed,
        Object.entries(files)
          .map(([n, b]) => [n, b.length])
          .sort(),
      );

      const res = await fetch(`${s.httpBase}/api/v1/fs/billing/in/`, { headers: bearer(token) });
      const entries = ((await res.json()) as { entries: { name: string; sha256: string }[] }).entries;
      for (const [n, b] of Object.entries(files)) assert.equal(entries.find((e) => e.name === n)?.sha256, sha(b), `${n} as the HTTP API sees it`);

      const down = await rclone('copy', 'sluice:/billing/in', local('back'));
      assert.equal(down.code, 0, down.stderr);
      for (const [n, b] of Object.entries(files)) assert.equal(sha(fs.readFileSync(local('back', n))), sha(b), `${n} downloaded`);

      const mv = await rclone('moveto', 'sluice:/billing/in/b.csv', 'sluice:/billing/in/archiv-b.csv');
      assert.equal(mv.code, 0, mv.stderr);
      const del = await rclone('deletefile', 'sluice:/billing/in/empty.txt');
      assert.equal(del.code, 0, del.stderr);
      const mk = await rclone('mkdir', 'sluice:/billing/in/2026');
      assert.equal(mk.code, 0, mk.stderr);
      const names = (await s.t.core.files.list(s.t.system, '/billing/in')).entries.map((e) => e.name).sort();
      assert.deepEqual(names, ['2026', 'a.dat', 'archiv-b.csv']);
      const rd = await rclone('rmdir', 'sluice:/billing/in/2026');
      assert.equal(rd.code, 0, rd.stderr);
      const cat = await rclone('cat', 'sluice:/billing/in/archiv-b.csv');
      assert.equal(cat.stdout, files['b.csv']!.toString());
    });

    it('what the user may not do fails in rclone too, and leaves nothing', async () => {
      fs.writeFileSync(local('x.txt'), 'x');
      const r = await rclone('copyto', local('x.txt'), 'sluice:/elsewhere/x.txt');
      assert.notEqual(r.code, 0);
      const root = (await s.t.core.files.list(s.t.system, '/')).entries.map((e) => e.name);
      assert.deepEqual(root, ['billing']);
    });
  });
}
