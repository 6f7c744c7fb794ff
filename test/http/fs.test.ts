/**
 * The files contract of interface.md over real HTTP: list, upload, download (Range, ETag, 304),
 * HEAD, DELETE, mkdir, rename, stat, a multi-MiB random round trip, and the core's access rules
 * seen through HTTP. One real server per dialect.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, errorCode, serve, sha256, tokenFor, tree, type Served } from './helpers.js';

const run = promisify(execFile);

for (const dialect of DIALECTS) {
  describe(`HTTP files (${dialect})`, () => {
    let s: Served;
    let admin: string;
    let alice: string; // partner of Acme: list,read,write,delete on /acme/inbox; org Acme: list,read on /acme/outbox
    let bob: string; // partner of Beta: nothing under /acme
    const fsUrl = (p: string) => `${s.base}/api/v1/fs${p}`;
    const put = (tok: string, p: string, body: Buffer | string) => fetch(fsUrl(p), { method: 'PUT', headers: bearer(tok), body });

    before(async () => {
      s = await serve(dialect);
      const { t } = s;
      await t.user('root', { role: 'admin' });
      await t.core.admin.orgs.create(t.system, { name: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/outbox', { org: 'Acme' });
      await t.core.admin.folders.create(t.system, '/beta/inbox');
      await t.user('alice', { org: 'Acme' });
      await t.user('bob', { org: 'Beta' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write,delete');
      await t.core.admin.grants.set(t.system, 'org:Acme', '/acme/outbox', 'list,read');
      [admin, alice, bob] = await Promise.all([tokenFor(t, 'root'), tokenFor(t, 'alice'), tokenFor(t, 'bob')]);
    });
    after(() => s.close());

    it('PUT answers 201 { path, size, sha256 } and replaces atomically (201 again)', async () => {
      const r = await put(alice, '/acme/inbox/report.csv', 'a;b\n1;2\n');
      assert.equal(r.status, 201);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await r.json(), { path: '/acme/inbox/report.csv', size: 8, sha256: sha256('a;b\n1;2\n') });
      const again = await put(alice, '/acme/inbox/report.csv', 'x');
      assert.equal(again.status, 201);
      assert.deepEqual(await again.json(), { path: '/acme/inbox/report.csv', size: 1, sha256: sha256('x') });
      const dl = await fetch(fsUrl('/acme/inbox/report.csv'), { headers: bearer(alice) });
      assert.equal(await dl.text(), 'x');
    });

    it('lists a folder: { path, entries: [{ name, type, size, sha256, modified }] }', async () => {
      await put(alice, '/acme/inbox/list-me.txt', 'hello');
      const r = await fetch(fsUrl('/acme/inbox/'), { headers: bearer(alice) });
      assert.equal(r.status, 200);
      const body = (await r.json()) as { path: string; entries: Record<string, unknown>[]; next?: string };
      assert.deepEqual(Object.keys(body).sort(), ['entries', 'path']);
      assert.equal(body.path, '/acme/inbox');
      const e = body.entries.find((x) => x.name === 'list-me.txt');
      assert.ok(e, JSON.stringify(body));
      assert.deepEqual(Object.keys(e).sort(), ['modified', 'name', 'sha256', 'size', 'type']);
      assert.equal(e.type, 'file');
      assert.equal(e.size, 5);
      assert.equal(e.sha256, sha256('hello'));
      assert.match(String(e.modified), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      assert.ok(Math.abs(Date.parse(String(e.modified)) - Date.now()) < 60_000);

      // ?list and a folder path without the trailing slash list too; folders carry sha256 null.
      for (const u of [fsUrl('/acme/inbox?list'), fsUrl('/acme/inbox')]) {
        const again = (await (await fetch(u, { headers: bearer(alice) })).json()) as typeof body;
        assert.deepEqual(
          again.entries.map((x) => x.name),
          body.entries.map((x) => x.name),
          u,
        );
      }
      const acme = (await (await fetch(fsUrl('/acme/'), { headers: bearer(admin) })).json()) as typeof body;
      assert.deepEqual(
        acme.entries.map((x) => [x.name, x.type, x.sha256]),
        [
          ['inbox', 'folder', null],
          ['outbox', 'folder', null],
        ],
      );
      // Alice sees only the way to her folders.
      const root = (await (await fetch(fsUrl('/'), { headers: bearer(alice) })).json()) as typeof body;
      assert.deepEqual(
        root.entries.map((x) => x.name),
        ['acme'],
      );
    });

    it('pages a listing with ?limit and the opaque next cursor', async () => {
      await s.t.core.admin.folders.create(s.t.system, '/acme/inbox/paged');
      for (let i = 0; i < 5; i++) assert.equal((await put(alice, `/acme/inbox/paged/f${i}.txt`, String(i))).status, 201);
      const names: string[] = [];
      let url = fsUrl('/acme/inbox/paged/?limit=2');
      let pages = 0;
      for (;;) {
        const r = await fetch(url, { headers: bearer(alice) });
        assert.equal(r.status, 200);
        const page = (await r.json()) as { entries: { name: string }[]; next?: string };
        assert.ok(page.entries.length <= 2);
        names.push(...page.entries.map((e) => e.name));
        pages++;
        if (page.next === undefined) break;
        url = fsUrl(`/acme/inbox/paged/?limit=2&cursor=${encodeURIComponent(page.next)}`);
      }
      assert.deepEqual(names, ['f0.txt', 'f1.txt', 'f2.txt', 'f3.txt', 'f4.txt']);
      assert.equal(pages, 3);
      const bad = await fetch(fsUrl('/acme/inbox/paged/?cursor=not-a-cursor'), { headers: bearer(alice) });
      assert.equal(bad.status, 400);
      assert.equal(errorCode(await bad.json()), 'INVALID_INPUT');
    });

    it('downloads with ETag, Content-Disposition: attachment and the download headers', async () => {
      const body = 'Abrechnung Q3\n';
      await put(alice, '/acme/inbox/q3.txt', body);
      const r = await fetch(fsUrl('/acme/inbox/q3.txt'), { headers: bearer(alice) });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), body);
      assert.equal(r.headers.get('content-type'), 'application/octet-stream');
      assert.equal(r.headers.get('content-length'), String(body.length));
      assert.equal(r.headers.get('accept-ranges'), 'bytes');
      assert.equal(r.headers.get('etag'), `"${sha256(body)}"`);
      assert.match(r.headers.get('content-disposition') ?? '', /^attachment; filename="?q3\.txt"?$/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('content-security-policy'), "sandbox; default-src 'none'");
      assert.equal(r.headers.get('cache-control'), 'no-store');
    });

    it('answers Range requests (a-b, a-, -n), ignores multiple ranges, and 416 beyond the end', async () => {
      const body = '0123456789abcdef';
      await put(alice, '/acme/inbox/range.bin', body);
      const get = (range: string, extra: Record<string, string> = {}) =>
        fetch(fsUrl('/acme/inbox/range.bin'), { headers: { ...bearer(alice), range, ...extra } });
      const cases: [string, number, string, string | null][] = [
        ['bytes=2-5', 206, '2345', 'bytes 2-5/16'],
        ['bytes=10-', 206, 'abcdef', 'bytes 10-15/16'],
        ['bytes=-3', 206, 'def', 'bytes 13-15/16'],
        ['bytes=14-999', 206, 'ef', 'bytes 14-15/16'],
        ['bytes=-999', 206, body, 'bytes 0-15/16'],
        ['bytes=0-0,2-3', 200, body, null],
        [`bytes=${'0-0,'.repeat(999)}0-0`, 200, body, null],
        ['items=0-3', 200, body, null],
        ['bytes=5-2', 200, body, null],
      ];
      for (const [range, status, expect, contentRange] of cases) {
        const r = await get(range);
        assert.equal(r.status, status, range);
        assert.equal(await r.text(), expect, range);
        assert.equal(r.headers.get('content-range'), contentRange, range);
        assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(expect)), range);
      }
      for (const range of ['bytes=16-', 'bytes=99-100', 'bytes=-0', 'bytes=18446744073709551615-']) {
        const r = await get(range);
        assert.equal(r.status, 416, range);
        assert.equal(r.headers.get('content-range'), 'bytes */16', range);
        assert.equal(errorCode(await r.json()), 'RANGE_NOT_SATISFIABLE', range);
        assert.equal(r.headers.get('content-disposition'), null);
      }
      // If-Range with another tag: the whole file.
      const ifr = await get('bytes=0-1', { 'if-range': '"other"' });
      assert.equal(ifr.status, 200);
      assert.equal(await ifr.text(), body);
      const ifrOk = await get('bytes=0-1', { 'if-range': `"${sha256(body)}"` });
      assert.equal(ifrOk.status, 206);
      assert.equal(await ifrOk.text(), '01');
    });

    it('answers If-None-Match with 304 (no body) and a changed file with 200', async () => {
      await put(alice, '/acme/inbox/etag.txt', 'v1');
      const etag = `"${sha256('v1')}"`;
      const r = await fetch(fsUrl('/acme/inbox/etag.txt'), { headers: { ...bearer(alice), 'if-none-match': etag } });
      assert.equal(r.status, 304);
      assert.equal(r.headers.get('etag'), etag);
      assert.equal(await r.text(), '');
      const star = await fetch(fsUrl('/acme/inbox/etag.txt'), { headers: { ...bearer(alice), 'if-none-match': `"x", W/${etag}` } });
      assert.equal(star.status, 304);
      await put(alice, '/acme/inbox/etag.txt', 'v2');
      const changed = await fetch(fsUrl('/acme/inbox/etag.txt'), { headers: { ...bearer(alice), 'if-none-match': etag } });
      assert.equal(changed.status, 200);
      assert.equal(await changed.text(), 'v2');
      assert.equal(changed.headers.get('etag'), `"${sha256('v2')}"`);
    });

    it('answers HEAD with the download headers and no body', async () => {
      await put(alice, '/acme/inbox/head.txt', 'twelve bytes');
      const r = await fetch(fsUrl('/acme/inbox/head.txt'), { method: 'HEAD', headers: bearer(alice) });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-length'), '12');
      assert.equal(r.headers.get('etag'), `"${sha256('twelve bytes')}"`);
      assert.equal(r.headers.get('accept-ranges'), 'bytes');
      assert.match(r.headers.get('content-disposition') ?? '', /^attachment/);
      assert.equal(await r.text(), '');
      const part = await fetch(fsUrl('/acme/inbox/head.txt'), { method: 'HEAD', headers: { ...bearer(alice), range: 'bytes=-2' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), 'bytes 10-11/12');
      assert.equal(part.headers.get('content-length'), '2');
      const missing = await fetch(fsUrl('/acme/inbox/nope.txt'), { method: 'HEAD', headers: bearer(alice) });
      assert.equal(missing.status, 404);
    });

    it('DELETE answers 204; a missing file is 404 NOT_FOUND; a non-empty folder 409', async () => {
      await put(alice, '/acme/inbox/gone.txt', 'bye');
      const d = await fetch(fsUrl('/acme/inbox/gone.txt'), { method: 'DELETE', headers: bearer(alice) });
      assert.equal(d.status, 204);
      assert.equal(await d.text(), '');
      const g = await fetch(fsUrl('/acme/inbox/gone.txt'), { headers: bearer(alice) });
      assert.equal(g.status, 404);
      assert.equal(errorCode(await g.json()), 'NOT_FOUND');
      const again = await fetch(fsUrl('/acme/inbox/gone.txt'), { method: 'DELETE', headers: bearer(alice) });
      assert.equal(again.status, 404);
      const full = await fetch(fsUrl('/acme/inbox/paged/'), { method: 'DELETE', headers: bearer(admin) });
      assert.equal(full.status, 409);
      assert.equal(errorCode(await full.json()), 'FOLDER_NOT_EMPTY');
      // 'PATH/' removes only folders.
      await put(alice, '/acme/inbox/not-a-folder.txt', 'x');
      const slash = await fetch(fsUrl('/acme/inbox/not-a-folder.txt/'), { method: 'DELETE', headers: bearer(alice) });
      assert.equal(slash.status, 409);
      assert.equal(errorCode(await slash.json()), 'NOT_A_FOLDER');
    });

    it('mkdir, stat and rename through /api/v1/fs-ops', async () => {
      const post = (op: string, body: unknown, tok = alice) =>
        fetch(`${s.base}/api/v1/fs-ops/${op}`, { method: 'POST', headers: { ...bearer(tok), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const m = await post('mkdir', { path: '/acme/inbox/2026' });
      assert.equal(m.status, 201);
      const entry = (await m.json()) as Record<string, unknown>;
      assert.equal(entry.path, '/acme/inbox/2026');
      assert.equal(entry.type, 'folder');
      assert.equal(entry.name, '2026');
      assert.equal((await post('mkdir', { path: '/acme/inbox/2026' })).status, 409);

      await put(alice, '/acme/inbox/2026/a.txt', 'AAA');
      const st = await fetch(`${s.base}/api/v1/fs-ops/stat?path=${encodeURIComponent('/acme/inbox/2026/a.txt')}`, { headers: bearer(alice) });
      assert.equal(st.status, 200);
      const stat = (await st.json()) as Record<string, unknown>;
      assert.match(String(stat.modified), /^\d{4}-\d\d-\d\dT/);
      assert.deepEqual(stat, { name: 'a.txt', path: '/acme/inbox/2026/a.txt', type: 'file', size: 3, sha256: sha256('AAA'), modified: stat.modified });

      const mv = await post('rename', { from: '/acme/inbox/2026/a.txt', to: '/acme/inbox/2026/b.txt' });
      assert.equal(mv.status, 200);
      assert.equal(((await mv.json()) as { path: string }).path, '/acme/inbox/2026/b.txt');
      assert.equal((await fetch(fsUrl('/acme/inbox/2026/a.txt'), { headers: bearer(alice) })).status, 404);
      assert.equal(await (await fetch(fsUrl('/acme/inbox/2026/b.txt'), { headers: bearer(alice) })).text(), 'AAA');

      await put(alice, '/acme/inbox/2026/c.txt', 'CCC');
      const clash = await post('rename', { from: '/acme/inbox/2026/c.txt', to: '/acme/inbox/2026/b.txt' });
      assert.equal(clash.status, 409);
      assert.equal(errorCode(await clash.json()), 'ALREADY_EXISTS');
      const over = await post('rename', { from: '/acme/inbox/2026/c.txt', to: '/acme/inbox/2026/b.txt', overwrite: true });
      assert.equal(over.status, 200);
      assert.equal(await (await fetch(fsUrl('/acme/inbox/2026/b.txt'), { headers: bearer(alice) })).text(), 'CCC');
      const missing = await fetch(`${s.base}/api/v1/fs-ops/stat?path=/acme/inbox/2026/zzz`, { headers: bearer(alice) });
      assert.equal(missing.status, 404);
      assert.equal(errorCode(await missing.json()), 'NOT_FOUND');
    });

    it('round-trips a 3 MiB random file (streamed both ways), verified by sha256, and a Range inside it', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 123);
      const r = await put(alice, '/acme/inbox/random.bin', data);
      assert.equal(r.status, 201);
      const info = (await r.json()) as { size: number; sha256: string };
      assert.equal(info.size, data.length);
      assert.equal(info.sha256, sha256(data));
      const dl = await fetch(fsUrl('/acme/inbox/random.bin'), { headers: bearer(alice) });
      const got = Buffer.from(await dl.arrayBuffer());
      assert.equal(got.length, data.length);
      assert.equal(sha256(got), sha256(data));
      assert.equal(dl.headers.get('etag'), `"${sha256(data)}"`);
      const mid = await fetch(fsUrl('/acme/inbox/random.bin'), { headers: { ...bearer(alice), range: 'bytes=1000000-2500000' } });
      assert.equal(mid.status, 206);
      assert.ok(Buffer.from(await mid.arrayBuffer()).equals(data.subarray(1_000_000, 2_500_001)));
    });

    it('takes an upload from curl -T (Expect: 100-continue) and serves it to curl -OJ', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-curl-'));
      try {
        const src = path.join(dir, 'src.bin');
        const data = randomBytes(2 * 1024 * 1024 + 7);
        fs.writeFileSync(src, data);
        const up = await run('curl', ['-sS', '-T', src, '-H', `Authorization: Bearer ${alice}`, '-w', '\n%{http_code}', fsUrl('/acme/inbox/curl.bin')]);
        const [json, code] = up.stdout.split('\n');
        assert.equal(code, '201', up.stdout);
        assert.equal((JSON.parse(json ?? '') as { sha256: string }).sha256, sha256(data));
        const out = path.join(dir, 'out');
        fs.mkdirSync(out);
        await run('curl', ['-sS', '-f', '-OJ', '-H', `Authorization: Bearer ${alice}`, fsUrl('/acme/inbox/curl.bin')], { cwd: out });
        assert.equal(sha256(fs.readFileSync(path.join(out, 'curl.bin'))), sha256(data));
        // A refused upload is refused before curl sends the body (no 100 Continue): 404, promptly.
        const denied = await run('curl', ['-sS', '-T', src, '-H', `Authorization: Bearer ${bob}`, '-w', '\n%{http_code}', fsUrl('/acme/inbox/curl2.bin')]);
        assert.equal(denied.stdout.split('\n').pop(), '404');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('encodes Content-Disposition for unusual names (RFC 6266/5987), never raw', async () => {
      for (const name of ['报告 Q3.pdf', "a;b'c=d.html", 'ä%20b.txt', '  x.txt'.trim(), 'e\u0301.txt']) {
        const up = await put(alice, `/acme/inbox/${encodeURIComponent(name)}`, 'x');
        assert.equal(up.status, 201, name);
        const stored = ((await up.json()) as { path: string }).path.split('/').pop() ?? '';
        const r = await fetch(fsUrl(`/acme/inbox/${encodeURIComponent(stored)}`), { headers: bearer(alice) });
        assert.equal(r.status, 200, name);
        const cd = r.headers.get('content-disposition') ?? '';
        assert.match(cd, /^attachment; filename=/, name);
        assert.ok(!/[\r\n]/.test(cd) && /^[\x20-\x7e]*$/.test(cd), `${name}: ${cd}`);
        if (/[^\x20-\x7e]/.test(stored))
          assert.ok(
            cd.includes(`filename*=UTF-8''${encodeURIComponent(stored).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`),
            `${name}: ${cd}`,
          );
      }
    });

    it('keeps what a principal may not see hidden (404) and refuses what it sees but may not do (403)', async () => {
      await put(alice, '/acme/inbox/secret.txt', 'secret');
      const cases: [string, string, RequestInit, number, string][] = [
        ['bob reads alice’s file', '/acme/inbox/secret.txt', { headers: bearer(bob) }, 404, 'NOT_FOUND'],
        ['bob lists alice’s folder', '/acme/inbox/', { headers: bearer(bob) }, 404, 'NOT_FOUND'],
        ['bob writes into it', '/acme/inbox/x.txt', { method: 'PUT', headers: bearer(bob), body: 'x' }, 404, 'NOT_FOUND'],
        ['bob deletes in it', '/acme/inbox/secret.txt', { method: 'DELETE', headers: bearer(bob) }, 404, 'NOT_FOUND'],
        ['alice writes to a read-only folder', '/acme/outbox/x.txt', { method: 'PUT', headers: bearer(alice), body: 'x' }, 403, 'PERMISSION_DENIED'],
        ['nobody reads without credentials', '/acme/inbox/secret.txt', {}, 401, 'UNAUTHENTICATED'],
        ['a forged token reads nothing', '/acme/inbox/secret.txt', { headers: bearer('slc_forged') }, 401, 'UNAUTHENTICATED'],
        ['Basic auth is not a way in', '/acme/inbox/secret.txt', { headers: { authorization: 'Basic cm9vdDpyb290' } }, 401, 'UNAUTHENTICATED'],
      ];
      const before = await tree(s.t);
      for (const [what, p, init, status, code] of cases) {
        const r = await fetch(fsUrl(p), init);
        assert.equal(r.status, status, what);
        assert.equal(errorCode(await r.json()), code, what);
        if (status === 401) assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/, what);
      }
      assert.deepEqual(await tree(s.t), before);
    });

    it('concurrent uploads of one name: the last complete one wins, never a mix', async () => {
      const a = Buffer.alloc(1024 * 1024 + 1, 0x61);
      const b = Buffer.alloc(1024 * 1024 + 2, 0x62);
      const c = Buffer.alloc(777, 0x63);
      const results = await Promise.all([put(alice, '/acme/inbox/race.bin', a), put(alice, '/acme/inbox/race.bin', b), put(alice, '/acme/inbox/race.bin', c)]);
      for (const r of results) assert.equal(r.status, 201);
      const got = Buffer.from(await (await fetch(fsUrl('/acme/inbox/race.bin'), { headers: bearer(alice) })).arrayBuffer());
      assert.ok(got.equals(a) || got.equals(b) || got.equals(c), `mixed content: ${got.length} bytes`);
      const list = (await (await fetch(fsUrl('/acme/inbox/'), { headers: bearer(alice) })).json()) as { entries: { name: string; sha256: string }[] };
      const entries = list.entries.filter((e) => e.name === 'race.bin');
      assert.equal(entries.length, 1);
      assert.equal(entries[0]?.sha256, sha256(got));
    });
  });
}
