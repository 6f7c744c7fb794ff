/**
 * Attack corpus §2.1, Accellion FTA (rows 1–4): SQL injection through request headers
 * (CVE-2021-27101), OS command injection in admin features (CVE-2021-27104, CVE-2021-27102),
 * SSRF through URL-carrying fields (CVE-2021-27103) and "loopback means trusted" (CVE-2021-27102).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { attackTarget, pool, type Target } from './harness.js';

/** Every source file under src/ (for the "nothing shells out" rule). */
function sources(dir = 'src'): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

for (const dialect of DIALECTS) {
  describe(`attacks: Accellion FTA (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2021-27101 (ACC-1): SQL injection in Host, X-Forwarded-*, User-Agent, Referer, Accept-Language, Origin and cookies is inert', async () => {
      const before = await x.snapshot();
      const payloads = ["mft.test' OR '1'='1", "mft.test'||(SELECT pg_sleep(3))||'", "mft.test'; SELECT pg_sleep(3)--", 'mft.test"', 'mft.test\\'];
      const headers = ['x-forwarded-host', 'x-forwarded-for', 'user-agent', 'referer', 'accept-language', 'origin', 'cookie', 'x-real-ip', 'forwarded'];
      const jobs: [string, Record<string, string>][] = [];
      for (const url of ['/', '/api/v1/auth/login', '/healthz', '/api/docs', '/api/v1/auth/me']) {
        for (const p of payloads) {
          jobs.push([url, { host: p }]);
          jobs.push([url, { host: 'h'.repeat(64 * 1024) }]);
          for (const h of headers) jobs.push([url, { host: '127.0.0.1', [h]: h === 'cookie' ? `sluice_session=${p}; x=${p}` : p }]);
        }
      }
      const t0 = Date.now();
      await pool(jobs, 8, async ([url, h]) => {
        const head = Object.entries(h)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\r\n');
        const r = await x.raw(`GET ${url} HTTP/1.1\r\n${head}\r\nConnection: close\r\n\r\n`);
        assert.ok(r.status < 500, `${url} ${JSON.stringify(h).slice(0, 80)}: ${r.status}`);
        x.clean(r.text, url);
        if (r.status >= 400) x.safe(r, `${url} ${JSON.stringify(h).slice(0, 80)}`);
        if (h.host !== '127.0.0.1') assert.ok(r.status === 421 || r.status === 400 || r.status === 431, `a foreign Host was answered: ${r.status}`);
      });
      assert.ok(Date.now() - t0 < 30_000, 'a time-based payload slept');
      await x.unchanged(before, 'header SQL injection');
    });

    it('CVE-2021-27104, CVE-2021-27102 (ACC-2): no feature shells out; command-injection values in admin fields stay text and run nothing', async () => {
      // Nothing under src/ runs a shell or an external program (workers are fork()ed Node scripts).
      for (const f of sources()) {
        const text = fs.readFileSync(f, 'utf8');
        assert.ok(!/\b(exec|execSync|spawnSync|execFileSync)\s*\(/.test(text.replace(/\.exec\(/g, '')), `${f} runs a command`);
        assert.ok(!/shell:\s*true/.test(text), `${f} spawns a shell`);
        if (/from 'node:child_process'/.test(text)) assert.match(text, /\bfork\b/, `${f} imports child_process for something other than fork`);
      }
      const pwned = path.join(path.dirname(x.outsideFile), 'pwned');
      const values = [
        `x;touch ${pwned}`,
        `x$(touch ${pwned})`,
        `x\`touch ${pwned}\``,
        `x|touch ${pwned}`,
        `x&&touch ${pwned}`,
        `x\ntouch ${pwned}`,
        '-oProxyCommand=id',
        `--output=${pwned}`,
      ];
      for (const v of values) {
        const org = await x.http('POST', '/api/v1/admin/orgs', {
          token: x.tokens.root,
          json: { name: `O ${values.indexOf(v)}`, contacts: [{ name: v, email: 'a@example.org' }] },
        });
        assert.ok(org.status === 201 || org.status === 400, `${v}: ${org.status}`);
        for (const [m, u, body] of [
          ['PUT', '/api/v1/admin/lockdown', { mode: 'normal', reason: v }],
          ['POST', '/api/v1/admin/canaries', { path: '/acme/inbox/alice.txt', note: v }],
          ['POST', '/api/v1/tokens', { name: v }],
        ] as const) {
          const r = await x.http(m, u, { token: x.tokens.root, json: body });
          assert.ok(r.status < 500, `${m} ${u} ${v}: ${r.status} ${r.text}`);
        }
        // And as a cookie session without Origin (CSRF): refused before anything runs.
      }
      assert.equal(fs.existsSync(pwned), false, 'a command ran');
      assert.equal(x.egress.hits, 0);
      await x.healthy();
    });

    it('CVE-2021-27103 (ACC-3): URLs in every field cause no outbound connection; no API sets a URL the server would fetch', async () => {
      const before = await x.snapshot();
      const urls = [
        x.egress.url,
        `http://127.1:${x.egress.port}/`,
        `http://[::1]:${x.egress.port}/`,
        `http://0:${x.egress.port}/`,
        `http://2130706433:${x.egress.port}/`,
      ];
      for (const u of urls) {
        for (const [m, p, body] of [
          ['POST', '/api/v1/fs-ops/mkdir', { path: u }],
          ['POST', '/api/v1/auth/login', { login: u, password: u }],
          ['POST', '/api/v1/tokens', { name: u }],
          ['PUT', '/api/v1/admin/settings', { webhookUrl: u, oidcIssuer: u, smtpHost: u }],
          ['POST', '/api/v1/admin/alerts/test', { url: u }],
        ] as const) {
          const r = await x.http(m, p, { token: x.tokens.alice, json: body });
          assert.ok(r.status < 500, `${p} ${u}`);
        }
        const cb = await x.http('GET', `/api/v1/auth/oidc/callback?iss=${encodeURIComponent(u)}&code=x&state=y`);
        assert.ok(cb.status < 500);
        // Not configured here: 503 UNAVAILABLE, whatever the parameters say.
        const start = await x.http('GET', `/api/v1/auth/oidc/start?issuer=${encodeURIComponent(u)}&redirect_uri=${encodeURIComponent(u)}`);
        assert.ok(start.status < 500 || x.safe(start, 'oidc start', [503]) === 'UNAVAILABLE', `oidc start: ${start.status}`);
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(x.egress.hits, 0, 'the server connected to a URL from a request');
      const tokensCreated = (await x.snapshot()).rows.tokens!.length - before.rows.tokens!.length;
      assert.ok(tokensCreated >= 0);
    });

    it('CVE-2021-27102 (ACC-4): loopback is not trusted — Host localhost, X-Forwarded-For, X-Real-IP and Forwarded give no access', async () => {
      for (const h of [
        { host: 'localhost' },
        { host: '127.0.0.1' },
        { host: '[::1]' },
        { 'x-forwarded-for': '127.0.0.1' },
        { 'x-real-ip': '127.0.0.1' },
        { forwarded: 'for=127.0.0.1' },
        { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'localhost' },
      ]) {
        for (const url of ['/api/v1/admin/users', '/api/v1/admin/audit/verify', '/api/v1/fs/beta/inbox/', '/api/v1/admin/lockdown']) {
          const r = await x.http('GET', url, { headers: h });
          assert.equal(r.status, 401, `${url} ${JSON.stringify(h)}`);
          x.safe(r, url);
        }
        // /metrics is open to direct loopback clients only: a forwarding header ends that.
        if (!('host' in h)) assert.equal((await x.http('GET', '/metrics', { headers: h })).status, 401, `/metrics ${JSON.stringify(h)}`);
      }
      // A partner is no administrator from loopback either.
      const r = await x.http('GET', '/api/v1/admin/users', { token: x.tokens.alice, headers: { 'x-forwarded-for': '127.0.0.1', host: 'localhost' } });
      assert.equal(r.status, 403);
    });
  });
}
