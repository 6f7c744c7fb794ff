/**
 * Attack corpus §2.8, SFTPGo's published advisories (rows 37–46, SG-1 … SG-14), each replayed:
 * recovery codes before 2FA, stored XSS, inline disposition, restricted users, admin → OS,
 * rsync/SCP argument injection, normalisation after routing, placeholder injection, share escapes,
 * links that outlive their account, SCP memory, symlinks, CSRF fall-through, invisible names.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { connect, FX, OPEN, str, T, u32, WRITE_NEW } from '../sftp/raw.js';
import { attackTarget, TEST_PASSWORD, type Target } from './harness.js';

for (const dialect of DIALECTS) {
  describe(`attacks: SFTPGo advisories (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    const webSession = async (login: string) => {
      const r = await x.http('POST', '/api/v1/auth/login', { json: { login, password: TEST_PASSWORD } });
      assert.equal(r.status, 200, r.text);
      return (r.headers.get('set-cookie') ?? '').split(';')[0]!;
    };

    it('CVE-2022-36071 (SG-1): recovery codes cannot be made while two-factor sign-in is off', async () => {
      const before = await x.snapshot();
      const admin = await x.http('POST', '/api/v1/admin/users/alice/mfa/recovery-codes', { token: x.tokens.root });
      assert.equal(admin.status, 409, admin.text);
      x.safe(admin, 'admin recovery codes with MFA off');
      const cookie = await webSession('bob');
      const self = await x.http('POST', '/api/v1/me/mfa/recovery-codes', { headers: { cookie, origin: x.base } });
      assert.ok(self.status === 409 || self.status === 403, `self: ${self.status}`);
      const bearer = await x.http('POST', '/api/v1/me/mfa/recovery-codes', { token: x.tokens.alice });
      assert.equal(bearer.status, 403, 'two-factor settings need a web session');
      const after = await x.snapshot();
      assert.deepEqual(
        after.rows.users!.map((u) => (u as { mfa_recovery: unknown }).mfa_recovery),
        before.rows.users!.map((u) => (u as { mfa_recovery: unknown }).mfa_recovery),
      );
    });

    it('CVE-2022-39220, GHSA-f9qc-3v4f-32w3 (SG-2): markup in file and folder names is refused on both protocols; JSON answers are never HTML', async () => {
      const sftp = await x.sftp('alice');
      try {
        for (const n of ['<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>', '</script><script>alert(1)</script>']) {
          x.sftpFailed(await sftp.request(T.MKDIR, str(`/acme/inbox/${n}`), u32(0)), `MKDIR ${n}`);
          x.sftpFailed(await sftp.open(`/acme/inbox/${n}`, WRITE_NEW), `OPEN ${n}`);
          const r = await x.http('PUT', `/api/v1/fs/acme/inbox/${encodeURIComponent(n)}`, { token: x.tokens.alice, body: 'x' });
          assert.equal(r.status, 400, n);
        }
      } finally {
        sftp.end();
      }
      const u = await x.http('PATCH', '/api/v1/admin/users/bob', { token: x.tokens.root, json: { displayName: '<img src=x onerror=alert(1)>' } });
      assert.equal(u.status, 200);
      assert.match(u.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(u.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(u.headers.get('x-content-type-options'), 'nosniff');
    });

    it('CVE-2026-49245 (SG-3): inline-disposition parameters never make an upload render in our origin', async () => {
      for (const n of ['x.html', 'x.svg', 'x.xml', 'x.pdf', 'x.xhtml']) {
        const put = await x.http('PUT', `/api/v1/fs/acme/inbox/${n}`, {
          token: x.tokens.alice,
          body: '<html><script>alert(1)</script></html>',
          headers: { 'content-type': 'text/html' },
        });
        assert.equal(put.status, 201);
        for (const q of ['', '?inline=1', '?disposition=inline', '?download=0', '?view=1']) {
          for (const accept of ['text/html', '*/*']) {
            const r = await x.http('GET', `/api/v1/fs/acme/inbox/${n}${q}`, { token: x.tokens.alice, headers: { accept } });
            if (r.status === 400) continue; // unknown parameters may be refused
            assert.equal(r.status, 200, `${n}${q}`);
            assert.match(r.headers.get('content-disposition') ?? '', /^attachment/, `${n}${q}`);
            assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
            assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'|sandbox/);
            assert.doesNotMatch(r.headers.get('content-type') ?? '', /html|svg|xml/, `${n}${q}: served as ${r.headers.get('content-type')}`);
          }
        }
      }
    });

    it('CVE-2024-37897 (SG-4): a disabled or expired user gets no password reset and no sign-in, answered like an unknown one', async () => {
      await x.s.t.user('gone', { org: 'Acme' });
      await x.s.t.user('expired', { org: 'Acme' });
      await x.s.t.core.admin.users.update(x.s.t.system, 'gone', { status: 'disabled' });
      await x.s.t.core.admin.users.update(x.s.t.system, 'expired', { expiresAt: Date.now() - 1000 });
      const unknown = await x.http('POST', '/api/v1/auth/login', { json: { login: 'nobody-at-all', password: TEST_PASSWORD } });
      for (const l of ['gone', 'expired']) {
        const r = await x.http('POST', '/api/v1/auth/login', { json: { login: l, password: TEST_PASSWORD } });
        assert.equal(r.status, 401, l);
        assert.equal(r.text, unknown.text, `${l} is told apart from an unknown user`);
        for (const u of ['/api/v1/auth/reset', '/api/v1/auth/password-reset', '/api/v1/auth/forgot']) {
          const f = await x.http('POST', u, { json: { login: l } });
          assert.equal(f.status, 404, u);
        }
      }
    });

    it('CVE-2024-52309 (SG-5): no administrative setting names a command, hook, script or program', async () => {
      const doc = (await x.http('GET', '/api/openapi.json')).text;
      for (const word of ['command', 'hook', 'script', 'program', 'exec', 'shell', 'antivirus', 'binary']) {
        assert.doesNotMatch(doc, new RegExp(`"${word}[A-Za-z]*"\\s*:`, 'i'), `an API field "${word}…"`);
      }
    });

    it('CVE-2025-24366, GHSA-j4w8-6gjf-fqvg (SG-6, SG-11): rsync, scp and every other exec is refused; nothing runs', async () => {
      const c = await connect(x.port, 'alice', { key: x.keys.alice });
      try {
        for (const cmd of [
          "rsync --server -e 'sh -c id' . /",
          `rsync --server --log-file=${x.outsideFile} . /`,
          'rsync --server --files-from=/etc/passwd . /',
          'scp -t ../../x',
          'scp -f /etc/passwd',
          'sha256sum /etc/shadow',
          "git-upload-pack '/'",
        ]) {
          await new Promise<void>((resolve) => c.exec(cmd, (err) => (assert.ok(err, `${cmd} was accepted`), resolve())));
        }
        await new Promise<void>((resolve) => c.subsys('scp', (err) => (assert.ok(err, 'subsystem scp'), resolve())));
      } finally {
        c.end();
      }
      await x.healthy();
    });

    it("CVE-2026-30914 (SG-7): SFTPGo's own normalisation vectors are decided on the canonical path, over HTTP and SFTP", async () => {
      const before = await x.snapshot();
      const vectors = [
        '\\beta\\inbox\\secret.txt',
        '/acme\\inbox/test.txt',
        '/acme/inbox/../../beta/inbox/secret.txt',
        '/beta/../../secret.txt',
        '/acme\\..\\beta\\inbox\\secret.txt',
        'test\\..\\..\\oops/file.txt',
        'beta//inbox/../inbox/secret.txt',
        'acme/../beta/inbox/secret.txt',
      ];
      const sftp = await x.sftp('alice');
      try {
        for (const v of vectors) {
          x.sftpFailed(await sftp.open(v, OPEN.READ), `SFTP read ${v}`);
          x.sftpFailed(await sftp.open(v, WRITE_NEW), `SFTP write ${v}`);
          const r = await x.http('GET', `/api/v1/fs-ops/stat?path=${encodeURIComponent(v)}`, { token: x.tokens.alice });
          assert.ok(r.status === 400 || r.status === 404, `stat ${v}: ${r.status}`);
          const m = await x.http('POST', '/api/v1/fs-ops/rename', { token: x.tokens.alice, json: { from: '/acme/inbox/alice.txt', to: v } });
          assert.ok(m.status >= 400, `rename to ${v}: ${m.status}`);
        }
        // Names that only look like dots stay literal names in her own folder.
        for (const n of ['/acme/inbox/...hidden', '/acme/inbox/..hidden_file.txt']) {
          const o = await sftp.open(n, WRITE_NEW);
          assert.equal(o.type, 102, `${n} is a literal name`);
          await sftp.close(o.handle!);
          assert.equal((await sftp.request(T.STAT, str(n))).type, 105);
          assert.equal((await sftp.request(T.REMOVE, str(n))).code, FX.OK);
        }
      } finally {
        sftp.end();
      }
      await x.unchanged(before, 'SFTPGo vectors');
    });

    it('CVE-2026-30915 (SG-8): logins and organisation names with separators, dots or placeholders are refused at creation', async () => {
      const before = await x.snapshot();
      for (const login of ['../bob', 'a/../../b', 'a\\b', 'a%00b', 'a\u0000b', '%username%', '{user}', '.', '..', 'a b']) {
        const r = await x.http('POST', '/api/v1/admin/users', { token: x.tokens.root, json: { login, org: 'Acme', generatePassword: true } });
        assert.equal(r.status, 400, `${login}: ${r.status}`);
        x.safe(r, login);
      }
      for (const name of ['../Beta', 'a/b', 'a\\b', '.', '..', 'a\u0000b']) {
        const r = await x.http('POST', '/api/v1/admin/orgs', { token: x.tokens.root, json: { name } });
        assert.equal(r.status, 400, `org ${name}: ${r.status}`);
      }
      await x.unchanged(before, 'placeholder names');
    });

    it('CVE-2026-49244 (SG-9): there is no share or archive download that could escape a folder', async () => {
      for (const u of ['/api/v1/shares', '/api/v1/share/x/zip', '/api/v1/fs-ops/zip', '/api/v1/fs/acme/inbox/?zip=1&files=["../../beta/inbox/secret.txt"]']) {
        const r = await x.http('GET', u, { token: x.tokens.alice });
        assert.ok(r.status === 404 || r.status === 400 || (r.status === 200 && !r.text.includes('secret')), `${u}: ${r.status}`);
        x.clean(r.text, u);
      }
    });

    it('GHSA-5jhj-cjcp-jr8r (SG-10): tokens, web sessions and new SFTP sign-ins stop when the account is disabled', async () => {
      await x.s.t.user('carol', { org: 'Acme' });
      await x.s.t.core.admin.grants.set(x.s.t.system, 'carol', '/acme/inbox', 'list,read');
      const token = (await x.s.t.core.admin.tokens.create(x.s.t.system, 'carol', {})).token;
      const cookie = await webSession('carol');
      assert.equal((await x.http('GET', '/api/v1/fs/acme/inbox/', { token })).status, 200);
      assert.equal((await x.http('GET', '/api/v1/fs/acme/inbox/', { headers: { cookie } })).status, 200);
      await x.s.t.core.admin.users.update(x.s.t.system, 'carol', { status: 'disabled' });
      assert.equal((await x.http('GET', '/api/v1/fs/acme/inbox/', { token })).status, 401);
      assert.equal((await x.http('GET', '/api/v1/fs/acme/inbox/', { headers: { cookie } })).status, 401);
      await assert.rejects(connect(x.port, 'carol', { password: TEST_PASSWORD }));
    });

    it('SG-12 (symlink hardening): SYMLINK, READLINK and hardlinks are refused; nothing can point outside', async () => {
      const sftp = await x.sftp('alice');
      try {
        for (const [target, link] of [
          ['/', '/acme/inbox/escape'],
          ['/beta/inbox', '/acme/inbox/evil'],
          ['../../x', '/acme/inbox/dangling'],
          [x.outsideFile, '/acme/inbox/out'],
        ]) {
          x.sftpFailed(await sftp.request(T.SYMLINK, str(link!), str(target!)), `SYMLINK ${link} -> ${target}`);
          x.sftpFailed(await sftp.request(T.SYMLINK, str(target!), str(link!)), `SYMLINK (OpenSSH order) ${target} -> ${link}`);
          x.sftpFailed(await sftp.open(`${link}/etc/passwd`, OPEN.READ), 'read through the link');
        }
        x.sftpFailed(await sftp.request(T.READLINK, str('/acme/inbox/alice.txt')), 'READLINK');
        x.sftpFailed(await sftp.extended('hardlink@openssh.com', str('/beta/inbox/secret.txt'), str('/acme/inbox/h')), 'hardlink');
      } finally {
        sftp.end();
      }
    });

    it('SG-13 (CSRF fall-through): a cookie-authenticated change without our Origin is refused and has no side effect', async () => {
      const cookie = await webSession('alice');
      const before = await x.snapshot();
      for (const origin of [undefined, 'null', 'https://evil.test', 'http://127.0.0.1.evil.test']) {
        for (const [m, u, body] of [
          ['POST', '/api/v1/fs-ops/mkdir', { path: '/acme/inbox/csrf' }],
          ['POST', '/api/v1/fs-ops/rename', { from: '/acme/inbox/alice.txt', to: '/acme/inbox/csrf.txt' }],
          ['POST', '/api/v1/tokens', { name: 'csrf' }],
          ['DELETE', '/api/v1/fs/acme/inbox/alice.txt', undefined],
        ] as const) {
          const r = await x.http(m, u, { headers: { cookie, ...(origin ? { origin } : {}) }, ...(body ? { json: body } : {}) });
          assert.equal(r.status, 403, `${m} ${u} origin ${origin}: ${r.status}`);
          x.safe(r, `${m} ${u}`);
        }
        const tp = await x.http('POST', '/api/v1/fs-ops/mkdir', {
          headers: { cookie, 'content-type': 'text/plain', ...(origin ? { origin } : {}) },
          body: '{"path":"/acme/inbox/csrf"}',
        });
        assert.ok(tp.status === 403 || tp.status === 415, `text/plain: ${tp.status}`);
      }
      const login = await x.http('POST', '/api/v1/auth/login', { json: { login: 'alice', password: TEST_PASSWORD }, headers: { origin: 'https://evil.test' } });
      assert.equal(login.status, 403, 'login CSRF');
      assert.equal(login.headers.get('set-cookie'), null);
      await x.unchanged(before, 'CSRF');
    });

    it('SG-14: zero-width, bidi, BOM and line-separator characters in names are refused on both protocols', async () => {
      const sftp = await x.sftp('alice');
      try {
        for (const n of ['adm\u200bin', 'invoice\u202efdp.exe', '\ufeffbom', 'a\u2028b', 'a\u2029b', 'x\u2066y\u2069']) {
          x.sftpFailed(await sftp.open(`/acme/inbox/${n}`, WRITE_NEW), `SFTP ${JSON.stringify(n)}`);
          const r = await x.http('PUT', `/api/v1/fs/acme/inbox/${encodeURIComponent(n)}`, { token: x.tokens.alice, body: 'x' });
          assert.equal(r.status, 400, JSON.stringify(n));
        }
      } finally {
        sftp.end();
      }
    });
  });
}
