/**
 * Attack corpus §2.5, CrushFTP (rows 16–18): server-side template expansion of user input
 * (CVE-2024-4040), an alternate authentication scheme that skipped the secret (CVE-2025-31161) and
 * a race that bound an admin identity to a session through identity headers (CVE-2025-54309).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DIALECTS } from '../helpers/dialects.js';
import { RawSsh } from '../sftp/raw.js';
import { attackTarget, pool, TEST_PASSWORD, type Target } from './harness.js';

const TEMPLATES = [
  '{{7*7}}',
  '${7*7}',
  '#{7*7}',
  '{{=7*7}}',
  '[[${7*7}]]',
  '{user_name}',
  '{working_dir}',
  '%username%',
  "{{constructor.constructor('return process')().pid}}",
  '#set($x=7*7)$x',
];

for (const dialect of DIALECTS) {
  describe(`attacks: CrushFTP (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2024-4040 (CRUSH-1): template syntax in names, display names and parameters is echoed literally, never expanded', async () => {
      // As names: the forms without characters names may not hold ('*' is reserved in names).
      const asNames = TEMPLATES.map((t) => t.replaceAll('*', '+')).filter((t) => !/["<>|\\/:?]/.test(t));
      for (const t of asNames) {
        const put = await x.http('PUT', `/api/v1/fs/acme/inbox/${encodeURIComponent(t)}`, { token: x.tokens.alice, body: t });
        assert.equal(put.status, 201, `${t}: ${put.text}`);
        assert.equal((JSON.parse(put.text) as { path: string }).path, `/acme/inbox/${t}`);
      }
      const list = JSON.parse((await x.http('GET', '/api/v1/fs/acme/inbox/', { token: x.tokens.alice })).text) as { entries: { name: string }[] };
      const names = list.entries.map((e) => e.name);
      for (const t of asNames) assert.ok(names.includes(t), `${t} listed literally`);
      assert.ok(!names.some((n) => n === '14' || n === '49' || /^\d+$/.test(n) || (n.includes('alice') && n !== 'alice.txt')), `expanded: ${names.join(', ')}`);
      const u = await x.http('PATCH', '/api/v1/admin/users/alice', { token: x.tokens.root, json: { displayName: '{{7*7}} ${7*7} {user_name}' } });
      assert.equal(u.status, 200);
      assert.match(u.text, /\{\{7\*7\}\} \$\{7\*7\} \{user_name\}/);
      for (const q of ['<INCLUDE>/etc/passwd</INCLUDE>', `<INCLUDE>${x.outsideFile}</INCLUDE>`, '{working_dir}']) {
        const r = await x.http('GET', `/api/v1/fs-ops/stat?path=${encodeURIComponent(q)}`, { token: x.tokens.alice });
        x.safe(r, q);
        const z = await x.http('POST', `/WebInterface/function/?command=zip&path=${encodeURIComponent(q)}&names=/bbb`, { body: '' });
        assert.equal(z.status, 404);
        x.clean(z.text, q);
      }
      // An anonymous caller can do no file operation at all.
      for (const [m, p] of [
        ['GET', '/api/v1/fs/'],
        ['GET', '/api/v1/fs/acme/inbox/'],
        ['PUT', '/api/v1/fs/acme/inbox/anon.txt'],
        ['GET', '/api/v1/fs-ops/stat?path=/'],
      ] as const) {
        const r = await x.http(m, p, m === 'PUT' ? { body: 'x' } : {});
        assert.equal(r.status, 401, `${m} ${p}`);
      }
    });

    it('CVE-2025-31161 (CRUSH-2): a user name without a valid secret never authenticates, in any scheme; no session is created', async () => {
      const before = await x.snapshot();
      const sessionsBefore = await x.mark();
      const authz = [
        'AWS4-HMAC-SHA256 Credential=root/',
        'AWS4-HMAC-SHA256 Credential=root/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=',
        'Basic cm9vdDo=',
        `Basic ${Buffer.from(`root:${TEST_PASSWORD}`).toString('base64')}`,
        'Bearer ',
        'Bearer null',
        'Bearer undefined',
        'Bearer [object Object]',
        `Bearer ${x.tokens.root.slice(0, 20)}`,
        `bearer  ${x.tokens.root}x`,
        `BEARER\t${x.tokens.root.slice(0, -2)}`,
        'Token root',
        'Digest username="root"',
        'Negotiate YIIB',
        'ApiKey root',
      ];
      for (const a of authz) {
        for (const url of ['/api/v1/auth/me', '/api/v1/admin/users']) {
          const r = await x.http('GET', url, { headers: { authorization: a } });
          assert.equal(r.status, 401, `${url} ${a.slice(0, 40)}: ${r.status}`);
          x.safe(r, a.slice(0, 30));
        }
      }
      for (const cookie of [
        `sluice_session=${randomBytes(32).toString('base64url')}`,
        'sluice_session=',
        'sluice_session=root',
        `CrushAuth=1234567890123_${'a'.repeat(30)}; currentAuth=aaaa`,
      ]) {
        const r = await x.http('GET', '/api/v1/auth/me', { headers: { cookie } });
        assert.equal(r.status, 401, cookie);
      }
      for (const [login, password] of [
        ['root', ''],
        ['root', ' '],
        ['root', '\u0000'],
      ]) {
        const r = await x.http('POST', '/api/v1/auth/login', { json: { login, password } });
        assert.ok(r.status === 400 || r.status === 401, `empty password: ${r.status}`);
        assert.equal(r.headers.get('set-cookie'), null);
      }
      const c = await RawSsh.connect(x.port);
      const pw = await c.password('root', '');
      assert.ok(pw === 'failure' || pw === 'disconnect');
      c.close();
      const after = await x.snapshot();
      assert.deepEqual(after.rows.tokens, before.rows.tokens);
      const logins = (await x.events(sessionsBefore, { action: 'auth.login', outcome: 'success' })).length;
      assert.equal(logins, 0, 'somebody signed in');
    });

    it('CVE-2025-54309 (CRUSH-3): 400 racing requests with identity headers never reach an admin route; a session principal never changes', async () => {
      const identity = [
        'as2-to',
        'as2-from',
        'x-forwarded-user',
        'x-remote-user',
        'remote-user',
        'x-auth-user',
        'x-original-user',
        'x-impersonate-user',
        'x-webauth-user',
      ];
      // A web session for alice, to race with.
      const login = await x.http('POST', '/api/v1/auth/login', { json: { login: 'alice', password: TEST_PASSWORD } });
      assert.equal(login.status, 200);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const jobs = Array.from({ length: 400 }, (_, i) => i);
      let admin = 0;
      let me = 0;
      await pool(jobs, 50, async (i) => {
        const h: Record<string, string> = i % 3 === 0 ? { cookie } : i % 3 === 1 ? { authorization: `Bearer ${x.tokens.alice}` } : {};
        if (i % 2) for (const name of identity) h[name] = name.startsWith('as2') ? '\\root' : 'root';
        const r = await x.http('GET', i % 4 < 2 ? '/api/v1/admin/users' : '/api/v1/auth/me', { headers: h });
        if (r.status === 200 && r.text.includes('"root"')) admin++;
        if (r.status === 200 && /"login":"root"/.test(r.text)) me++;
        assert.ok([200, 401, 403].includes(r.status), `${i}: ${r.status}`);
      });
      assert.equal(admin, 0, 'an admin answer');
      assert.equal(me, 0, 'a request was taken for root');
      const still = await x.http('GET', '/api/v1/auth/me', { headers: { cookie } });
      assert.match(still.text, /"login":"alice"/);
    });
  });
}
