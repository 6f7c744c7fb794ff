/**
 * GET /api/v1/fs-ops/zip: several files and folders as one zip stream, every file read through
 * the core as a download (authorized, in the ledger, counted by the budgets), through real HTTP.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, serve, sha256, tokenFor, type Served } from './helpers.js';

/** The entries of a zip archive (stored entries, no ZIP64: small test archives), from its central directory. */
function unzip(buf: Buffer): Map<string, Buffer> {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'end of central directory present');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50, 'central directory header');
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    assert.equal(method, 0, `${name} is stored`);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    out.set(name, buf.subarray(data, data + size));
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

for (const dialect of DIALECTS) {
  describe(`zip downloads (${dialect})`, () => {
    let s: Served;
    let tok: string;
    const files: Record<string, Buffer> = {};
    const put = async (path: string, data: Buffer) => {
      const r = await fetch(`${s.base}/api/v1/fs${path}`, { method: 'PUT', headers: bearer(tok), body: data });
      assert.equal(r.status, 201);
      files[path] = data;
    };
    const zipOf = (token: string, ...paths: string[]) =>
      fetch(`${s.base}/api/v1/fs-ops/zip?${paths.map((p) => `path=${encodeURIComponent(p)}`).join('&')}`, { headers: bearer(token) });

    before(async () => {
      s = await serve(dialect, { SLUICE_BUDGET_USER_FILES: '12' });
      const sys = s.t.system;
      await s.t.core.admin.orgs.create(sys, { name: 'Acme', ik: '123456780' });
      await s.t.core.admin.folders.create(sys, '/acme', { org: 'Acme' });
      await s.t.user('ann', { org: 'Acme' });
      await s.t.core.admin.grants.set(sys, 'ann', '/acme', 'list,read,write,delete');
      await s.t.core.admin.orgs.create(sys, { name: 'Other', betriebsnummer: '98000006' });
      await s.t.core.admin.folders.create(sys, '/other', { org: 'Other' });
      tok = await tokenFor(s.t, 'ann');
      for (const f of ['/acme/in', '/acme/in/sub', '/acme/in/empty']) {
        assert.equal(
          (
            await fetch(`${s.base}/api/v1/fs-ops/mkdir`, {
              method: 'POST',
              headers: { ...bearer(tok), 'content-type': 'application/json' },
              body: JSON.stringify({ path: f }),
            })
          ).status,
          201,
        );
      }
      await put('/acme/top.csv', Buffer.from('a;b\n1;2\n'));
      await put('/acme/in/big.bin', randomBytes(3 * 1024 * 1024 + 17));
      await put('/acme/in/small.txt', Buffer.from('hello'));
      await put('/acme/in/sub/deep.bin', randomBytes(70_000));
    });
    after(() => s.close());

    it('streams the selected files and folders, each byte as stored, as an attachment', async () => {
      const r = await zipOf(tok, '/acme/top.csv', '/acme/in');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/zip');
      assert.match(r.headers.get('content-disposition') ?? '', /^attachment; filename="?files\.zip"?$/);
      const entries = unzip(Buffer.from(await r.arrayBuffer()));
      assert.deepEqual([...entries.keys()].sort(), ['in/big.bin', 'in/empty/', 'in/small.txt', 'in/sub/deep.bin', 'top.csv']);
      assert.equal(sha256(entries.get('top.csv')!), sha256(files['/acme/top.csv']!));
      assert.equal(sha256(entries.get('in/big.bin')!), sha256(files['/acme/in/big.bin']!));
      assert.equal(sha256(entries.get('in/small.txt')!), sha256(files['/acme/in/small.txt']!));
      assert.equal(sha256(entries.get('in/sub/deep.bin')!), sha256(files['/acme/in/sub/deep.bin']!));
      // Every file was read as a download: one file.read event each, with its sha256.
      const reads = (await s.t.core.audit.events(s.t.system, { action: 'file.read', limit: 10_000 })).filter((e) => e.outcome === 'success');
      for (const path of ['/acme/top.csv', '/acme/in/big.bin', '/acme/in/small.txt', '/acme/in/sub/deep.bin']) {
        const mine = reads.filter((e) => e.path === path);
        assert.equal(mine.length, 1, path);
        assert.equal(mine[0]!.sha256, sha256(files[path]!));
      }
      const single = await zipOf(tok, '/acme/in/sub');
      assert.match(single.headers.get('content-disposition') ?? '', /filename="?sub\.zip"?$/);
      assert.deepEqual([...unzip(Buffer.from(await single.arrayBuffer())).keys()], ['sub/deep.bin']);
    });

    it('a path that cannot be seen is 404 before anything is sent', async () => {
      assert.equal((await zipOf(tok, '/acme/nope.txt')).status, 404);
      assert.equal((await zipOf(tok, '/other')).status, 404);
      assert.equal((await fetch(`${s.base}/api/v1/fs-ops/zip?path=/acme/top.csv`)).status, 401);
    });

    it('the download budget counts every file of an archive and cuts the stream when it trips', async () => {
      // A budget of 12 files per user: archives of 4 files until one is cut when the budget trips.
      const complete = (b: Buffer) => b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) !== -1;
      let cut = false;
      for (let i = 0; i < 5 && !cut; i++) {
        const r = await zipOf(tok, '/acme/in', '/acme/top.csv');
        assert.equal(r.status, 200);
        // Cut: the connection breaks off, or what arrived is no complete archive (no end record).
        const got = await r.arrayBuffer().then(
          (b) => Buffer.from(b),
          (e: unknown) => e,
        );
        cut = !(got instanceof Buffer) || !complete(got);
      }
      assert.ok(cut, 'an archive was cut');
      const trips = await s.t.core.budgets.trips(s.t.system);
      assert.ok(trips.length >= 1, 'the budget tripped');
      // Never more files handed out than the budget allows: every archive's files were counted.
      const reads = (await s.t.core.audit.events(s.t.system, { action: 'file.read', limit: 10_000 })).filter((e) => e.outcome === 'success');
      assert.ok(reads.length <= 12, `${reads.length} reads within a budget of 12`);
      assert.equal((await fetch(`${s.base}/api/v1/fs/acme/top.csv`, { headers: bearer(tok) })).status, 429);
    });
  });
}
