/**
 * Attack corpus §2.7, Citrix ShareFile StorageZones Controller (rows 23–24): forged opaque
 * tokens (CVE-2023-24489: AES-CBC without integrity; CVE-2021-22941) and upload identifiers and
 * "unzip on upload" options that became paths in a served directory.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import yazl from 'yazl';
import { DIALECTS } from '../helpers/dialects.js';
import { attackTarget, TEST_PASSWORD, type Target } from './harness.js';

function zipOf(entries: Record<string, string>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [n, c] of Object.entries(entries)) z.addBuffer(Buffer.from(c), n);
  z.end();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => chunks.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** Variants of a token: every byte flipped (at most `max` positions), truncated, extended, halves swapped. */
function tampered(tok: string, max = 48): string[] {
  const out = new Set<string>();
  const step = Math.max(1, Math.floor(tok.length / max));
  for (let i = 0; i < tok.length; i += step) {
    const c = tok[i]!;
    out.add(tok.slice(0, i) + (c === 'A' ? 'B' : 'A') + tok.slice(i + 1));
  }
  for (let n = 1; n <= 16; n++) out.add(tok.slice(0, -n));
  out.add(tok + 'A');
  out.add(tok + '==');
  const h = Math.floor(tok.length / 2);
  out.add(tok.slice(h) + tok.slice(0, h));
  out.delete(tok);
  return [...out];
}

for (const dialect of DIALECTS) {
  describe(`attacks: Citrix ShareFile (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    it('CVE-2023-24489, CVE-2021-22941 (SF-a): tampered tokens, session ids and cursors get one uniform refusal', async () => {
      const bodies = new Set<string>();
      for (const t of tampered(x.tokens.alice)) {
        const r = await x.http('GET', '/api/v1/fs/acme/inbox/', { headers: { authorization: `Bearer ${t}` } });
        assert.equal(r.status, 401, t);
        x.safe(r, 'tampered token');
        bodies.add(r.text);
      }
      assert.equal(bodies.size, 1, `the refusals differ: ${[...bodies].join(' | ')}`);
      const login = await x.http('POST', '/api/v1/auth/login', { json: { login: 'alice', password: TEST_PASSWORD } });
      const sid = /sluice_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
      assert.ok(sid, 'a session cookie');
      const cookieBodies = new Set<string>();
      for (const t of tampered(sid)) {
        const r = await x.http('GET', '/api/v1/auth/me', { headers: { cookie: `sluice_session=${t}` } });
        assert.equal(r.status, 401, t);
        cookieBodies.add(r.text);
      }
      assert.equal(cookieBodies.size, 1);
      // Listing cursors are opaque too: a forged one never opens another folder.
      for (let i = 0; i < 5; i++) await x.http('PUT', `/api/v1/fs/acme/inbox/page-${i}.txt`, { token: x.tokens.alice, body: 'p' });
      const page = JSON.parse((await x.http('GET', '/api/v1/fs/acme/inbox/?limit=2', { token: x.tokens.alice })).text) as { next?: string };
      assert.ok(page.next, 'a cursor');
      for (const c of [...tampered(page.next, 16), Buffer.from('{"folder":"/beta/inbox","after":""}').toString('base64url'), '../../beta', '']) {
        const r = await x.http('GET', `/api/v1/fs/acme/inbox/?limit=2&cursor=${encodeURIComponent(c)}`, { token: x.tokens.alice });
        assert.ok(r.status === 200 || r.status === 400, `cursor ${c}: ${r.status}`);
        x.clean(r.text, 'cursor');
        if (r.status === 200)
          for (const e of (JSON.parse(r.text) as { entries: { path?: string; name: string }[] }).entries) assert.notEqual(e.name, 'secret.txt');
      }
    });

    it('CVE-2023-24489 (SF-b, SF-c): upload ids, chunk names and unzip options never become paths; archives are stored, not extracted', async () => {
      const before = (await x.snapshot()).rows.folders;
      for (const q of [
        'uploadid=x\\..\\..\\..\\cifs',
        'uploadId=../../beta/inbox',
        'chunk=../../x',
        'unzip=on',
        'extract=true',
        'expand=1',
        'raw=1&parentid=AAAA',
        'filename=../../x.aspx',
      ]) {
        const zip = await zipOf({ 'beta/inbox/zipslip.txt': 'slip', 'autorun/x.txt': 'x', 'ok.txt': 'ok' });
        const r = await x.http('PUT', `/api/v1/fs/acme/inbox/up.zip?${q}`, { token: x.tokens.alice, body: zip });
        assert.ok(r.status === 201 || r.status === 400, `${q}: ${r.status} ${r.text}`);
        if (r.status === 201) assert.equal((JSON.parse(r.text) as { path: string }).path, '/acme/inbox/up.zip');
      }
      for (const u of [
        '/documentum/upload.aspx?parentid=x&raw=1&unzip=on&uploadid=x\\..\\..\\cifs&filename=x.aspx',
        '/api/v1/uploads/../../x',
        '/api/v1/upload?uploadId=../x',
      ]) {
        const r = await x.http('POST', u, { token: x.tokens.alice, body: 'x', headers: { 'content-type': 'application/octet-stream' } });
        assert.ok(r.status === 404 || r.status === 400, `${u}: ${r.status}`);
      }
      assert.deepEqual((await x.snapshot()).rows.folders, before, 'an archive was extracted into folders');
      const bob = JSON.parse((await x.http('GET', '/api/v1/fs/beta/inbox/', { token: x.tokens.bob })).text) as { entries: { name: string }[] };
      assert.deepEqual(
        bob.entries.map((e) => e.name),
        ['secret.txt'],
      );
      const mine = JSON.parse((await x.http('GET', '/api/v1/fs/acme/inbox/', { token: x.tokens.alice })).text) as { entries: { name: string }[] };
      assert.ok(!mine.entries.some((e) => e.name === 'ok.txt' || e.name === 'autorun'), 'an archive was extracted');
    });
  });
}
