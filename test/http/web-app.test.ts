/**
 * The web app's static files over HTTP: index.html at / with the strict CSP and no-cache, hashed
 * assets immutable, the app's own routes answered with index.html for a browser navigation only,
 * /api/* and file-like paths never (JSON 404 as before), gzip when asked for, 304 on a matching
 * ETag, and a plain 503 when the app was not built. The cookie is SameSite=Strict and a
 * cookie-authenticated change without our Origin is refused (CSRF), as the app relies on.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pino } from 'pino';
import { DIALECTS, tempDir } from '../helpers/dialects.js';
import { TEST_PASSWORD, testInstance } from '../helpers/instance.js';
import { ensureWebBuilt } from '../helpers/browser.js';
import { buildHttpServer } from '../../src/protocols/http/server.js';
import { APP_CSP, DEFAULT_WEB_ROOT } from '../../src/protocols/http/web-app.js';
import { serve, type Served } from './helpers.js';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

for (const dialect of DIALECTS) {
  describe(`HTTP web app (${dialect})`, () => {
    let s: Served;
    let assetPaths: string[];

    before(async () => {
      await ensureWebBuilt();
      s = await serve(dialect);
      await s.t.user('lena', { org: 'Acme' });
      const html = fs.readFileSync(path.join(DEFAULT_WEB_ROOT, 'index.html'), 'utf8');
      assetPaths = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    });
    after(() => s.close());

    it('serves index.html at / under the strict CSP, revalidated on every visit', async () => {
      const r = await fetch(`${s.base}/`, { headers: HTML });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      const csp = r.headers.get('content-security-policy') ?? '';
      assert.equal(csp, APP_CSP);
      for (const d of [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
      ]) {
        assert.ok(csp.includes(d), `CSP has ${d}`);
      }
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|data:|https?:/);
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      const html = await r.text();
      assert.match(html, /<div id="app">/);
      // No inline script or style, and every script and stylesheet is ours, under /assets/.
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
      assert.doesNotMatch(html, /<style|style=/);
      for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) assert.match(m[1]!, /^\/assets\/[\w.-]+-[\w-]{8}\.\w+$/, m[1]);
      assert.ok(assetPaths.some((p) => p.endsWith('.js')) && assetPaths.some((p) => p.endsWith('.css')));
    });

    it('serves the hashed assets immutable, gzip when asked for, 304 when unchanged', async () => {
      for (const p of assetPaths) {
        const r = await fetch(`${s.base}${p}`);
        assert.equal(r.status, 200, p);
        assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
        assert.equal(r.headers.get('content-security-policy'), APP_CSP);
        const body = Buffer.from(await r.arrayBuffer());
        assert.deepEqual(body, fs.readFileSync(path.join(DEFAULT_WEB_ROOT, p)));
        const again = await fetch(`${s.base}${p}`, { headers: { 'if-none-match': r.headers.get('etag') ?? '' } });
        assert.equal(again.status, 304);
      }
      const js = assetPaths.find((p) => p.endsWith('.js'))!;
      const gz = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
        import('node:http').then(({ get }) =>
          get(`${s.base}${js}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
            res.on('error', reject);
          }),
        );
      });
      assert.equal(gz.encoding, 'gzip');
      assert.deepEqual(zlib.gunzipSync(gz.body), fs.readFileSync(path.join(DEFAULT_WEB_ROOT, js)));
      const missing = await fetch(`${s.base}/assets/nope-12345678.js`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    });

    it("answers the app's routes with index.html to a browser, but never /api/* or file-like paths", async () => {
      for (const p of ['/files', '/account', '/files?path=%2Facme%2Finbox', '/console/users']) {
        const r = await fetch(`${s.base}${p}`, { headers: HTML });
        assert.equal(r.status, 200, p);
        assert.match(await r.text(), /<div id="app">/, p);
        assert.equal(r.headers.get('content-security-policy'), APP_CSP);
      }
      for (const [p, h] of [
        ['/api/v1/nope', HTML],
        ['/api/v1/auth/me', HTML],
        ['/.env', HTML],
        ['/favicon.ico', HTML],
        ['/files', {}],
        ['/files', { accept: 'application/json' }],
      ] as const) {
        const r = await fetch(`${s.base}${p}`, { headers: h });
        assert.ok(r.status === 404 || r.status === 401, `${p}: ${r.status}`);
        assert.match(r.headers.get('content-type') ?? '', /^application\/json/, p);
        assert.equal(r.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", p);
      }
    });

    it('keeps the session cookie SameSite=Strict and HttpOnly, and refuses a cross-site change (CSRF)', async () => {
      const login = await fetch(`${s.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: s.base },
        body: JSON.stringify({ login: 'lena', password: TEST_PASSWORD }),
      });
      assert.equal(login.status, 200);
      const set = login.headers.getSetCookie().find((c) => c.startsWith('sluice_session='))!;
      assert.match(set, /HttpOnly/i);
      assert.match(set, /SameSite=Strict/i);
      const cookie = set.split(';')[0]!;
      const mkdir = (origin: string | undefined) =>
        fetch(`${s.base}/api/v1/fs-ops/mkdir`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json', ...(origin ? { origin } : {}) },
          body: JSON.stringify({ path: '/x' }),
        });
      for (const origin of ['http://evil.example', undefined, 'null']) {
        const r = await mkdir(origin);
        assert.equal(r.status, 403, String(origin));
      }
      // A form post (text/plain) is not even parsed.
      const form = await fetch(`${s.base}/api/v1/fs-ops/mkdir`, {
        method: 'POST',
        headers: { cookie, origin: s.base, 'content-type': 'text/plain' },
        body: '{"path":"/x"}',
      });
      assert.equal(form.status, 415);
    });
  });
}

describe('HTTP web app not built', () => {
  it('answers / with a plain 503 saying how to build it, and the API as before', async () => {
    const t = await testInstance(DIALECTS[0]!);
    const empty = tempDir('web-empty');
    const app = await buildHttpServer({ core: t.core, config: t.config, log: pino({ level: 'silent' }), webRoot: empty.path });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const port = (app.server.address() as { port: number }).port;
      const r = await fetch(`http://127.0.0.1:${port}/`, { headers: HTML });
      assert.equal(r.status, 503);
      assert.match(await r.text(), /npm run build:web/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      await app.close();
      await t.cleanup();
      await empty.cleanup();
    }
  });
});
