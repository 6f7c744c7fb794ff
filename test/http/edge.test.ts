/**
 * The HTTP edge (issue 14 part 5): the Host allow-list against DNS rebinding, Transfer-Encoding
 * codings other than chunked (501), and the security headers on every answer, errors and 404s
 * included. Raw sockets, so nothing is normalised on the way.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { errorCode, rawRequest, serve, type RawResponse, type Served } from './helpers.js';

const req = (host: string | undefined, target = '/healthz', extra = '') =>
  `GET ${target} HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: close\r\n${extra}\r\n`;

function securityHeaders(r: RawResponse, what: string): void {
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(r.headers['x-frame-options'], 'DENY', what);
  assert.match(r.headers['content-security-policy'] ?? '', /default-src 'none'|sandbox/, what);
  assert.equal(r.headers['referrer-policy'], 'no-referrer', what);
  assert.equal(r.headers['cache-control'], 'no-store', what);
}

for (const dialect of DIALECTS) {
  describe(`HTTP edge (${dialect})`, () => {
    let s: Served;
    before(async () => {
      s = await serve(dialect, { SLUICE_PUBLIC_URL: 'https://mft.example.org', SLUICE_ALLOWED_HOSTS: 'files.example.net, *.partners.example.com' });
    });
    after(() => s.close());

    it('answers its own names, loopback names and address literals', async () => {
      for (const host of [
        'mft.example.org',
        'MFT.Example.org:443',
        'mft.example.org.',
        'files.example.net',
        'a.partners.example.com',
        'localhost',
        `localhost:${s.port}`,
        'app.localhost',
        `127.0.0.1:${s.port}`,
        '127.0.0.5',
        '[::1]',
        `[::1]:${s.port}`,
        '10.1.2.3',
      ]) {
        const r = await rawRequest(s.port, req(host));
        assert.equal(r.status, 200, `${host}: ${r.status} ${r.text}`);
      }
    });

    it('refuses every other Host with 421 before authentication, with the security headers (DNS rebinding)', async () => {
      for (const host of [
        'attacker.example',
        'mft.example.org.attacker.example',
        'partners.example.com',
        'xpartners.example.com',
        'files.example.net.evil',
        'localhost.evil.example',
        '127.0.0.1.nip.io',
        'evil.example:8080',
        '',
        'a b',
        '[::1',
        'a@b',
      ]) {
        for (const target of ['/healthz', '/api/v1/auth/me', '/no/such/route']) {
          const r = await rawRequest(s.port, req(host, target));
          assert.equal(r.status, host === 'a b' || host === '' ? r.status : 421, `${JSON.stringify(host)} ${target}: ${r.status} ${r.text}`);
          assert.ok(r.status === 421 || r.status === 400, `${JSON.stringify(host)}: ${r.status}`);
          assert.equal(errorCode(JSON.parse(r.text)), 'INVALID_INPUT');
          assert.doesNotMatch(r.text, /sluice_session|Set-Cookie/i);
          securityHeaders(r, `${host} ${target}`);
        }
      }
      // A sign-in attempt under a foreign name is refused before it reaches the core.
      const body = JSON.stringify({ login: 'nobody', password: 'x' });
      const r = await rawRequest(
        s.port,
        `POST /api/v1/auth/login HTTP/1.1\r\nHost: attacker.example\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      assert.equal(r.status, 421, r.text);
    });

    it('answers Transfer-Encoding codings other than chunked with 501, as JSON with the security headers', async () => {
      for (const te of ['gzip', 'gzip, chunked', 'chunked, gzip', 'identity', 'compress', 'deflate, chunked', 'chunked, identity', 'x-custom']) {
        const r = await rawRequest(
          s.port,
          `POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: ${te}\r\nConnection: close\r\n\r\n0\r\n\r\n`,
        );
        assert.equal(r.status, 501, `${te}: ${r.status} ${r.text}`);
        assert.equal(errorCode(JSON.parse(r.text)), 'INVALID_INPUT');
        assert.match(r.text, /Transfer-Encoding/);
        securityHeaders(r, te);
      }
      // chunked itself is fine.
      const ok = await rawRequest(
        s.port,
        `POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      );
      assert.equal(ok.status, 400, ok.text); // the body is read and validated (missing login)
    });

    it('sends the security headers on successes, 404s, 405-like refusals, auth failures and parse errors', async () => {
      const cases = [
        req('127.0.0.1', '/healthz'),
        req('127.0.0.1', '/no/such/route'),
        req('127.0.0.1', '/api/v1/auth/me'),
        req('127.0.0.1', '/api/v1/fs/%zz'),
        req('127.0.0.1', '/api/v1/auth/me', 'Authorization: Bearer nonsense\r\n'),
        req('127.0.0.1', '/api/v1/auth/me', `X-Big: ${'a'.repeat(64 * 1024)}\r\n`),
        'BLAH\r\n\r\n',
      ];
      for (const c of cases) {
        const r = await rawRequest(s.port, c);
        securityHeaders(r, `${JSON.stringify(c.slice(0, 60))}: ${r.status}`);
      }
    });
  });
}
