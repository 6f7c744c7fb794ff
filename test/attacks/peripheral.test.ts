/**
 * Attack corpus §2.11, the smaller products (rows 31–33): a shipped test file that served
 * phpinfo (ownCloud CVE-2023-49103), settings changed without authentication (ProjectSend
 * CVE-2024-11680) and command injection from a low-privilege user's field (FileZen CVE-2026-25108).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { attackTarget, TEST_PASSWORD, type Target } from './harness.js';

for (const dialect of DIALECTS) {
  describe(`attacks: ownCloud, ProjectSend, FileZen (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2023-49103 (OC-1): development artifacts, source, tests and environment are not served, with or without path-info suffixes', async () => {
      const artifacts = [
        '/.git/HEAD',
        '/.env',
        '/package.json',
        '/package-lock.json',
        '/tsconfig.json',
        '/node_modules/',
        '/node_modules/ssh2/package.json',
        '/src/app/serve.ts',
        '/dist/app/serve.js.map',
        '/coverage/',
        '/test/attacks/harness.ts',
        '/debug',
        '/api-docs',
        '/swagger.json',
        '/graphql',
        '/.DS_Store',
        '/backup.zip',
        '/db.sqlite',
        '/apps/graphapi/vendor/microsoft/microsoft-graph/tests/GetPhpInfo.php',
        '/phpinfo.php',
        '/server-status',
        '/api/v1/env',
        '/api/v1/debug/vars',
      ];
      for (const a of artifacts) {
        for (const suffix of ['', '/x.css', ';.css', '%2fx.css', '?.css', '#.css']) {
          const r = await x.raw(x.rawHead('GET', `${a}${suffix}`));
          assert.ok(r.status === 404 || r.status === 400, `${a}${suffix}: ${r.status}`);
          x.safe(r, a);
          assert.doesNotMatch(r.text, /SLUICE_|PATH=|HOME=|"dependencies"/, `${a}: environment or package data`);
        }
      }
      // What is public tells nothing about the machine: no version of Node, no paths, no environment.
      for (const u of ['/healthz', '/readyz', '/api/openapi.json']) {
        const r = await x.http('GET', u);
        assert.equal(r.status, 200);
        x.clean(r.text, u);
        assert.doesNotMatch(r.text, /SLUICE_[A-Z_]+=|node\/v?\d+\.\d+|\/home\//);
        assert.equal(r.headers.get('x-powered-by'), null);
        assert.equal(r.headers.get('server'), null);
      }
    });

    it('CVE-2024-11680 (PS-1): every settings-changing route refuses no session, a partner session and a cookie without our Origin; nothing changes', async () => {
      const before = await x.snapshot();
      const login = await x.http('POST', '/api/v1/auth/login', { json: { login: 'root', password: TEST_PASSWORD } });
      const rootCookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const changes: [string, string, unknown][] = [
        ['PUT', '/api/v1/admin/lockdown', { mode: 'read-only', reason: 'x' }],
        ['PUT', '/api/v1/admin/protocols/sftp', { enabled: false }],
        ['POST', '/api/v1/admin/budgets/lift', { scope: 'global' }],
        ['PATCH', '/api/v1/admin/orgs/Acme', { quotaBytes: 1 }],
        ['PUT', '/api/v1/admin/grants', { subject: 'alice', path: '/beta/inbox', permissions: 'manage' }],
        ['PATCH', '/api/v1/admin/users/alice', { role: 'admin' }],
        ['POST', '/api/v1/admin/users', { login: 'projectsend', role: 'admin', generatePassword: true }],
        ['POST', '/api/v1/admin/folders', { path: '/options' }],
        ['POST', '/api/v1/admin/canaries', { path: '/beta/inbox/secret.txt' }],
        ['POST', '/options.php', { allowed_file_types: 'php,js' }],
      ];
      for (const [m, u, body] of changes) {
        const anon = await x.http(m, u, { json: body });
        assert.ok(anon.status === 401 || (u === '/options.php' && anon.status === 404), `${m} ${u} anonymous: ${anon.status}`);
        const partner = await x.http(m, u, { token: x.tokens.alice, json: body });
        assert.ok(partner.status === 403 || (u === '/options.php' && partner.status === 404), `${m} ${u} as a partner: ${partner.status}`);
        const csrf = await x.http(m, u, { headers: { cookie: rootCookie }, json: body });
        assert.ok(csrf.status === 403 || (u === '/options.php' && csrf.status === 404), `${m} ${u} cookie without Origin: ${csrf.status}`);
        for (const r of [anon, partner, csrf]) x.safe(r, `${m} ${u}`);
      }
      await x.unchanged(before, 'unauthenticated settings');
    });

    it('CVE-2026-25108 (FZ-1): command-injection values from a low-privilege user reach no shell; files keep them as text', async () => {
      const pwned = path.join(path.dirname(x.outsideFile), 'fz-pwned');
      for (const v of [`x;touch ${pwned}`, `$(touch ${pwned})`, `\`touch ${pwned}\``, `x&&touch ${pwned}`]) {
        const name = v.replace(/\//g, '_');
        const put = await x.http('PUT', `/api/v1/fs/acme/inbox/${encodeURIComponent(name)}`, {
          token: x.tokens.alice,
          body: v,
          headers: { 'x-sluice-categories': 'health', 'x-sluice-records': '1' },
        });
        assert.ok(put.status === 201 || put.status === 400, `${name}: ${put.status}`);
        const t = await x.http('POST', '/api/v1/tokens', { token: x.tokens.alice, json: { name: v } });
        assert.ok(t.status < 500);
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(fs.existsSync(pwned), false, 'a command ran');
    });
  });
}
