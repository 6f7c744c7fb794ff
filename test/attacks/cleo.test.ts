/**
 * Attack corpus §2.4, Cleo Harmony / VLTrader / LexiCom (rows 14–15): file paths carried in
 * headers and protocol side channels (CVE-2024-50623) and unauthenticated writes into an autorun
 * directory that the server executes (CVE-2024-55956).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { str, T, u32, WRITE_NEW } from '../sftp/raw.js';
import { attackTarget, type Target } from './harness.js';

/** Every file name under a directory (the data directory must hold none a client chose). */
function namesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [e.name, ...namesUnder(path.join(dir, e.name))] : [e.name]));
}

for (const dialect of DIALECTS) {
  describe(`attacks: Cleo (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2024-50623 (CLEO-a): paths in VLSync, X-File-Name, Upload-Metadata, Destination and Content-Disposition headers are never used as paths', async () => {
      const evil = ['..\\..\\..\\etc\\passwd', `../../../..${x.outsideFile}`, 'temp/../autorun/x', '%2e%2e%5c', '/beta/inbox/secret.txt', x.outsideFile];
      for (const p of evil) {
        const headers = {
          vlsync: `Retrieve;l=Ab1234-RQ0258;n=VLTrader;v=5;a=1337;po=5080;s=True;b=False;pp=x;path=${p}`,
          'x-file-name': p,
          'upload-metadata': `filename ${Buffer.from(p).toString('base64')}`,
          destination: `/beta/inbox/x`,
          'content-disposition': `attachment; filename="${p}"`,
          'x-sluice-path': p,
        };
        for (const [m, u] of [
          ['GET', '/Synchronization'],
          ['POST', '/Synchronization'],
        ] as const) {
          const r = await x.http(m, u, { headers, ...(m === 'POST' ? { body: 'x' } : {}) });
          assert.equal(r.status, 404, `${m} ${u}`);
          x.safe(r, u);
        }
        const put = await x.http('PUT', '/api/v1/fs/acme/inbox/plain.txt', { token: x.tokens.alice, headers, body: 'plain' });
        assert.equal(put.status, 201);
        assert.equal((JSON.parse(put.text) as { path: string }).path, '/acme/inbox/plain.txt', 'the URL decides the path, nothing else');
        const get = await x.http('GET', '/api/v1/fs/acme/inbox/plain.txt', { token: x.tokens.alice, headers });
        assert.equal(get.text, 'plain');
      }
      const bob = await x.http('GET', '/api/v1/fs/beta/inbox/', { token: x.tokens.bob });
      assert.deepEqual(
        (JSON.parse(bob.text) as { entries: { name: string }[] }).entries.map((e) => e.name),
        ['secret.txt'],
      );
      assert.equal(fs.readFileSync(x.outsideFile, 'utf8'), x.outsideBody);
    });

    it('CVE-2024-55956 (CLEO-b, CLEO-c): automation-looking names land as inert files in the caller grant; nothing is written or run outside it; no sync endpoint exists', async () => {
      const names = [
        'autorun/x.txt',
        'hooks/post-upload.sh',
        'workflows/job.yaml',
        '.automation/main.xml',
        'config/settings.json',
        'templates/mail.html',
        'hosts/main.xml',
        '.ssh/authorized_keys',
        '.bashrc',
        'x.ps1',
        'x.bat',
        'x.cmd',
      ];
      const sftp = await x.sftp('alice');
      try {
        for (const n of names) {
          const dir = path.posix.dirname(`/acme/inbox/${n}`);
          if (dir !== '/acme/inbox') await x.http('POST', '/api/v1/fs-ops/mkdir', { token: x.tokens.alice, json: { path: dir } });
          const r = await x.http('PUT', `/api/v1/fs/acme/inbox/${n}`, {
            token: x.tokens.alice,
            body: '<Commands><![CDATA[SYSTEM touch /tmp/pwned]]></Commands>',
          });
          assert.equal(r.status, 201, n);
          // Outside her grant: refused on both protocols.
          for (const where of [`/${n}`, `/acme/${n}`, `/beta/inbox/${n}`]) {
            const h = await x.http('PUT', `/api/v1/fs${where}`, { token: x.tokens.alice, body: 'x' });
            assert.ok(h.status === 404 || h.status === 403, `${where}: ${h.status}`);
            x.sftpFailed(await sftp.open(where, WRITE_NEW), `SFTP ${where}`);
            x.sftpFailed(await sftp.request(T.RENAME, str(`/acme/inbox/${n}`), str(where)), `RENAME to ${where}`);
          }
        }
        x.sftpFailed(await sftp.request(T.MKDIR, str('/autorun'), u32(0)), 'MKDIR /autorun');
        x.sftpFailed(await sftp.request(T.SYMLINK, str('/acme/inbox/autorun'), str('/autorun')), 'SYMLINK to autorun');
      } finally {
        sftp.end();
      }
      // Names live in the database only: no file or directory in the data directory carries a client's name.
      const onDisk = namesUnder(x.s.t.dataDir);
      for (const n of ['autorun', 'hooks', 'workflows', 'main.xml', 'post-upload.sh', 'authorized_keys', '.bashrc', 'x.ps1', 'plain.txt']) {
        assert.ok(!onDisk.includes(n), `${n} exists in the data directory`);
      }
      assert.equal(fs.existsSync('/tmp/pwned'), false);
      for (const u of [
        '/Synchronization',
        '/as2',
        '/api/v1/as2',
        '/api/v1/partner',
        '/api/v1/sync',
        '/api/v1/cluster',
        '/api/v1/gateway',
        '/api/v1/receipts',
      ]) {
        for (const m of ['GET', 'POST']) {
          const r = await x.http(m, u, m === 'POST' ? { body: 'x', headers: { 'content-type': 'application/octet-stream' } } : {});
          assert.equal(r.status, 404, `${m} ${u}: ${r.status}`);
        }
      }
    });
  });
}
