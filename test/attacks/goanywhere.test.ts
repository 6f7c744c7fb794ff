/**
 * Attack corpus §2.3, Fortra GoAnywhere MFT (rows 11–13): deserialization of request blobs
 * (CVE-2023-0669), path-parameter normalisation into a setup wizard (CVE-2024-0204) and a signed,
 * then deserialized license response reached without authentication (CVE-2025-10035).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { attackTarget, pool, type Target } from './harness.js';

const GADGETS = [
  'rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZZTaMLT7P4KxAwACSQAEc2l6ZQ==',
  '\xac\xed\x00\x05sr\x00\x11java.util.HashMap',
  'AAEAAAD/////AQAAAAAAAAAMAgAAAF9TeXN0ZW0uV2luZG93cy5Gb3Jtcw==',
  'gASVIQAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==',
  'O:8:"stdClass":0:{}',
  '{"rce":"_$$ND_FUNC$$_function(){require(\'net\').connect(PORT,\'127.0.0.1\')}()"}',
  '!!js/function >\n  function(){ return 1 }',
  '{"__proto__":{"isAdmin":true}}',
  '{"constructor":{"prototype":{"isAdmin":true}}}',
];

for (const dialect of DIALECTS) {
  describe(`attacks: GoAnywhere MFT (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2023-0669 (GA-1): serialized objects sent to every endpoint that takes a body are refused; Object.prototype is untouched', async () => {
      const before = await x.snapshot();
      const doc = JSON.parse((await x.http('GET', '/api/openapi.json')).text) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
      const targets: [string, string][] = [];
      for (const [p, ms] of Object.entries(doc.paths))
        for (const [m, op] of Object.entries(ms))
          if (op.requestBody && !p.startsWith('/api/v1/fs/')) targets.push([m.toUpperCase(), p.replace(/\{[^}]+\}/g, 'x')]);
      targets.push(['POST', '/goanywhere/lic/accept'], ['POST', '/api/v1/license/accept'], ['POST', '/api/v1/admin/import'], ['POST', '/api/v1/admin/restore']);
      const jobs: [string, string, string, string][] = [];
      for (const [m, p] of targets)
        for (const g of GADGETS)
          for (const ct of [
            'application/json',
            'application/x-java-serialized-object',
            'application/x-www-form-urlencoded',
            'application/octet-stream',
            'application/x-yaml',
          ])
            jobs.push([m, p, g.replace('PORT', String(x.egress.port)), ct]);
      await pool(jobs, 8, async ([m, p, g, ct]) => {
        for (const token of [x.tokens.root, undefined]) {
          const body =
            ct === 'application/x-www-form-urlencoded' ? `bundle=${encodeURIComponent(Buffer.from(g, 'latin1').toString('base64'))}` : Buffer.from(g, 'latin1');
          const r = await x.http(m, p, { ...(token ? { token } : {}), headers: { 'content-type': ct }, body });
          x.safe(r, `${m} ${p} ${ct} ${g.slice(0, 20)}`);
        }
      });
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined, 'Object.prototype was polluted');
      assert.equal(x.egress.hits, 0);
      await x.unchanged(before, 'deserialization gadgets');
      await x.healthy();
    });

    it('CVE-2024-0204 (GA-2): path-parameter and encoding tricks reach no setup wizard and no admin route', async () => {
      const before = await x.snapshot();
      const paths = [
        '/static/..;/setup',
        '/static/%2e%2e/setup',
        '/static/%2e%2e%2fsetup',
        '/static/..%2fsetup',
        '/static/..%252fsetup',
        '/static/..%5csetup',
        '/static/..\\setup',
        '/static;/../setup',
        '/static/.;/../setup',
        '//setup',
        '/./setup',
        '/setup/',
        '/SETUP',
        '/Setup',
        '/setup.',
        '/setup%20',
        '/setup%00',
        '/setup%23x',
        '/setup;jsessionid=x',
        '/api/v1/../admin/users',
        '/api/v1/%2e%2e/admin/users',
        '/api/v1/fs/..;/admin/users',
        '/api/v1/fs/%2e%2e/admin/users',
        '/api/v1/auth/..;/admin/users',
        '/api/v1/auth/login/..;/../admin/users',
        '/api/v1//admin/users',
        '/api/v1/admin/users;x',
        '/api/v1/admin/users/',
        '/API/V1/ADMIN/USERS',
        '/api/v1/Admin/users',
        '/api/v1/%61dmin/users',
        '/api/v1/admin%2fusers',
        '/static/..%c0%af..%c0%afsetup',
        '/static/%u002e%u002e/setup',
        '/static/\uff0e\uff0e/setup',
        '/goanywhere/images/..;/wizard/InitialAccountSetup.xhtml',
        '/wizard/InitialAccountSetup.xhtml',
        '/install',
        '/api/v1/setup',
        '/api/v1/init',
      ];
      for (const p of paths) {
        for (const method of ['GET', 'POST']) {
          const body = method === 'POST' ? '{"login":"evil","password":"x","role":"admin"}' : '';
          const r = await x.raw(
            `${method} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          );
          assert.ok([400, 401, 404].includes(r.status), `${method} ${p}: ${r.status} ${r.text.slice(0, 100)}`);
          x.safe(r, `${method} ${p}`);
        }
      }
      // There is no setup endpoint at all, and the core's first-administrator setup is the local CLI's only.
      const doc = (await x.http('GET', '/api/openapi.json')).text;
      assert.doesNotMatch(doc, /setup|install|wizard|init"/i);
      const root = await x.s.t.core.auth.password('root', 'correct horse battery staple', { protocol: 'http', remoteAddr: '127.0.0.1' });
      await assert.rejects(x.s.t.core.setup.createFirstAdmin(root, 'evil2', 'correct horse battery staple'), /PERMISSION_DENIED|local setup/);
      const after = await x.snapshot();
      assert.deepEqual(after.rows.users, before.rows.users, 'no account was created');
    });

    it('CVE-2025-10035 (GA-3): no license, activation or update callback exists; creating an administrator needs one and is recorded', async () => {
      for (const p of [
        '/goanywhere/license/Unlicensed.xhtml/x?GARequestAction=activate',
        '/goanywhere/lic/accept/0a1b',
        '/license',
        '/api/v1/license',
        '/api/v1/activate',
        '/api/v1/update',
        '/api/v1/telemetry',
      ]) {
        for (const token of [undefined, x.tokens.alice, x.tokens.root]) {
          const r = await x.http('POST', p, { ...(token ? { token } : {}), json: { bundle: 'x' } });
          assert.equal(r.status, 404, `${p}: ${r.status}`);
          x.safe(r, p);
        }
      }
      const mark = await x.mark();
      const byPartner = await x.http('POST', '/api/v1/admin/users', {
        token: x.tokens.alice,
        json: { login: 'backdoor', role: 'admin', password: 'correct horse battery staple' },
      });
      assert.equal(byPartner.status, 403);
      const anon = await x.http('POST', '/api/v1/admin/users', { json: { login: 'backdoor', role: 'admin', password: 'correct horse battery staple' } });
      assert.equal(anon.status, 401);
      const denied = await x.events(mark, { outcome: 'denied' });
      assert.ok(
        denied.some((e) => e.actor_login === 'alice'),
        'the refused admin creation is in the ledger',
      );
      const ok = await x.http('POST', '/api/v1/admin/users', { token: x.tokens.root, json: { login: 'second-admin', role: 'admin', generatePassword: true } });
      assert.equal(ok.status, 201, ok.text);
      const created = (await x.events(mark, { outcome: 'success' })).filter((e) => e.actor_login === 'root' && e.action.startsWith('user.'));
      assert.ok(created.length >= 1, 'the new administrator is in the ledger');
      assert.equal((await x.snapshot()).rows.users!.filter((u) => (u as { login: string }).login === 'backdoor').length, 0);
    });
  });
}
