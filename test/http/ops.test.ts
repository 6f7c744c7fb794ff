/**
 * Operations over real HTTP: /healthz, /readyz (and 503 when storage is gone), /metrics (content,
 * counters that move, who may read it), the OpenAPI document and docs UI, the security headers on
 * every kind of response, and the one-line-per-request log without secrets.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { bearer, errorCode, rawHead, rawRequest, serve, tokenFor, type Served } from './helpers.js';

/** Value of one sample in Prometheus text, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([^{\s]+)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4]);
  }
  return 0;
}

for (const dialect of DIALECTS) {
  describe(`HTTP operations (${dialect})`, () => {
    let s: Served;
    let admin: string;
    let alice: string;

    before(async () => {
      s = await serve(dialect);
      const { t } = s;
      await t.user('root', { role: 'admin' });
      await t.core.admin.orgs.create(t.system, { name: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      await t.user('alice', { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write,delete');
      [admin, alice] = await Promise.all([tokenFor(t, 'root'), tokenFor(t, 'alice')]);
    });
    after(() => s.close());

    it('/healthz and /readyz answer 200 { status: "ok" } without credentials', async () => {
      for (const p of ['/healthz', '/readyz']) {
        const r = await fetch(`${s.base}${p}`);
        assert.equal(r.status, 200, p);
        assert.deepEqual(await r.json(), { status: 'ok' });
      }
    });

    it('/readyz answers 503 UNAVAILABLE while storage is unreachable', async () => {
      const blobs = path.join(s.t.dataDir, 'blobs');
      const aside = `${blobs}.aside`;
      fs.renameSync(blobs, aside);
      fs.writeFileSync(blobs, 'not a directory');
      try {
        const r = await fetch(`${s.base}/readyz`);
        assert.equal(r.status, 503);
        const text = await r.text();
        assert.equal(errorCode(JSON.parse(text) as unknown), 'UNAVAILABLE');
        assert.ok(!text.includes(s.t.dataDir), text);
      } finally {
        fs.rmSync(blobs);
        fs.renameSync(aside, blobs);
      }
      assert.equal((await fetch(`${s.base}/readyz`)).status, 200);
    });

    it('answers an internal failure with 500 "internal error" only, and logs the cause', async () => {
      const blobs = path.join(s.t.dataDir, 'blobs');
      const aside = `${blobs}.aside`;
      fs.renameSync(blobs, aside);
      fs.writeFileSync(blobs, 'not a directory');
      const from = s.logs.length;
      try {
        const r = await fetch(`${s.base}/api/v1/fs/acme/inbox/broken.bin`, { method: 'PUT', headers: bearer(alice), body: 'x'.repeat(100_000) }); // past the inline limit: it needs the store
        assert.equal(r.status, 500);
        assert.deepEqual(await r.json(), { error: { code: 'INTERNAL', message: 'internal error' } });
      } finally {
        fs.rmSync(blobs);
        fs.renameSync(aside, blobs);
      }
      const failed = s.logs.slice(from).filter((l) => l.msg === 'request failed');
      assert.equal(failed.length, 1, JSON.stringify(s.logs.slice(from)));
      assert.equal(failed[0]?.level, 50);
      assert.ok(JSON.stringify(failed[0]?.err).length > 20, 'the cause is in the log');
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/inbox/broken.bin`, { headers: bearer(alice) })).status, 404);
    });

    it('/metrics serves Prometheus text whose counters move with traffic', async () => {
      const read = async () => {
        const r = await fetch(`${s.base}/metrics`);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        return r.text();
      };
      const m0 = await read();
      const body = Buffer.alloc(12_345, 1);
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/inbox/m.bin`, { method: 'PUT', headers: bearer(alice), body })).status, 201);
      const dl = await fetch(`${s.base}/api/v1/fs/acme/inbox/m.bin`, { headers: bearer(alice) });
      assert.equal((await dl.arrayBuffer()).byteLength, body.length);
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/inbox/missing`, { headers: bearer(alice) })).status, 404);
      let m1 = '';
      // The download's end is counted when its stream closes: poll briefly.
      for (let i = 0; i < 40; i++) {
        m1 = await read();
        if (sample(m1, 'sluice_bytes_out_total', { protocol: 'http' }) - sample(m0, 'sluice_bytes_out_total', { protocol: 'http' }) >= body.length) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const d = (name: string, labels: Record<string, string>) => sample(m1, name, labels) - sample(m0, name, labels);
      assert.equal(d('sluice_bytes_in_total', { protocol: 'http' }), body.length);
      assert.equal(d('sluice_bytes_out_total', { protocol: 'http' }), body.length);
      assert.equal(d('sluice_transfers_total', { direction: 'upload', outcome: 'success' }), 1);
      assert.equal(d('sluice_transfers_total', { direction: 'download', outcome: 'success' }), 1);
      assert.equal(d('sluice_errors_total', { code: 'NOT_FOUND' }), 1);
      assert.equal(d('http_requests_total', { method: 'PUT', route: '/api/v1/fs/*', status: '201' }), 1);
      assert.ok(d('http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/fs/*', status: '200' }) >= 1);
      assert.ok(m1.includes('http_request_duration_seconds_bucket{'));
      assert.ok(sample(m1, 'process_cpu_user_seconds_total') > 0, 'default process metrics');
      assert.ok(sample(m1, 'nodejs_heap_size_total_bytes') > 0);
    });

    it('/metrics needs an administrator unless the client is on loopback without a proxy', async () => {
      const viaProxy = { 'x-forwarded-for': '203.0.113.9' };
      const anon = await fetch(`${s.base}/metrics`, { headers: viaProxy });
      assert.equal(anon.status, 401);
      assert.equal(errorCode(await anon.json()), 'UNAUTHENTICATED');
      const partner = await fetch(`${s.base}/metrics`, { headers: { ...viaProxy, ...bearer(alice) } });
      assert.equal(partner.status, 403);
      const asAdmin = await fetch(`${s.base}/metrics`, { headers: { ...viaProxy, ...bearer(admin) } });
      assert.equal(asAdmin.status, 200);
      assert.match(await asAdmin.text(), /http_requests_total/);
      const forwarded = await fetch(`${s.base}/metrics`, { headers: { forwarded: 'for=203.0.113.9' } });
      assert.equal(forwarded.status, 401);
    });

    it('/api/openapi.json is OpenAPI 3 and documents every route; /api/docs serves the UI', async () => {
      const r = await fetch(`${s.base}/api/openapi.json`);
      assert.equal(r.status, 200);
      const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> };
      assert.match(doc.openapi, /^3\./);
      const expected: Record<string, string[]> = {
        '/api/v1/fs/{path}': ['get', 'head', 'put', 'delete'],
        '/api/v1/fs': ['get', 'head', 'delete'],
        '/api/v1/fs-ops/mkdir': ['post'],
        '/api/v1/fs-ops/rename': ['post'],
        '/api/v1/fs-ops/stat': ['get'],
        '/api/v1/auth/login': ['post'],
        '/api/v1/auth/logout': ['post'],
        '/api/v1/auth/me': ['get'],
        '/api/v1/admin/orgs': ['get', 'post'],
        '/api/v1/admin/orgs/{ref}': ['get', 'patch'],
        '/api/v1/admin/users': ['get', 'post'],
        '/api/v1/admin/users/{login}': ['get', 'patch'],
        '/api/v1/admin/users/{login}/keys': ['get', 'post'],
        '/api/v1/admin/users/{login}/keys/{id}': ['delete'],
        '/api/v1/admin/folders': ['get', 'post'],
        '/api/v1/admin/grants': ['get', 'put', 'delete'],
        '/api/v1/admin/audit/verify': ['get'],
        '/api/v1/admin/audit/events': ['get'],
        '/api/v1/admin/ledger/events': ['get'],
        '/api/v1/admin/ledger/export': ['get'],
        '/api/v1/admin/ledger/state': ['get'],
        '/api/v1/admin/incident/scope': ['post'],
        '/api/v1/admin/incident/scope/download': ['post'],
        '/api/v1/admin/incident/notify': ['post'],
        '/api/v1/admin/incident/report': ['post'],
        '/api/v1/admin/access/folder': ['get'],
        '/api/v1/admin/access/users/{login}': ['get'],
        '/api/v1/admin/policy/passkeys': ['get', 'put'],
        '/api/v1/admin/lockdown': ['get', 'put'],
        '/api/v1/admin/budgets': ['get'],
        '/api/v1/admin/canaries': ['get', 'post'],
        '/api/v1/admin/budgets/lift': ['post'],
        '/api/v1/admin/protocols/{name}': ['put'],
        '/api/v1/tokens': ['get', 'post'],
        '/api/v1/tokens/{id}': ['delete'],
        '/healthz': ['get'],
        '/readyz': ['get'],
        '/metrics': ['get'],
        '/api/openapi.json': ['get'],
      };
      for (const [p, methods] of Object.entries(expected)) {
        assert.ok(doc.paths[p], `missing ${p}`);
        for (const m of methods) assert.ok(doc.paths[p]?.[m], `missing ${m.toUpperCase()} ${p}`);
      }
      // The upload takes raw bytes; errors are documented with the shared shape.
      const putOp = doc.paths['/api/v1/fs/{path}']?.put as unknown as {
        requestBody?: { content?: Record<string, unknown> };
        responses: Record<string, unknown>;
      };
      assert.ok(putOp.requestBody?.content?.['application/octet-stream']);
      assert.ok(putOp.responses['201'] && putOp.responses['4XX']);

      const ui = await fetch(`${s.base}/api/docs`);
      assert.equal(ui.status, 200);
      assert.match(ui.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await ui.text(), /swagger-ui/);
      const csp = ui.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /script-src[^;]*'unsafe-(inline|eval)'/);
      assert.equal(ui.headers.get('x-frame-options'), 'DENY');
    });

    it('sends the security headers on every kind of response, and no X-Powered-By', async () => {
      await fetch(`${s.base}/api/v1/fs/acme/inbox/h.txt`, { method: 'PUT', headers: bearer(alice), body: 'h' });
      const responses: [string, Headers | Record<string, string>][] = [];
      for (const [what, url, init] of [
        ['json', '/api/v1/auth/me', { headers: bearer(alice) }],
        ['404', '/nope', {}],
        ['401', '/api/v1/fs/', {}],
        ['400', '/api/v1/fs/a%2fb', { headers: bearer(alice) }],
        ['download', '/api/v1/fs/acme/inbox/h.txt', { headers: bearer(alice) }],
        ['health', '/healthz', {}],
        ['metrics', '/metrics', {}],
      ] as const) {
        const r = await fetch(`${s.base}${url}`, init);
        await r.arrayBuffer();
        responses.push([what, r.headers]);
      }
      const raw = await rawRequest(s.port, rawHead('GET', '/api/v1/auth/me', { 'x-big': 'a'.repeat(20_000) }));
      responses.push(['431 from the parser', raw.headers]);
      for (const [what, h] of responses) {
        const get = (k: string) => (h instanceof Headers ? h.get(k) : (h[k] ?? null));
        assert.equal(get('x-content-type-options'), 'nosniff', what);
        assert.equal(get('x-frame-options'), 'DENY', what);
        assert.equal(get('referrer-policy'), 'no-referrer', what);
        assert.equal(get('cross-origin-resource-policy'), 'same-origin', what);
        assert.equal(get('cache-control'), 'no-store', what);
        assert.equal(get('x-powered-by'), null, what);
        assert.equal(get('strict-transport-security'), null, `${what}: no HSTS on plain HTTP`);
        const csp = get('content-security-policy');
        assert.equal(csp, what === 'download' ? "sandbox; default-src 'none'" : "default-src 'none'; frame-ancestors 'none'", what);
      }
    });

    it('logs one JSON line per request (method, route, status, ms, bytes) and never a secret', async () => {
      const from = s.logs.length;
      const l = await fetch(`${s.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'alice', password: TEST_PASSWORD }),
      });
      const cookie = l.headers.getSetCookie()[0]?.split(';')[0] ?? '';
      assert.ok(cookie.length > 20);
      await (await fetch(`${s.base}/api/v1/auth/me`, { headers: { cookie } })).text();
      await (await fetch(`${s.base}/api/v1/fs/acme/inbox/`, { headers: bearer(alice) })).text();
      await (await fetch(`${s.base}/api/v1/nope?token=${alice}`, { headers: bearer(alice) })).text();
      await new Promise((r) => setTimeout(r, 50));
      const lines = s.logs.slice(from).filter((l) => l.msg === 'request');
      assert.equal(lines.length, 4, JSON.stringify(s.logs.slice(from)));
      assert.deepEqual(
        lines.map((l) => [l.method, l.route, l.status]),
        [
          ['POST', '/api/v1/auth/login', 200],
          ['GET', '/api/v1/auth/me', 200],
          ['GET', '/api/v1/fs/*', 200],
          ['GET', '(unmatched)', 404],
        ],
      );
      for (const l of lines) {
        assert.equal(typeof l.ms, 'number');
        assert.equal(l.level, 30);
        assert.ok(typeof l.bytes === 'number' && l.bytes > 0, JSON.stringify(l));
      }
      const all = JSON.stringify(s.logs);
      assert.ok(!all.includes(alice.slice(4)), 'a bearer token was logged');
      assert.ok(!all.includes(cookie.split('=')[1]!), 'a session id was logged');
      assert.ok(!all.includes(TEST_PASSWORD), 'a password was logged');
      assert.ok(!/authorization|cookie/i.test(all), 'headers were logged');
    });
  });
}
