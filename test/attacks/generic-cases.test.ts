/**
 * Attack corpus §3, the generic items that are behaviours rather than strings to inject: size and
 * quota, many objects and handles, huge headers, slow clients, request smuggling, ranges, mass
 * assignment, IDOR, session fixation, DNS rebinding, framing, XML, JSON edge cases, case and
 * encoding differences, SFTP framing and handle abuse.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { DIALECTS } from '../helpers/dialects.js';
import { FX, OPEN, RawSftp, connect, str, T, u32, WRITE_NEW } from '../sftp/raw.js';
import { attackTarget, pool, TEST_PASSWORD, type Target } from './harness.js';

for (const dialect of DIALECTS) {
  describe(`attacks: generic hostile behaviours (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect, { env: { SLUICE_MAX_UPLOAD_BYTES: '1M' }, limits: { maxHandles: 64 } });
      await x.s.t.core.admin.orgs.update(x.s.t.system, 'Acme', { quotaBytes: 2 * 1024 * 1024 });
    });
    after(() => x?.close());

    it('Corpus §3 item 15: declared sizes of 2^63, bodies longer than declared, SFTP writes at 2^63-1 and parallel uploads over quota are refused whole', async () => {
      const before = await x.snapshot();
      const huge = await x.raw(
        x.rawHead('PUT', '/api/v1/fs/acme/inbox/huge.bin', { authorization: `Bearer ${x.tokens.alice}`, 'content-length': '9223372036854775808' }),
      );
      assert.ok(huge.status === 413 || huge.status === 400, `2^63: ${huge.status}`);
      x.safe(huge, '2^63');
      const longer = await x.raw(
        x.rawHead('PUT', '/api/v1/fs/acme/inbox/longer.bin', { authorization: `Bearer ${x.tokens.alice}`, 'content-length': 3 }) + 'abcdefgh',
      );
      assert.ok(longer.status === 201 || longer.status >= 400, `longer body: ${longer.status}`);
      if (longer.status === 201) {
        assert.equal((longer.json() as { size: number }).size, 3, 'only the declared bytes were kept');
        await x.http('DELETE', '/api/v1/fs/acme/inbox/longer.bin', { token: x.tokens.alice });
      }
      const sftp = await x.sftp('alice');
      try {
        const h = await sftp.open('/acme/inbox/far.bin', WRITE_NEW);
        assert.equal(h.type, 102);
        const w = await sftp.request(T.WRITE, str(h.handle!), Buffer.from('7fffffffffffffff', 'hex'), str('x'));
        assert.notEqual(w.code, FX.OK, 'a write at 2^63-1');
        const zero = await sftp.write(h.handle!, 0, Buffer.alloc(0));
        assert.ok(zero.type === 101);
        await sftp.close(h.handle!);
      } finally {
        sftp.end();
      }
      // Parallel uploads that together exceed the 2 MiB quota: never more than the quota is kept.
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) => x.http('PUT', `/api/v1/fs/acme/inbox/q${i}.bin`, { token: x.tokens.alice, body: Buffer.alloc(900 * 1024, i) })),
      );
      const ok = results.filter((r) => r.status === 201).length;
      assert.ok(ok <= 2, `${ok} uploads of 900 KiB fit a 2 MiB quota`);
      for (const r of results) if (r.status !== 201) assert.equal(x.safe(r, 'over quota'), 'QUOTA_EXCEEDED');
      for (let i = 0; i < 4; i++) await x.http('DELETE', `/api/v1/fs/acme/inbox/q${i}.bin`, { token: x.tokens.alice });
      await x.http('DELETE', '/api/v1/fs/acme/inbox/far.bin', { token: x.tokens.alice });
      const after = await x.snapshot();
      assert.deepEqual(after.rows.users, before.rows.users);
      assert.ok(
        (after.rows.files as { size: number }[]).every((f) => f.size <= 1024 * 1024),
        'a file over the upload limit',
      );
    });

    it('Corpus §3 items 19, 47: handles beyond the cap fail, closed and foreign handles fail, 1,000 MKDIRs are fine; the session survives', async () => {
      const a = await x.sftp('alice');
      const b = await x.sftp('bob');
      try {
        const handles: Buffer[] = [];
        for (let i = 0; i < 64; i++) handles.push((await a.request(T.OPENDIR, str('/acme/inbox'))).handle!);
        const over = await a.request(T.OPENDIR, str('/acme/inbox'));
        assert.equal(over.code, FX.FAILURE, 'a 65th handle');
        const bobs = (await b.open('/beta/inbox/secret.txt', OPEN.READ)).handle!;
        x.sftpFailed(await a.read(bobs, 0, 100), "alice uses bob's handle bytes");
        x.sftpFailed(await a.read(Buffer.alloc(8192, 7), 0, 10), 'an 8 KiB handle');
        for (const h of handles) assert.equal((await a.close(h)).code, FX.OK);
        x.sftpFailed(await a.close(handles[0]!), 'CLOSE twice');
        x.sftpFailed(await a.read(handles[1]!, 0, 10), 'READ on a closed handle');
        await b.close(bobs);
        const names = Array.from({ length: 300 }, (_, i) => `/acme/inbox/m${i}`);
        await pool(names, 16, async (n) => void (await a.request(T.MKDIR, str(n), u32(0))));
        await pool(names, 16, async (n) => void (await a.request(T.RMDIR, str(n))));
        assert.equal((await a.request(T.STAT, str('/acme/inbox/alice.txt'))).type, 105);
      } finally {
        a.end();
        b.end();
      }
    });

    it('Corpus §3 item 46: SFTP framing — zero, tiny, oversized and 0xFFFFFFFF lengths, strings past the packet, READ of 4 GiB, INIT twice', async () => {
      const cases: [string, (r: RawSftp) => void][] = [
        ['request before INIT', (r) => r.raw(Buffer.concat([u32(9), Buffer.from([T.STAT]), u32(1), u32(0)]))],
        ['length 0', (r) => r.raw(u32(0))],
        ['length 0xFFFFFFFF', (r) => r.raw(u32(0xffffffff))],
        ['length 300 KiB', (r) => r.raw(Buffer.concat([u32(300 * 1024), Buffer.alloc(512)]))],
        ['INIT twice', (r) => (r.raw(Buffer.concat([u32(5), Buffer.from([T.INIT]), u32(3)])), r.raw(Buffer.concat([u32(5), Buffer.from([T.INIT]), u32(3)])))],
      ];
      for (const [what, send] of cases) {
        const c = await connect(x.port, 'alice', { key: x.keys.alice });
        const r = await RawSftp.open(c, false);
        send(r);
        const closed = await Promise.race([r.closedPromise.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 5000))]);
        assert.ok(closed, `${what}: the session stayed open`);
        c.end();
      }
      const s = await x.sftp('alice');
      try {
        assert.equal((await s.request(T.STAT, u32(1000), Buffer.from('ab'))).code, FX.BAD_MESSAGE, 'string past the packet');
        const h = (await s.open('/acme/inbox/alice.txt', OPEN.READ)).handle!;
        const big = await s.read(h, 0, 0xffffffff);
        assert.ok(big.type === 103 ? big.data!.length < 1024 * 1024 : big.type === 101, 'READ of 4 GiB');
        await s.close(h);
        assert.equal((await s.request(T.OPEN, str('/acme/inbox/x'), u32(0xffffff00), u32(0))).type, 101, 'unknown pflags');
        assert.equal((await s.extended('x'.repeat(60_000))).code, FX.OP_UNSUPPORTED, 'an oversized extension name');
        // Reused request ids: each gets an answer.
        const [r1, r2] = await Promise.all([s.requestWithId(77, T.STAT, str('/acme/inbox')), s.requestWithId(78, T.STAT, str('/acme/inbox'))]);
        assert.equal(r1.type, 105);
        assert.equal(r2.type, 105);
      } finally {
        s.end();
      }
      await x.healthy();
    });

    it('Corpus §3 items 20, 22: huge headers answer 431, smuggling shapes 400, both as JSON', async () => {
      for (const req of [
        x.rawHead('GET', '/api/v1/auth/me', { 'x-big': 'a'.repeat(64 * 1024) }),
        x.rawHead('GET', '/api/v1/auth/me', { cookie: `sluice_session=${'a'.repeat(1024 * 1024)}` }),
        x.rawHead('GET', `/api/v1/fs/${'a'.repeat(100 * 1024)}`),
      ]) {
        const r = await x.raw(req);
        assert.equal(r.status, 431);
        x.safe(r, 'huge header');
      }
      for (const req of [
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 40\r\nConnection: close\r\n\r\nabc',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n0\r\n\r\n',
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding:  chunked\r\nTransfer-Encoding: x\r\nConnection: close\r\n\r\n0\r\n\r\n',
        'GET /api/v1/auth/me HTTP/1.1\nHost: 127.0.0.1\n\n',
      ]) {
        const r = await x.raw(req);
        assert.ok(r.status === 400 || r.status === 501, `${JSON.stringify(req.slice(0, 60))}: ${r.status}`);
        x.safe(r, 'smuggling', [400, 501]);
      }
    });

    it('Corpus §3 item 21: 60 slow clients (headers trickled, bodies stalled) do not slow a signed-in user', async () => {
      const socks: net.Socket[] = [];
      try {
        for (let i = 0; i < 60; i++) {
          const s = net.connect(Number(new URL(x.base).port), '127.0.0.1');
          s.on('error', () => undefined);
          s.write(
            i % 2
              ? 'GET /api/v1/auth/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: '
              : `PUT /api/v1/fs/acme/inbox/slow${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${x.tokens.alice}\r\nContent-Length: 100000\r\n\r\nab`,
          );
          socks.push(s);
        }
        const t0 = Date.now();
        const r = await x.http('GET', '/api/v1/fs/acme/inbox/', { token: x.tokens.bob === '' ? '' : x.tokens.alice });
        assert.equal(r.status, 200);
        assert.ok(Date.now() - t0 < 2000, `a request took ${Date.now() - t0} ms among slow clients`);
      } finally {
        for (const s of socks) s.destroy();
      }
      // (Whether the stalled uploads' pending blobs are removed is the upload tests' concern:
      // test/http/hostile.test.ts "leaves nothing when the client disconnects mid-upload".)
    });

    it('Corpus §3 item 23: range abuse — many, overlapping, empty and huge ranges give one range, the whole file or 416', async () => {
      for (const range of [
        Array.from({ length: 1000 }, () => '0-0').join(','),
        '0-5,2-8',
        'bytes=-0',
        'bytes=18446744073709551615-',
        'bytes=5-1',
        'bytes=0-0,0-0',
        'bytes=abc',
      ]) {
        const r = await x.http('GET', '/api/v1/fs/acme/inbox/alice.txt', {
          token: x.tokens.alice,
          headers: { range: range.startsWith('bytes') ? range : `bytes=${range}` },
        });
        assert.ok([200, 206, 416].includes(r.status), `${range.slice(0, 30)}: ${r.status}`);
        assert.doesNotMatch(r.headers.get('content-type') ?? '', /multipart/);
        if (r.status === 206) assert.ok(r.text.length <= 16);
      }
    });

    it('Corpus §3 items 26, 27: mass assignment is refused; other users’ objects answer as if they did not exist', async () => {
      const before = await x.snapshot();
      for (const body of [{ role: 'admin' }, { homeDir: '/' }, { permissions: ['*'] }, { tenantId: 2 }, { mfaEnabled: false }, { isAdmin: true }]) {
        const r = await x.http('POST', '/api/v1/tokens', { token: x.tokens.alice, json: { name: 'm', ...body } });
        assert.equal(r.status, 400, JSON.stringify(body));
        const p = await x.http('PATCH', '/api/v1/admin/users/alice', { token: x.tokens.alice, json: body });
        assert.ok(p.status === 400 || p.status === 403, JSON.stringify(body));
      }
      const bobTokens = JSON.parse((await x.http('GET', '/api/v1/tokens', { token: x.tokens.bob })).text) as { tokens?: { id: string }[] } | { id: string }[];
      const ids = (Array.isArray(bobTokens) ? bobTokens : (bobTokens.tokens ?? [])).map((t) => t.id);
      assert.ok(ids.length > 0);
      const missing = await x.http('DELETE', '/api/v1/tokens/01a00000-0000-7000-8000-000000000000', { token: x.tokens.alice });
      for (const id of ids) {
        const r = await x.http('DELETE', `/api/v1/tokens/${id}`, { token: x.tokens.alice });
        assert.equal(r.status, missing.status, "bob's token vs a missing one");
        assert.equal(r.text, missing.text);
      }
      const hidden = await x.http('GET', '/api/v1/fs/beta/inbox/secret.txt', { token: x.tokens.alice });
      const none = await x.http('GET', '/api/v1/fs/beta/inbox/nothing.txt', { token: x.tokens.alice });
      assert.equal(hidden.status, 404);
      assert.equal(hidden.text, none.text);
      for (const [m, u, body] of [
        ['DELETE', '/api/v1/fs/beta/inbox/secret.txt', undefined],
        ['POST', '/api/v1/fs-ops/rename', { from: '/beta/inbox/secret.txt', to: '/acme/inbox/stolen.txt' }],
        ['GET', '/api/v1/fs-ops/stat?path=/beta/inbox/secret.txt', undefined],
        ['GET', '/api/v1/tokens?login=bob', undefined],
      ] as const) {
        const r = await x.http(m, u, { token: x.tokens.alice, ...(body ? { json: body } : {}) });
        assert.ok(r.status === 404 || r.status === 403, `${m} ${u}: ${r.status}`);
      }
      // (blob_pending is left out: the slow clients of item 21 may still be being given up.)
      const after = await x.snapshot();
      for (const table of ['users', 'orgs', 'folders', 'files', 'grants', 'ssh_keys', 'tokens'])
        assert.deepEqual(after.rows[table], before.rows[table], `IDOR: ${table} changed`);
    });

    it('Corpus §3 item 29: a planted session id never becomes a session; logout and a password change end it', async () => {
      const planted = 'A'.repeat(43);
      const r = await x.http('POST', '/api/v1/auth/login', {
        json: { login: 'bob', password: TEST_PASSWORD },
        headers: { cookie: `sluice_session=${planted}` },
      });
      assert.equal(r.status, 200);
      const c = /sluice_session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')![1]!;
      assert.notEqual(c, planted);
      assert.match(r.headers.get('set-cookie') ?? '', /HttpOnly/i);
      assert.match(r.headers.get('set-cookie') ?? '', /SameSite=Strict/i);
      assert.equal((await x.http('GET', '/api/v1/auth/me', { headers: { cookie: `sluice_session=${planted}` } })).status, 401);
      const out = await x.http('POST', '/api/v1/auth/logout', { headers: { cookie: `sluice_session=${c}`, origin: x.base } });
      assert.ok(out.status < 300);
      assert.equal((await x.http('GET', '/api/v1/auth/me', { headers: { cookie: `sluice_session=${c}` } })).status, 401, 'the session outlived logout');
    });

    it('Corpus §3 items 32, 37, 45: a foreign Host (DNS rebinding) is refused, every answer forbids framing, and case or encoding variants of routes do not differ in decision', async () => {
      for (const host of ['evil.test', 'sluice.evil.test', '127.0.0.1.nip.io']) {
        const r = await x.raw(`GET /api/v1/auth/me HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${x.tokens.alice}\r\nConnection: close\r\n\r\n`);
        assert.equal(r.status, 421, host);
        assert.equal(r.headers['x-frame-options'], 'DENY');
      }
      for (const u of ['/healthz', '/api/v1/auth/me', '/nope', '/api/openapi.json']) {
        const r = await x.http('GET', u);
        assert.equal(r.headers.get('x-frame-options'), 'DENY', u);
        assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'|default-src 'none'/, u);
      }
      for (const u of [
        '/api/v1/Admin/users',
        '/api/v1/admin/users/',
        '/api/v1/admin%2Fusers',
        '/api/v1/%61dmin/users',
        '/api/v1/admin/users?',
        '/api/v1/admin/users#x',
      ]) {
        const r = await x.raw(x.rawHead('GET', u, { authorization: `Bearer ${x.tokens.alice}` }));
        assert.ok([403, 404, 400].includes(r.status), `${u}: ${r.status}`);
      }
      for (const h of [{ 'x-original-url': '/api/v1/admin/users' }, { 'x-rewrite-url': '/api/v1/admin/users' }]) {
        const r = await x.http('GET', '/api/v1/auth/me', { token: x.tokens.alice, headers: h });
        assert.match(r.text, /"login":"alice"/, 'a rewrite header changed the route');
      }
      const abs = await x.raw(
        `GET http://127.0.0.1/api/v1/admin/users HTTP/1.1\r\nHost: evil.test\r\nAuthorization: Bearer ${x.tokens.alice}\r\nConnection: close\r\n\r\n`,
      );
      assert.ok([400, 403, 404, 421].includes(abs.status), `absolute-form request: ${abs.status}`);
    });

    it('Corpus §3 items 40, 42: XML is never parsed; JSON edge cases (deep nesting, duplicate keys, lone surrogates, 1e999, BOM) are refused or inert', async () => {
      const before = await x.snapshot();
      for (const ct of ['application/xml', 'text/xml', 'application/soap+xml']) {
        const r = await x.http('POST', '/api/v1/fs-ops/mkdir', {
          token: x.tokens.alice,
          headers: { 'content-type': ct },
          body: `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd"><!ENTITY % d SYSTEM "${x.egress.url}">%d;]><x>&e;</x>`,
        });
        assert.equal(r.status, 415, ct);
        x.safe(r, ct);
      }
      const bodies = [
        '['.repeat(100_000),
        '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
        '{"path":"/acme/inbox/dup1","path":"/beta/inbox/dup2"}',
        '{"path":"/acme/inbox/\\ud800"}',
        '{"name":"x","expiresIn":1e999}',
        '{"name":"x","expiresIn":-0}',
        '{"name":"x","expiresIn":9007199254740993}',
        '\ufeff{"path":"/acme/inbox/bom"}',
      ];
      for (const body of bodies) {
        for (const u of ['/api/v1/fs-ops/mkdir', '/api/v1/tokens']) {
          const r = await x.http('POST', u, { token: x.tokens.alice, headers: { 'content-type': 'application/json' }, body });
          assert.ok(r.status < 500, `${body.slice(0, 40)}: ${r.status}`);
          if (r.status >= 400) x.safe(r, body.slice(0, 40));
        }
      }
      const utf7 = await x.http('POST', '/api/v1/fs-ops/mkdir', {
        token: x.tokens.alice,
        headers: { 'content-type': 'application/json; charset=utf-7' },
        body: '{"path":"+AC8-acme"}',
      });
      assert.ok(utf7.status >= 400 && utf7.status < 500, `utf-7: ${utf7.status}`);
      const after = await x.snapshot();
      const newFolders = (after.rows.folders as { path: string }[]).filter((f) => !(before.rows.folders as { path: string }[]).some((g) => g.path === f.path));
      for (const f of newFolders) assert.match(f.path, /^\/acme\/inbox\//, `a folder outside the grant: ${f.path}`);
      assert.equal(x.egress.hits, 0);
    });
  });
}
