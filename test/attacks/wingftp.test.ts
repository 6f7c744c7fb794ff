/**
 * Attack corpus §2.10, Wing FTP Server (row 27, CVE-2025-47812): a NUL byte cut the string the
 * authentication checked ("anonymous") short of the string that was stored and executed. Here NUL
 * (and its encodings) in any identifier or path, on every protocol, is refused; the string that
 * authenticates is byte for byte the one stored.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { RawSsh, str, T, u32, WRITE_NEW } from '../sftp/raw.js';
import { attackTarget, TEST_PASSWORD, type Target } from './harness.js';

const SUFFIXES = [']]', '"', "'", '\n', '}}', '*/', ']]\rlocal h = io.popen("id")\r--'];

for (const dialect of DIALECTS) {
  describe(`attacks: Wing FTP (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2025-47812: NUL in user names, passwords, paths and names is refused over HTTP, SFTP and the admin API', async () => {
      const before = await x.snapshot();
      const mark = await x.mark();
      for (const s of SUFFIXES) {
        for (const login of [`alice\u0000${s}`, `anonymous\u0000${s}`, `root\u0000${s}`]) {
          const form = await x.http('POST', '/api/v1/auth/login', { json: { login, password: TEST_PASSWORD } });
          assert.ok(form.status === 401 || form.status === 400, `${JSON.stringify(login)}: ${form.status}`);
          x.safe(form, JSON.stringify(login));
          assert.equal(form.headers.get('set-cookie'), null);
          const c = await RawSsh.connect(x.port);
          const r = await c.password(login, TEST_PASSWORD);
          assert.ok(r === 'failure' || r === 'disconnect', `SFTP ${JSON.stringify(login)}: ${r}`);
          c.close();
        }
        const pw = await x.http('POST', '/api/v1/auth/login', { json: { login: 'alice', password: `${TEST_PASSWORD}\u0000${s}` } });
        assert.ok(pw.status === 401 || pw.status === 400, 'a password with a NUL suffix is another password');
        assert.equal(pw.headers.get('set-cookie'), null);
      }
      // Encoded forms in the URL: %00 and the overlong %C0%80.
      for (const p of ['a%00b', 'a%C0%80b', 'alice.txt%00.jpg']) {
        const r = await x.raw(x.rawHead('PUT', `/api/v1/fs/acme/inbox/${p}`, { authorization: `Bearer ${x.tokens.alice}`, 'content-length': 1 }) + 'x');
        assert.equal(r.status, 400, p);
        x.safe(r, p);
      }
      for (const [m, u, body] of [
        ['POST', '/api/v1/fs-ops/mkdir', { path: '/acme/inbox/a\u0000b' }],
        ['POST', '/api/v1/admin/users', { login: 'eve\u0000', org: 'Acme', generatePassword: true }],
        ['POST', '/api/v1/admin/orgs', { name: 'Evil\u0000Org' }],
        ['POST', '/api/v1/tokens', { name: 'n\u0000' }],
        ['PATCH', '/api/v1/admin/users/alice', { displayName: 'x\u0000y', email: 'a\u0000@example.org' }],
      ] as const) {
        const r = await x.http(m, u, { token: x.tokens.root, json: body });
        assert.equal(r.status, 400, `${m} ${u} ${JSON.stringify(body)}: ${r.status} ${r.text}`);
        x.safe(r, u);
      }
      // A NUL in a lookup never reaches the database as an error (it did on PostgreSQL: a 500).
      for (const [m, u] of [
        ['GET', '/api/v1/admin/users/alice%00'],
        ['GET', '/api/v1/admin/orgs/Acme%00'],
        ['GET', '/api/v1/admin/orgs?q=a%00'],
        ['DELETE', '/api/v1/tokens/x%00'],
        ['GET', '/api/v1/admin/audit/events?login=a%00'],
        ['GET', '/api/v1/admin/ledger/events?path=a%00b'],
      ] as const) {
        const r = await x.http(m, u, { token: x.tokens.root });
        // 400 from the text guard, or 404 where the router itself refuses the parameter.
        assert.ok(r.status === 400 || r.status === 404, `${m} ${u}: ${r.status} ${r.text}`);
        x.safe(r, u);
      }
      const sftp = await x.sftp('alice');
      try {
        for (const p of ['/acme/inbox/a\u0000b', '/acme/inbox/alice.txt\u0000.jpg', '/acme/inbox/\u0000/../../beta/inbox/secret.txt']) {
          x.sftpFailed(await sftp.open(p, WRITE_NEW), `OPEN ${JSON.stringify(p)}`);
          x.sftpFailed(await sftp.request(T.MKDIR, str(p), u32(0)), `MKDIR ${JSON.stringify(p)}`);
          x.sftpFailed(await sftp.request(T.STAT, str(p)), `STAT ${JSON.stringify(p)}`);
        }
      } finally {
        sftp.end();
      }
      await x.unchanged(before, 'NUL bytes');
      // The failures were recorded, the claimed names escaped.
      const fails = await x.events(mark, { action: 'auth.login', outcome: 'failure' });
      assert.ok(fails.length >= 1, 'the failed sign-ins are recorded (repeats aggregated)');
      for (const e of fails) assert.ok(!(e.actor_login ?? '').includes('\u0000'), 'a raw NUL in the ledger');
      const verify = await x.http('GET', '/api/v1/admin/audit/verify', { token: x.tokens.root });
      assert.equal((JSON.parse(verify.text) as { ok: boolean }).ok, true, verify.text);
    });
  });
}
