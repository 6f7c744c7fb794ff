/**
 * Data-subject metadata on HTTP uploads: X-Sluice-Records and X-Sluice-Categories are stored
 * with the file (validated as the CLI's --records/--categories, by the core), invalid values
 * answer 400 INVALID_INPUT and store nothing, and incident scope counts the data subjects of a
 * file that came in over HTTP and left again. One real server per dialect.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, errorCode, serve, tokenFor, type Served } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`HTTP upload metadata (${dialect})`, () => {
    let s: Served;
    let alice: string; // partner of Acme, may write /acme/inbox
    let reader: string; // staff of Rechenzentrum, may read /acme/inbox
    const fsUrl = (p: string) => `${s.base}/api/v1/fs${p}`;
    const put = (p: string, body: string, headers: Record<string, string> = {}) =>
      fetch(fsUrl(p), { method: 'PUT', headers: { ...bearer(alice), ...headers }, body });
    /** The metadata incident scope sees for a file, from alice's upload of it since `t0`. */
    const metadataOf = async (p: string, t0: number): Promise<[number | null, readonly string[]] | undefined> => {
      const scope = await s.t.core.incident.scope(s.t.system, { from: t0, to: Date.now() + 1, users: ['alice'] });
      const w = scope.writes.find((x) => x.path === p);
      return w ? [w.dataSubjects, w.dataCategories] : undefined;
    };
    const blobFiles = (): number => {
      const dir = path.join(s.t.dataDir, 'blobs');
      return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length : 0;
    };

    before(async () => {
      s = await serve(dialect);
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Acme', contacts: [{ email: 'dpo@acme.example' }] });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      await t.user('alice', { org: 'Acme' });
      await t.user('rz', { org: 'Rechenzentrum', role: 'staff' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write');
      await t.core.admin.grants.set(t.system, 'rz', '/acme/inbox', 'list,read');
      [alice, reader] = await Promise.all([tokenFor(t, 'alice'), tokenFor(t, 'rz')]);
    });
    after(() => s.close());

    it('stores X-Sluice-Records and X-Sluice-Categories with the file (categories case-folded, deduplicated)', async () => {
      const t0 = Date.now();
      const r = await put('/acme/inbox/claims.csv', 'a;b\n', { 'x-sluice-records': '1200', 'x-sluice-categories': 'health, Billing,health' });
      assert.equal(r.status, 201);
      assert.deepEqual(await metadataOf('/acme/inbox/claims.csv', t0), [1200, ['health', 'billing']]);
      const plain = await put('/acme/inbox/plain.csv', 'x');
      assert.equal(plain.status, 201);
      assert.deepEqual(await metadataOf('/acme/inbox/plain.csv', t0), [null, []]);
      const zero = await put('/acme/inbox/zero.csv', 'x', { 'x-sluice-records': '0' });
      assert.equal(zero.status, 201);
      assert.deepEqual(await metadataOf('/acme/inbox/zero.csv', t0), [0, []]);
    });

    it('refuses invalid metadata with 400 INVALID_INPUT and stores nothing', async () => {
      const bad: Record<string, string>[] = [
        { 'x-sluice-records': '-1' },
        { 'x-sluice-records': '12.5' },
        { 'x-sluice-records': '1e3' },
        { 'x-sluice-records': '' },
        { 'x-sluice-records': '1234567890123' },
        { 'x-sluice-records': '0x10' },
        { 'x-sluice-categories': '' },
        { 'x-sluice-categories': 'health,,billing' },
        { 'x-sluice-categories': 'health;billing' },
        { 'x-sluice-categories': '<script>' },
        { 'x-sluice-categories': 'a'.repeat(33) },
        { 'x-sluice-categories': Array.from({ length: 21 }, (_, i) => `c${i}`).join(',') },
      ];
      const t0 = Date.now();
      const blobsBefore = blobFiles();
      for (const [i, h] of bad.entries()) {
        const r = await put(`/acme/inbox/bad-${i}.csv`, 'secret', h);
        assert.equal(r.status, 400, JSON.stringify(h));
        const body = (await r.json()) as { error: { message: string } };
        assert.equal(errorCode(body), 'INVALID_INPUT');
        assert.ok(!body.error.message.includes('<script>'), 'the value is not echoed');
      }
      assert.equal(blobFiles(), blobsBefore, 'no blob was stored');
      const scope = await s.t.core.incident.scope(s.t.system, { from: t0, to: Date.now() + 1, users: ['alice'] });
      assert.deepEqual(scope.writes, [], 'no file was written');
      const ls = (await (await fetch(fsUrl('/acme/inbox/'), { headers: bearer(alice) })).json()) as { entries: { name: string }[] };
      assert.ok(!ls.entries.some((e) => e.name.startsWith('bad-')));
    });

    it('the OpenAPI document lists both headers on the upload', async () => {
      const doc = (await (await fetch(`${s.base}/api/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
      };
      const put = Object.entries(doc.paths).find(([p, ops]) => p.startsWith('/api/v1/fs/') && ops.put)?.[1].put;
      const headers = (put?.parameters ?? [])
        .filter((x) => x.in === 'header')
        .map((x) => x.name)
        .sort();
      assert.deepEqual(headers, ['x-sluice-categories', 'x-sluice-records']);
    });

    it('incident scope counts the data subjects of a file uploaded over HTTP once it is read', async () => {
      const t0 = Date.now();
      const up = await put('/acme/inbox/members-2026.csv', 'id;diagnosis\n', { 'x-sluice-records': '4711', 'x-sluice-categories': 'health,insurance-number' });
      assert.equal(up.status, 201);
      const dl = await fetch(fsUrl('/acme/inbox/members-2026.csv'), { headers: bearer(reader) });
      assert.equal(dl.status, 200);
      await dl.arrayBuffer();
      const scope = await s.t.core.incident.scope(s.t.system, { from: t0, to: Date.now() + 1, users: ['rz'] });
      assert.deepEqual(
        scope.reads.map((r) => [r.path, r.dataSubjects, r.dataCategories]),
        [['/acme/inbox/members-2026.csv', 4711, ['health', 'insurance-number']]],
      );
      assert.equal(scope.organisations.length, 1);
      assert.equal(scope.organisations[0]!.org, 'Acme');
      assert.equal(scope.organisations[0]!.dataSubjects, 4711);
      assert.deepEqual(scope.organisations[0]!.dataCategories, ['health', 'insurance-number']);
      assert.equal(scope.totals.dataSubjects, 4711);
    });
  });
}
