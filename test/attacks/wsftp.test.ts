/**
 * Attack corpus §2.9, Progress WS_FTP (rows 25–26): pre-auth deserialization in a peripheral
 * module (CVE-2023-40044) — so every route of the inventory must carry the same authentication and
 * schema as the core API — and directory traversal out of the server's tree (CVE-2023-42657).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { OPEN, str, T } from '../sftp/raw.js';
import { attackTarget, pool, type Target } from './harness.js';

/** Routes meant for callers without credentials (everything else must answer 401 without them). */
const PUBLIC = new Set([
  'GET /api/openapi.json',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/passkey/options',
  'POST /api/v1/auth/passkey/second-options',
  'POST /api/v1/auth/passkey',
  'GET /api/v1/auth/oidc',
  'GET /api/v1/auth/oidc/start',
  'GET /api/v1/auth/oidc/callback',
  // tus discovery: which protocol versions and extensions this server speaks (routes-tus.ts).
  'OPTIONS /api/v1/uploads',
]);

for (const dialect of DIALECTS) {
  describe(`attacks: WS_FTP (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2023-40044 (WSFTP): every route of the inventory refuses an anonymous caller, unless it is one of the few public ones; bodies have schemas', async () => {
      const doc = JSON.parse((await x.http('GET', '/api/openapi.json')).text) as {
        paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { type?: string; additionalProperties?: unknown } }> } }>>;
      };
      const ops: [string, string, boolean][] = [];
      for (const [p, ms] of Object.entries(doc.paths))
        for (const [m, op] of Object.entries(ms)) if (m !== 'head') ops.push([m.toUpperCase(), p, !!op.requestBody]);
      assert.ok(ops.length > 50, `the inventory has ${ops.length} operations`);
      const before = await x.snapshot();
      await pool(ops, 8, async ([m, p, hasBody]) => {
        const url = p.replace('{path}', 'acme/inbox/alice.txt').replace(/\{[^}]+\}/g, 'x');
        const body = hasBody || m === 'PUT' || m === 'POST' ? 'rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ==' : undefined;
        const r = await x.http(m, url, { ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) });
        if (PUBLIC.has(`${m} ${p}`)) {
          assert.ok(r.status < 500 || r.status === 503, `${m} ${p}: ${r.status}`);
          return;
        }
        assert.equal(r.status, 401, `${m} ${p} answered an anonymous caller with ${r.status}`);
        x.safe(r, `${m} ${p}`);
        // JSON bodies are schema-checked: an object schema for every operation that takes one.
        if (hasBody && !p.startsWith('/api/v1/fs/')) {
          const schema = doc.paths[p]![m.toLowerCase()]!.requestBody!.content?.['application/json']?.schema;
          assert.ok(schema, `${m} ${p} has no JSON schema`);
        }
      });
      await x.unchanged(before, 'anonymous inventory sweep');
    });

    it('CVE-2023-42657: directory traversal in every file operation stays inside the tree and the caller grant (HTTP and SFTP)', async () => {
      const before = await x.snapshot();
      const escapes = [
        '../../../etc/passwd',
        '..\\..\\..\\etc\\passwd',
        `/acme/inbox/../../..${x.outsideFile}`,
        '/acme/inbox/../../beta/inbox/secret.txt',
        '/../beta/inbox/secret.txt',
      ];
      const sftp = await x.sftp('alice');
      try {
        for (const e of escapes) {
          for (const [m, u, body] of [
            ['GET', `/api/v1/fs-ops/stat?path=${encodeURIComponent(e)}`, undefined],
            ['POST', '/api/v1/fs-ops/mkdir', { path: e }],
            ['POST', '/api/v1/fs-ops/rename', { from: '/acme/inbox/alice.txt', to: e }],
            ['POST', '/api/v1/fs-ops/rename', { from: e, to: '/acme/inbox/got.txt' }],
          ] as const) {
            const r = await x.http(m, u, { token: x.tokens.alice, ...(body ? { json: body } : {}) });
            assert.ok(r.status === 400 || r.status === 404, `${m} ${u} ${JSON.stringify(body)}: ${r.status}`);
            x.safe(r, `${m} ${u}`);
          }
          const raw = await x.raw(x.rawHead('GET', `/api/v1/fs/${e}`, { authorization: `Bearer ${x.tokens.alice}` }));
          assert.ok(raw.status === 400 || raw.status === 404, `GET ${e}: ${raw.status}`);
          x.safe(raw, e);
          x.sftpFailed(await sftp.open(e, OPEN.READ), `SFTP OPEN ${e}`);
          x.sftpFailed(await sftp.request(T.OPENDIR, str(e)), `SFTP OPENDIR ${e}`);
        }
      } finally {
        sftp.end();
      }
      await x.unchanged(before, 'traversal');
    });
  });
}
