/**
 * Hostile input over real HTTP (attack corpus §3 "Paths and names", "Uploads", "HTTP protocol and
 * web"). Every case expects a clear 4xx with the JSON error shape, and that nothing appeared in
 * the tree. Paths are sent over raw sockets (or curl --path-as-is) so no client normalises them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { DIALECTS } from '../helpers/dialects.js';
import {
  bearer,
  blobCount,
  errorCode,
  eventually,
  ledger,
  parseResponse,
  rawHead,
  rawRequest,
  serve,
  sha256,
  sleep,
  tokenFor,
  tree,
  type RawResponse,
  type Served,
} from './helpers.js';

const run = promisify(execFile);

/** The JSON error shape, nothing internal in it; returns the code. */
function safeError(r: RawResponse | { status: number; text: string }, s: Served): string {
  const text = r.text;
  assert.ok(!text.includes(s.t.dataDir) && !/\n\s+at |node_modules|\.ts:\d|select |insert into/i.test(text), `internal detail leaked: ${text}`);
  return errorCode(JSON.parse(text) as unknown);
}

async function fetchText(url: string, init: RequestInit = {}) {
  const r = await fetch(url, init);
  return { status: r.status, headers: r.headers, text: await r.text() };
}

for (const dialect of DIALECTS) {
  describe(`HTTP hostile input (${dialect})`, () => {
    let s: Served;
    let admin: string;
    let alice: string;

    before(async () => {
      s = await serve(dialect);
      const { t } = s;
      await t.user('root', { role: 'admin' });
      await t.core.admin.orgs.create(t.system, { name: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      await t.core.admin.folders.create(t.system, '/beta/inbox');
      await t.user('alice', { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write,delete');
      [admin, alice] = await Promise.all([tokenFor(t, 'root'), tokenFor(t, 'alice')]);
      const put = await fetch(`${s.base}/api/v1/fs/acme/inbox/t.txt`, { method: 'PUT', headers: bearer(alice), body: 'target' });
      assert.equal(put.status, 201);
    });
    after(() => s.close());

    // An administrator may write anywhere: if any of these were normalised into /beta/inbox, the
    // write would succeed there. Nothing may appear anywhere.
    const TRAVERSALS = [
      '../../beta/inbox/pwned.txt',
      '%2e%2e/%2e%2e/beta/inbox/pwned.txt',
      '%2E%2E/%2E%2E/beta/inbox/pwned.txt',
      '.%2e/.%2e/beta/inbox/pwned.txt',
      '%2e%2e%2f%2e%2e%2fbeta%2finbox%2fpwned.txt',
      '..%2f..%2fbeta%2finbox%2fpwned.txt',
      '..%2F..%2Fbeta%2Finbox%2Fpwned.txt',
      '%2e%2e%5c%2e%2e%5cbeta%5cinbox%5cpwned.txt',
      '..%5c..%5cbeta%5cinbox%5cpwned.txt',
      '..\\..\\beta\\inbox\\pwned.txt',
      '%252e%252e/%252e%252e/beta/inbox/pwned.txt',
      '%252e%252e%252f%252e%252e%252f/pwned.txt',
      '..%c0%af..%c0%afbeta%c0%afinbox%c0%afpwned.txt',
      '..%e0%80%af..%e0%80%afpwned.txt',
      '..%00/pwned.txt',
      'pwned.txt%00.jpg',
      '%EF%BC%8E%EF%BC%8E/%EF%BC%8E%EF%BC%8E/beta/inbox/pwned.txt',
      '%EF%BC%8E%EF%BC%8E%EF%BC%8Fpwned.txt',
      '..;/..;/beta/inbox/pwned.txt',
      './../beta/inbox/pwned.txt',
      '%2e/%2e%2e/beta/inbox/pwned.txt',
      '...//....//beta/inbox/pwned.txt',
      'x/../../../beta/inbox/pwned.txt',
      '%u002e%u002e/pwned.txt',
      '%%32%65%%32%65/pwned.txt',
    ];

    it('refuses path traversal in every encoding (raw socket, PUT and GET), and nothing appears', async () => {
      const before = await tree(s.t);
      const blobs = blobCount(s.t);
      for (const p of TRAVERSALS) {
        const target = `/api/v1/fs/acme/inbox/${p}`;
        const up = await rawRequest(s.port, rawHead('PUT', target, { authorization: `Bearer ${admin}`, 'content-length': 5 }) + 'pwned');
        assert.ok(up.status === 400 || up.status === 404, `PUT ${p}: ${up.status} ${up.text}`);
        assert.ok(['INVALID_PATH', 'NOT_FOUND'].includes(safeError(up, s)), `PUT ${p}: ${up.text}`);
        const down = await rawRequest(s.port, rawHead('GET', target, { authorization: `Bearer ${admin}` }));
        assert.ok(down.status === 400 || down.status === 404, `GET ${p}: ${down.status} ${down.text}`);
        safeError(down, s);
      }
      for (const p of [
        '/api/v1/fs/../../../../etc/passwd',
        '/api/v1/fs/..%2f..%2f..%2fetc%2fpasswd',
        '/api/v1/fs/%2e%2e/%2e%2e/etc/passwd',
        '/api/v1/fs/acme/inbox/t.txt/..',
        '/api/v1/fs/acme/inbox/t.txt%2f..',
      ]) {
        const r = await rawRequest(s.port, rawHead('GET', p, { authorization: `Bearer ${admin}` }));
        assert.equal(r.status, 400, `${p}: ${r.text}`);
        assert.equal(safeError(r, s), 'INVALID_PATH', p);
        assert.ok(!r.text.includes('root:'), p);
      }
      assert.deepEqual(await tree(s.t), before);
      assert.equal(blobCount(s.t), blobs);
    });

    it('refuses encoded separators, NUL and bad encodings in the URL path (400 INVALID_PATH), even where they would resolve', async () => {
      // Each of these would name an existing place (or a valid new file) if it were decoded into
      // a separator; the HTTP layer must refuse it instead.
      const before = await tree(s.t);
      const refusals = async () =>
        (await s.t.core.audit.events(s.t.system, { action: 'file.write', limit: 10_000 })).filter(
          (e) => e.outcome === 'denied' && e.detail.reason === 'invalid path',
        );
      for (const p of [
        'acme%2finbox%2fsep.txt',
        'acme%2Finbox/sep.txt',
        'acme/inbox%2fsep.txt',
        'acme%5cinbox%5csep.txt',
        'acme/inbox/sep%00.txt',
        'acme/inbox/sep%zz.txt',
        'acme/inbox/sep%2.txt',
        'acme/inbox/%ff%fe.txt',
        'acme/inbox/%c0%ae%c0%ae.txt',
      ]) {
        const recorded = (await refusals()).length;
        const up = await rawRequest(s.port, rawHead('PUT', `/api/v1/fs/${p}`, { authorization: `Bearer ${admin}`, 'content-length': 1 }) + 'x');
        assert.equal(up.status, 400, `${p}: ${up.text}`);
        assert.equal(safeError(up, s), 'INVALID_PATH', p);
        // What the router cannot decode (%zz, %2., bytes that are not UTF-8) it refuses before anyone
        // is authenticated ("malformed URL"): there is no principal to record. What reaches the
        // route is recorded.
        if (up.text.includes('malformed URL')) continue;
        const after = await refusals();
        assert.equal(after.length, recorded + 1, `${p}: the refused attempt is in the ledger`);
        assert.equal(after.at(-1)!.path, `/api/v1/fs/${p}`);
      }
      const list = await rawRequest(s.port, rawHead('GET', '/api/v1/fs/acme%2finbox/', { authorization: `Bearer ${admin}` }));
      assert.equal(list.status, 400);
      assert.deepEqual(await tree(s.t), before);
      // The same name percent-encoded properly (once) is fine.
      const ok = await rawRequest(
        s.port,
        rawHead('PUT', '/api/v1/fs/acme/inbox/s%65p%20%C3%A4.txt', { authorization: `Bearer ${admin}`, 'content-length': 1 }) + 'x',
      );
      assert.equal(ok.status, 201, ok.text);
      assert.equal((ok.json() as { path: string }).path, '/acme/inbox/sep ä.txt');
      await s.t.core.files.remove(s.t.system, '/acme/inbox/sep ä.txt');
    });

    it('refuses traversal sent by curl --path-as-is', async () => {
      const before = await tree(s.t);
      for (const p of [
        '/api/v1/fs/acme/inbox/../../beta/inbox/curl.txt',
        '/api/v1/fs/acme/inbox/%2e%2e/%2e%2e/beta/inbox/curl.txt',
        '/api/v1/fs/acme/inbox/..%2f..%2fbeta/inbox/curl.txt',
      ]) {
        const { stdout } = await run('curl', [
          '-sS',
          '--path-as-is',
          '-X',
          'PUT',
          '--data-binary',
          'x',
          '-H',
          `Authorization: Bearer ${admin}`,
          '-w',
          '\n%{http_code}',
          `${s.base}${p}`,
        ]);
        const lines = stdout.split('\n');
        assert.equal(lines.pop(), '400', `${p}: ${stdout}`);
        assert.equal(errorCode(JSON.parse(lines.join('\n')) as unknown), 'INVALID_PATH', p);
      }
      assert.deepEqual(await tree(s.t), before);
    });

    it('refuses traversal and malformed paths in JSON fields', async () => {
      const before = await tree(s.t);
      const post = (op: string, body: unknown) =>
        fetchText(`${s.base}/api/v1/fs-ops/${op}`, {
          method: 'POST',
          headers: { ...bearer(admin), 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const cases: [string, unknown, number, string][] = [
        ['rename', { from: '/acme/inbox/t.txt', to: '../../x' }, 400, 'INVALID_PATH'],
        ['rename', { from: '/acme/inbox/t.txt', to: '/acme/inbox/../../beta/inbox/x' }, 400, 'INVALID_PATH'],
        ['rename', { from: '/acme/inbox/t.txt', to: '/acme/inbox/..\\..\\beta\\inbox\\x' }, 400, 'INVALID_PATH'],
        ['rename', { from: '/acme/inbox/t.txt', to: '/acme/inbox/\uFF0E\uFF0E/x' }, 400, 'INVALID_PATH'],
        ['rename', { from: '../../../etc/passwd', to: '/acme/inbox/passwd' }, 400, 'INVALID_PATH'],
        ['rename', { from: ['/acme/inbox/t.txt'], to: '/acme/inbox/x' }, 400, 'INVALID_INPUT'],
        ['rename', { from: '/acme/inbox/t.txt', to: '/acme/inbox/x', overwrite: 'false' }, 400, 'INVALID_INPUT'],
        ['rename', { from: '/acme/inbox/t.txt', to: '/acme/inbox/x', role: 'admin' }, 400, 'INVALID_INPUT'],
        ['mkdir', { path: '/acme/inbox/../../evil' }, 400, 'INVALID_PATH'],
        ['mkdir', { path: '/acme/inbox/a\u0000b' }, 400, 'INVALID_PATH'],
        ['mkdir', { path: '/acme/inbox/a\nb' }, 400, 'INVALID_PATH'],
        ['mkdir', { path: '/acme/inbox/' + 'n'.repeat(10_000) }, 400, 'INVALID_INPUT'],
        ['mkdir', { path: { $ne: '' } }, 400, 'INVALID_INPUT'],
        ['mkdir', {}, 400, 'INVALID_INPUT'],
      ];
      for (const [op, body, status, code] of cases) {
        const r = await post(op, body);
        assert.equal(r.status, status, `${op} ${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
        assert.equal(safeError(r, s), code, `${op} ${JSON.stringify(body).slice(0, 80)}`);
      }
      const stat = await fetchText(`${s.base}/api/v1/fs-ops/stat?path=../../etc/passwd`, { headers: bearer(admin) });
      assert.equal(stat.status, 400);
      assert.equal(safeError(stat, s), 'INVALID_PATH');
      const polluted = await fetchText(`${s.base}/api/v1/fs-ops/stat?path=/acme/inbox/t.txt&path=../x`, { headers: bearer(admin) });
      assert.equal(polluted.status, 400);
      assert.equal(safeError(polluted, s), 'INVALID_INPUT');
      assert.deepEqual(await tree(s.t), before);
    });

    it('refuses NUL, control, bidi and invisible characters, and a 10,000-byte name, in URLs', async () => {
      const before = await tree(s.t);
      const names = [
        'a%00b',
        'a%0Ab',
        'a%0D%0ASet-Cookie:%20x=y',
        'a%1Bb',
        'a%7Fb',
        'a%C2%85b',
        'a%E2%80%AEtxt.exe',
        'a%E2%80%8Bb',
        '%20lead',
        'trail.',
        'CON',
        'a:b',
        'a%22b',
        'n'.repeat(10_000),
        '%C3%A4'.repeat(2_000),
      ];
      for (const n of names) {
        const r = await rawRequest(s.port, rawHead('PUT', `/api/v1/fs/acme/inbox/${n}`, { authorization: `Bearer ${alice}`, 'content-length': 1 }) + 'x');
        assert.equal(r.status, 400, `${n.slice(0, 40)}: ${r.text}`);
        assert.equal(safeError(r, s), 'INVALID_PATH', n.slice(0, 40));
        assert.ok(!('set-cookie' in r.headers));
      }
      // Raw control bytes in the request line never reach us: Node's parser refuses them, still as JSON.
      for (const raw of ['/api/v1/fs/acme/inbox/a\rb', '/api/v1/fs/acme/inbox/a\x00b', '/api/v1/fs/acme/inbox/a\x7fb']) {
        const r = await rawRequest(s.port, rawHead('PUT', raw, { authorization: `Bearer ${alice}`, 'content-length': 1 }) + 'x');
        assert.equal(r.status, 400, JSON.stringify(raw));
        safeError(r, s);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
      }
      assert.deepEqual(await tree(s.t), before);
    });

    it('refuses the token of a disabled user and of a disabled organisation', async () => {
      await s.t.user('carol', { org: 'Acme' });
      await s.t.core.admin.grants.set(s.t.system, 'carol', '/acme/inbox', 'list,read');
      const carol = await tokenFor(s.t, 'carol');
      const url = `${s.base}/api/v1/fs/acme/inbox/t.txt`;
      assert.equal((await fetch(url, { headers: bearer(carol) })).status, 200);
      const patch = await fetch(`${s.base}/api/v1/admin/users/carol`, {
        method: 'PATCH',
        headers: { ...bearer(admin), 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'disabled' }),
      });
      assert.equal(patch.status, 200);
      const r = await fetchText(url, { headers: bearer(carol) });
      assert.equal(r.status, 401);
      assert.equal(safeError(r, s), 'UNAUTHENTICATED');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
      // The same refusal when the organisation is disabled.
      await s.t.user('dave', { org: 'Acme' });
      const dave = await tokenFor(s.t, 'dave');
      assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: bearer(dave) })).status, 200);
      await s.t.core.admin.orgs.update(s.t.system, 'Acme', { status: 'disabled' });
      try {
        assert.equal((await fetch(`${s.base}/api/v1/auth/me`, { headers: bearer(dave) })).status, 401);
      } finally {
        await s.t.core.admin.orgs.update(s.t.system, 'Acme', { status: 'active' });
      }
    });

    it('refuses an expired token and a revoked one', async () => {
      const created = await fetch(`${s.base}/api/v1/tokens`, {
        method: 'POST',
        headers: { ...bearer(alice), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'short', expiresIn: 1 }),
      });
      assert.equal(created.status, 201);
      const info = (await created.json()) as { token: string; id: string; expiresAt: string; login: string };
      assert.equal(info.login, 'alice');
      assert.match(info.token, /^slc_/);
      const me = `${s.base}/api/v1/auth/me`;
      assert.equal((await fetch(me, { headers: bearer(info.token) })).status, 200);
      await sleep(Math.max(0, Date.parse(info.expiresAt) - Date.now()) + 50);
      const r = await fetchText(me, { headers: bearer(info.token) });
      assert.equal(r.status, 401);
      assert.equal(safeError(r, s), 'UNAUTHENTICATED');

      // alice signs in with a token: the default lifetime (90 days) would outlive it, and is refused.
      const outliving = await fetchText(`${s.base}/api/v1/tokens`, {
        method: 'POST',
        headers: { ...bearer(alice), 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(outliving.status, 400);
      assert.match(outliving.text, /cannot create a token that outlives it/);
      const long = (await (
        await fetch(`${s.base}/api/v1/tokens`, {
          method: 'POST',
          headers: { ...bearer(alice), 'content-type': 'application/json' },
          body: JSON.stringify({ expiresIn: 600 }),
        })
      ).json()) as { token: string; id: string };
      assert.equal((await fetch(me, { headers: bearer(long.token) })).status, 200);
      const del = await fetch(`${s.base}/api/v1/tokens/${long.id}`, { method: 'DELETE', headers: bearer(alice) });
      assert.equal(del.status, 204);
      assert.equal((await fetch(me, { headers: bearer(long.token) })).status, 401);
      // Listing shows tokens, never their secrets.
      const list = await fetchText(`${s.base}/api/v1/tokens`, { headers: bearer(alice) });
      assert.equal(list.status, 200);
      assert.ok(!list.text.includes(long.token.slice(4)) && !list.text.includes(info.token.slice(4)));
    });

    it('leaves nothing when the client disconnects mid-upload, and records it in the ledger', async () => {
      const before = await tree(s.t);
      const blobs = blobCount(s.t);
      const failures = async (target: string) => (await ledger(s.t, { action: 'file.write', target })).filter((e) => e.outcome === 'failure');
      for (const [name, mode] of [
        ['cut.bin', 'length'],
        ['cut-chunked.bin', 'chunked'],
        ['cut-halfclose.bin', 'half-close'],
      ] as const) {
        const target = `/acme/inbox/${name}`;
        const sock = net.connect({ host: '127.0.0.1', port: s.port });
        await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
        sock.on('error', () => undefined);
        const headers: Record<string, string | number> = { authorization: `Bearer ${alice}` };
        if (mode === 'chunked') headers['transfer-encoding'] = 'chunked';
        else headers['content-length'] = 1_000_000;
        sock.write(rawHead('PUT', `/api/v1/fs${target}`, headers));
        // Chunked: more than the server's 1 MiB body batch, so bytes reach the core (a body of
        // unknown length is held in memory up to 64 KiB and only then streamed into a blob).
        const part = Buffer.alloc(mode === 'chunked' ? 1_100_000 : 300_000, 0x41);
        sock.write(mode === 'chunked' ? Buffer.concat([Buffer.from(part.length.toString(16) + '\r\n'), part, Buffer.from('\r\n')]) : part);
        // The server has the upload open (the core created its blob) before we vanish.
        await eventually(() => blobCount(s.t) > blobs, 5000, `the upload of ${name} to start (${blobCount(s.t)} vs ${blobs})`);
        if (mode === 'half-close') sock.end();
        else sock.destroy();
        await eventually(async () => (await failures(target)).length > 0, 5000, `a ledger event for ${name}`);
        const ev = (await failures(target))[0]!;
        assert.equal(ev.actor_login, 'alice');
        assert.equal(ev.protocol, 'http');
        const stat = await fetchText(`${s.base}/api/v1/fs-ops/stat?path=${encodeURIComponent(target)}`, { headers: bearer(alice) });
        assert.equal(stat.status, 404, name);
        assert.equal(safeError(stat, s), 'NOT_FOUND');
        await eventually(() => blobCount(s.t) === blobs, 5000, 'the partial blob to be removed');
        sock.destroy();
      }
      assert.deepEqual(await tree(s.t), before);
    });

    it('refuses JSON with __proto__ or constructor.prototype (400) without effect', async () => {
      const before = await tree(s.t);
      const bodies = [
        '{"path":"/acme/inbox/proto","__proto__":{"isAdmin":true}}',
        '{"__proto__":{"path":"/acme/inbox/proto"}}',
        '{"path":"/acme/inbox/proto","constructor":{"prototype":{"isAdmin":true}}}',
      ];
      for (const body of bodies) {
        const r = await fetchText(`${s.base}/api/v1/fs-ops/mkdir`, { method: 'POST', headers: { ...bearer(alice), 'content-type': 'application/json' }, body });
        assert.equal(r.status, 400, body);
        assert.equal(safeError(r, s), 'INVALID_INPUT', body);
      }
      const q = await fetchText(`${s.base}/api/v1/fs-ops/stat?path=/acme&__proto__[isAdmin]=1`, { headers: bearer(alice) });
      assert.equal(q.status, 400);
      assert.equal(safeError(q, s), 'INVALID_INPUT');
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      assert.deepEqual(await tree(s.t), before);
    });

    it('refuses malformed and unacceptable bodies with the JSON error shape', async () => {
      const mk = (body: string, headers: Record<string, string>) =>
        fetchText(`${s.base}/api/v1/fs-ops/mkdir`, { method: 'POST', headers: { ...bearer(alice), ...headers }, body });
      const cases: [string, Record<string, string>, number, string][] = [
        ['{"path":', { 'content-type': 'application/json' }, 400, 'INVALID_INPUT'],
        ['', { 'content-type': 'application/json' }, 400, 'INVALID_INPUT'],
        ['{"path":"/acme/inbox/tp"}', { 'content-type': 'text/plain' }, 415, 'INVALID_INPUT'],
        ['path=/acme/inbox/tp', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'INVALID_INPUT'],
        ['{"path":"/acme/inbox/tp"}', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 415, 'INVALID_INPUT'],
        ['[]', { 'content-type': 'application/json' }, 400, 'INVALID_INPUT'],
        ['"x"', { 'content-type': 'application/json' }, 400, 'INVALID_INPUT'],
      ];
      for (const [body, headers, status, code] of cases) {
        const r = await mk(body, headers);
        assert.equal(r.status, status, `${JSON.stringify(body)} ${JSON.stringify(headers)}: ${r.text}`);
        assert.equal(safeError(r, s), code);
      }
      // Uploads: a compressed body is refused (415) before anything is stored.
      const gz = await fetchText(`${s.base}/api/v1/fs/acme/inbox/gz.bin`, {
        method: 'PUT',
        headers: { ...bearer(alice), 'content-encoding': 'gzip' },
        body: 'x',
      });
      assert.equal(gz.status, 415);
      assert.equal(safeError(gz, s), 'INVALID_INPUT');
      const bomb = await fetchText(`${s.base}/api/v1/fs/acme/inbox/gz.bin`, {
        method: 'PUT',
        headers: { ...bearer(alice), 'content-encoding': 'deflate' },
        body: 'x',
      });
      assert.equal(bomb.status, 415);
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/inbox/gz.bin`, { headers: bearer(alice) })).status, 404);
    });

    it('answers unknown routes and methods with 404 JSON, authenticated or not', async () => {
      for (const [method, p, h] of [
        ['GET', '/nope', {}],
        ['GET', '/api/v1/nope', bearer(alice)],
        ['POST', '/api/v1/admin/nope', bearer(admin)],
        ['PATCH', '/api/v1/fs/acme/inbox/t.txt', bearer(alice)],
        ['GET', '/api/v2/fs/', bearer(alice)],
        ['GET', '/.env', {}],
        ['GET', '/api/v1/fs-ops/../../../../etc/passwd', {}],
      ] as const) {
        const r = await rawRequest(s.port, rawHead(method, p, h));
        assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
        assert.equal(safeError(r, s), 'NOT_FOUND');
        assert.match(r.headers['content-type'] ?? '', /^application\/json/);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
      }
    });

    it('answers huge headers with 431 and malformed or smuggling requests with 400, as JSON', async () => {
      const big = (n: number) => 'a'.repeat(n);
      const huge = [
        rawHead('GET', '/api/v1/auth/me', { 'x-big': big(64 * 1024) }),
        rawHead('GET', '/api/v1/auth/me', { authorization: `Bearer ${big(1024 * 1024)}` }),
        rawHead('GET', '/api/v1/auth/me', { cookie: `sluice_session=${big(1024 * 1024)}` }),
        rawHead('GET', `/api/v1/fs/${big(100 * 1024)}`, {}),
        rawHead('GET', '/api/v1/auth/me', Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`x-h${i}`, 'v']))),
      ];
      for (const req of huge) {
        const r = await rawRequest(s.port, req);
        assert.equal(r.status, 431, r.text);
        safeError(r, s);
      }
      const smuggling = [
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\nConnection: close\r\n\r\nabc',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\x0b: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
        'GET /api/v1/auth/me HTTP/1.1\nHost: x\n\n',
        'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n',
        'BLAH\r\n\r\n',
      ];
      for (const req of smuggling) {
        const r = await rawRequest(s.port, req);
        assert.equal(r.status, 400, `${JSON.stringify(req)}: ${r.status} ${r.text}`);
        safeError(r, s);
        assert.equal(r.headers['x-frame-options'], 'DENY');
      }
    });

    it('refuses mass assignment and unknown fields in admin bodies', async () => {
      const post = (p: string, body: unknown, tok = admin) =>
        fetchText(`${s.base}${p}`, { method: 'POST', headers: { ...bearer(tok), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const cases: [string, unknown][] = [
        ['/api/v1/admin/users', { login: 'mallory', org: 'Acme', isAdmin: true }],
        ['/api/v1/admin/users', { login: 'mallory', org: 'Acme', role: 'root' }],
        ['/api/v1/admin/orgs', { name: 'Evil', tenantId: 2 }],
        ['/api/v1/admin/orgs', { name: 'Evil', quotaBytes: '1e309' }],
        ['/api/v1/admin/orgs', { name: 'Evil', quotaBytes: -1 }],
        ['/api/v1/tokens', { login: 'alice', expiresIn: 0 }],
        ['/api/v1/tokens', { login: 'alice', scopes: ['*'] }],
      ];
      for (const [p, body] of cases) {
        const r = await post(p, body);
        assert.equal(r.status, 400, `${p} ${JSON.stringify(body)}: ${r.text}`);
        assert.equal(safeError(r, s), 'INVALID_INPUT');
      }
      // A partner is no administrator, whatever it sends; and may not mint tokens for others.
      const r = await post('/api/v1/admin/orgs', { name: 'Evil' }, alice);
      assert.equal(r.status, 403);
      assert.equal(safeError(r, s), 'PERMISSION_DENIED');
      const t = await post('/api/v1/tokens', { login: 'root' }, alice);
      assert.equal(t.status, 403);
      assert.equal(
        (await s.t.core.admin.orgs.list(s.t.system)).some((o) => o.name === 'Evil'),
        false,
      );
    });
  });

  describe(`HTTP upload limits (${dialect})`, () => {
    let s: Served;
    let alice: string;
    const LIMIT = 64 * 1024;

    before(async () => {
      s = await serve(dialect, { SLUICE_MAX_UPLOAD_BYTES: '64K', SLUICE_MAX_JSON_BODY_BYTES: '4K' });
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Acme', quotaBytes: 100_000 });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      await t.user('alice', { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write,delete');
      alice = await tokenFor(t, 'alice');
    });
    after(() => s.close());

    it('takes a body exactly at the limit and refuses one byte more with 413 TOO_LARGE', async () => {
      const ok = await fetch(`${s.base}/api/v1/fs/acme/inbox/at-limit.bin`, { method: 'PUT', headers: bearer(alice), body: Buffer.alloc(LIMIT, 1) });
      assert.equal(ok.status, 201);
      const r = await fetchText(`${s.base}/api/v1/fs/acme/inbox/over.bin`, { method: 'PUT', headers: bearer(alice), body: Buffer.alloc(LIMIT + 1, 1) }).catch(
        () => undefined,
      );
      // fetch may see the connection close while it still sends; the raw cases below are exact.
      if (r) {
        assert.equal(r.status, 413);
        assert.equal(safeError(r, s), 'TOO_LARGE');
      }
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/inbox/over.bin`, { headers: bearer(alice) })).status, 404);
      await fetch(`${s.base}/api/v1/fs/acme/inbox/at-limit.bin`, { method: 'DELETE', headers: bearer(alice) });
    });

    it('refuses a too-large Content-Length before reading the body (and before 100 Continue)', async () => {
      const before = await tree(s.t);
      const blobs = blobCount(s.t);
      const t0 = Date.now();
      // Headers only: if the server waited for the 10 GB body, this would time out.
      const r = await rawRequest(
        s.port,
        rawHead('PUT', '/api/v1/fs/acme/inbox/huge.bin', { authorization: `Bearer ${alice}`, 'content-length': 10 * 1024 ** 3, expect: '100-continue' }),
        { timeoutMs: 5000 },
      );
      assert.equal(r.status, 413);
      assert.equal(safeError(r, s), 'TOO_LARGE');
      assert.ok(Date.now() - t0 < 4000);
      // No interim 100 Continue was sent: the client never starts sending the body.
      assert.ok(!r.raw.toString('latin1').includes('100 Continue'), r.raw.toString('latin1').slice(0, 200));
      assert.equal(r.headers.connection, 'close');
      assert.deepEqual(await tree(s.t), before);
      assert.equal(blobCount(s.t), blobs);
    });

    it('sends 100 Continue only after accepting an upload', async () => {
      const sock = net.connect({ host: '127.0.0.1', port: s.port });
      const chunks: Buffer[] = [];
      sock.on('data', (c) => chunks.push(c));
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.write(rawHead('PUT', '/api/v1/fs/acme/inbox/continue.bin', { authorization: `Bearer ${alice}`, 'content-length': 3, expect: '100-continue' }));
      await eventually(() => Buffer.concat(chunks).toString('latin1').startsWith('HTTP/1.1 100 Continue\r\n'), 5000, '100 Continue');
      sock.write('abc');
      await new Promise((resolve) => sock.on('close', resolve));
      const r = parseResponse(Buffer.concat(chunks));
      assert.equal(r.status, 201);
      assert.equal((r.json() as { sha256: string }).sha256, sha256('abc'));
    });

    it('refuses an over-limit chunked body with 413 and keeps nothing', async () => {
      const before = await tree(s.t);
      const blobs = blobCount(s.t);
      const body = Buffer.alloc(LIMIT + 10_000, 0x42);
      const req = Buffer.concat([
        Buffer.from(rawHead('PUT', '/api/v1/fs/acme/inbox/chunked.bin', { authorization: `Bearer ${alice}`, 'transfer-encoding': 'chunked' })),
        Buffer.from(body.length.toString(16) + '\r\n'),
        body,
        Buffer.from('\r\n0\r\n\r\n'),
      ]);
      const r = await rawRequest(s.port, req);
      assert.equal(r.status, 413, r.text);
      assert.equal(safeError(r, s), 'TOO_LARGE');
      assert.deepEqual(await tree(s.t), before);
      await eventually(() => blobCount(s.t) === blobs, 5000, 'the partial blob to be removed');
    });

    it('refuses an upload over the organisation quota with 413 QUOTA_EXCEEDED', async () => {
      const put = (name: string, n: number) =>
        fetchText(`${s.base}/api/v1/fs/acme/inbox/${name}`, { method: 'PUT', headers: bearer(alice), body: Buffer.alloc(n, 7) });
      assert.equal((await put('q1.bin', 60_000)).status, 201);
      const before = await tree(s.t);
      const r = await rawRequest(s.port, rawHead('PUT', '/api/v1/fs/acme/inbox/q2.bin', { authorization: `Bearer ${alice}`, 'content-length': 50_000 }));
      assert.equal(r.status, 413);
      assert.equal(safeError(r, s), 'QUOTA_EXCEEDED');
      // Declared nothing (chunked): refused while streaming.
      const body = Buffer.alloc(50_000, 9);
      const chunked = await rawRequest(
        s.port,
        Buffer.concat([
          Buffer.from(rawHead('PUT', '/api/v1/fs/acme/inbox/q3.bin', { authorization: `Bearer ${alice}`, 'transfer-encoding': 'chunked' })),
          Buffer.from(body.length.toString(16) + '\r\n'),
          body,
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      );
      assert.equal(chunked.status, 413);
      assert.equal(safeError(chunked, s), 'QUOTA_EXCEEDED');
      assert.deepEqual(await tree(s.t), before);
      // Replacing the file counts its old size back: within quota (60,000 + 5,000 more).
      assert.equal((await put('q1.bin', 65_000)).status, 201);
    });

    it('refuses a JSON body over SLUICE_MAX_JSON_BODY_BYTES with 413', async () => {
      const r = await fetchText(`${s.base}/api/v1/fs-ops/mkdir`, {
        method: 'POST',
        headers: { ...bearer(alice), 'content-type': 'application/json' },
        body: JSON.stringify({ path: '/acme/inbox/' + 'x'.repeat(5000) }),
      });
      assert.equal(r.status, 413);
      assert.equal(safeError(r, s), 'TOO_LARGE');
    });
  });
}
