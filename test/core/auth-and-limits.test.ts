import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, TEST_PASSWORD, type TestInstance } from '../helpers/instance.js';
import type { Principal } from '../../src/core/index.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths } from '../../src/app/instance.js';

async function* bytes(n: number, fill = 1) {
  const chunk = 64 * 1024;
  for (let i = 0; i < n; i += chunk) yield Buffer.alloc(Math.min(chunk, n - i), fill);
}
async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out);
}
const ctx = { protocol: 'http' as const, remoteAddr: '192.0.2.7' };

for (const dialect of DIALECTS) {
  describe(`core auth and limits (${dialect})`, () => {
    let t: TestInstance;
    let carol: Principal;
    before(async () => {
      t = await testInstance(dialect, { SLUICE_MAX_UPLOAD_BYTES: '1M', SLUICE_LOCKOUT_THRESHOLD: '3' });
      await t.core.admin.orgs.create(t.system, { name: 'Small', quotaBytes: 1_500_000 });
      await t.core.admin.folders.create(t.system, '/small/in', { org: 'Small' });
      carol = await t.user('carol', { org: 'Small' });
      await t.core.admin.grants.set(t.system, 'org:Small', '/small/in', 'list,read,write,delete');
    });
    after(() => t.cleanup());

    it('rejects a file over the size limit while streaming, leaving nothing', async () => {
      await assert.rejects(t.core.files.upload(carol, '/small/in/big', bytes(1_100_000)), { code: 'TOO_LARGE' });
      await assert.rejects(t.core.files.upload(carol, '/small/in/big', bytes(10), { expectedSize: 2_000_000 }), { code: 'TOO_LARGE' });
      await assert.rejects(t.core.files.stat(carol, '/small/in/big'), { code: 'NOT_FOUND' });
    });

    it('enforces the organisation quota, also for uploads that each fit', async () => {
      await t.core.files.upload(carol, '/small/in/a', bytes(900_000));
      await assert.rejects(t.core.files.upload(carol, '/small/in/b', bytes(900_000)), { code: 'QUOTA_EXCEEDED' });
      // Replacing a file counts only the difference.
      await t.core.files.upload(carol, '/small/in/a', bytes(950_000));
      await t.core.files.remove(carol, '/small/in/a');
      const [x, y] = await Promise.allSettled([
        t.core.files.upload(carol, '/small/in/x', bytes(800_000)),
        t.core.files.upload(carol, '/small/in/y', bytes(800_000)),
      ]);
      assert.equal([x, y].filter((r) => r.status === 'fulfilled').length, 1, 'exactly one of two racing uploads fits the quota');
      const rejected = [x, y].find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.equal(rejected.reason.code, 'QUOTA_EXCEEDED');
      await t.core.files.remove(carol, x.status === 'fulfilled' ? '/small/in/x' : '/small/in/y');
    });

    it("keeps each organisation's used bytes equal to the sum of its files, and checks the quota on a move", async () => {
      await t.core.admin.orgs.create(t.system, { name: 'Other', quotaBytes: 1_000_000 });
      await t.core.admin.folders.create(t.system, '/other/in', { org: 'Other' });
      const { db, close } = await openDatabase({ url: t.config.databaseUrl, sqlitePath: paths(t.config).sqlite });
      try {
        const usage = async () => {
          const orgs = await t.core.admin.orgs.list(t.system);
          const sums = await db
            .selectFrom('files')
            .select(['org_id', (eb) => eb.fn.sum<number | string>('size').as('s')])
            .groupBy('org_id')
            .execute();
          const summed = new Map(sums.map((r) => [r.org_id, Number(r.s)]));
          for (const o of orgs) assert.equal(o.usedBytes, summed.get(o.id) ?? 0, `usage of ${o.name}`);
          return Object.fromEntries(orgs.map((o) => [o.name, o.usedBytes]));
        };
        const base = (await usage()).Small!;
        await t.core.files.upload(carol, '/small/in/u1', bytes(300_000)); // in the store
        await t.core.files.upload(carol, '/small/in/u2', bytes(1_000)); // inline
        assert.equal((await usage()).Small, base + 301_000);
        await t.core.files.upload(carol, '/small/in/u1', bytes(200_000)); // replaced
        assert.equal((await usage()).Small, base + 201_000);
        // Moved to another organisation: counted there, and only if it fits its quota.
        await t.core.files.rename(t.system, '/small/in/u1', '/other/in/u1');
        assert.deepEqual([(await usage()).Small, (await usage()).Other], [base + 1_000, 200_000]);
        await t.core.files.upload(t.system, '/other/in/big', bytes(799_500)); // 500 bytes left
        await assert.rejects(t.core.files.rename(t.system, '/small/in/u2', '/other/in/u2'), { code: 'QUOTA_EXCEEDED' });
        await t.core.files.upload(carol, '/small/in/u3', bytes(150_000));
        await assert.rejects(t.core.files.rename(t.system, '/small/in/u3', '/other/in/u3'), { code: 'QUOTA_EXCEEDED' });
        // Overwriting a file of the destination frees its bytes first.
        await t.core.files.rename(t.system, '/small/in/u3', '/other/in/u1', { overwrite: true });
        assert.deepEqual([(await usage()).Small, (await usage()).Other], [base + 1_000, 949_500]);
        await t.core.files.remove(carol, '/small/in/u2');
        await t.core.files.remove(t.system, '/other/in/u1');
        await t.core.files.remove(t.system, '/other/in/big');
        assert.deepEqual([(await usage()).Small, (await usage()).Other], [base, 0]);
      } finally {
        await close();
      }
    });

    it('concurrent uploads of one name: the last complete one wins, never mixed', async () => {
      const uploads = [1, 2, 3, 4].map((fill) => t.core.files.upload(carol, '/small/in/same', bytes(200_000, fill)));
      await Promise.all(uploads);
      const got = await readAll((await t.core.files.openDownload(carol, '/small/in/same')).stream);
      assert.equal(got.length, 200_000);
      assert.ok([1, 2, 3, 4].includes(got[0]!));
      assert.ok(
        got.every((b) => b === got[0]),
        'content of exactly one upload',
      );
      const page = await t.core.files.list(carol, '/small/in');
      assert.equal(page.entries.filter((e) => e.name === 'same').length, 1);
    });

    it('rejects ranges beyond the end', async () => {
      await t.core.files.upload(carol, '/small/in/r', bytes(100));
      await assert.rejects(t.core.files.openDownload(carol, '/small/in/r', { range: { start: 100 } }), { code: 'RANGE_NOT_SATISFIABLE' });
      const ok = await t.core.files.openDownload(carol, '/small/in/r', { range: { start: 90, end: 10_000 } });
      assert.equal((await readAll(ok.stream)).length, 10);
    });

    it('locks out after repeated failures, with one message for every failure', async () => {
      await t.user('dave', { org: 'Small' });
      for (let i = 0; i < 3; i++)
        await assert.rejects(t.core.auth.password('dave', 'wrong password!!', ctx), { code: 'UNAUTHENTICATED', message: 'invalid credentials' });
      await assert.rejects(t.core.auth.password('dave', TEST_PASSWORD, ctx), { code: 'UNAUTHENTICATED', message: 'invalid credentials' });
      await assert.rejects(t.core.auth.password('nobody', TEST_PASSWORD, ctx), { code: 'UNAUTHENTICATED', message: 'invalid credentials' });
      await t.core.admin.users.update(t.system, 'dave', { unlock: true });
      assert.equal((await t.core.auth.password('DAVE', TEST_PASSWORD, ctx)).login, 'dave');
    });

    it('tokens: work until revoked, expired or the user is disabled', async () => {
      const erin = await t.user('erin', { org: 'Small' });
      const { token, info } = await t.core.admin.tokens.create(erin, undefined, { expiresInMs: 60_000 });
      assert.equal((await t.core.auth.token(token, ctx)).login, 'erin');
      await t.core.admin.users.update(t.system, 'erin', { status: 'disabled' });
      await assert.rejects(t.core.auth.token(token, ctx), { code: 'UNAUTHENTICATED' });
      await t.core.admin.users.update(t.system, 'erin', { status: 'active' });
      await t.core.admin.tokens.revoke(t.system, info.id);
      await assert.rejects(t.core.auth.token(token, ctx), { code: 'UNAUTHENTICATED' });
      const short = await t.core.admin.tokens.create(t.system, 'erin', { expiresInMs: 1000 });
      await new Promise((r) => setTimeout(r, 1100));
      await assert.rejects(t.core.auth.token(short.token, ctx), { code: 'UNAUTHENTICATED' });
      await assert.rejects(t.core.auth.token('slc_forged', ctx), { code: 'UNAUTHENTICATED' });
    });

    it('non-administrators cannot administer; forged principals are refused', async () => {
      await assert.rejects(t.core.admin.orgs.create(carol, { name: 'Evil' }), { code: 'PERMISSION_DENIED' });
      await assert.rejects(t.core.admin.grants.set(carol, 'carol', '/', 'manage'), { code: 'PERMISSION_DENIED' });
      const forged = { ...carol, role: 'admin' } as unknown as Principal;
      await assert.rejects(t.core.files.list(forged, '/'), { code: 'UNAUTHENTICATED' });
      await assert.rejects(t.core.admin.users.list(forged), { code: 'UNAUTHENTICATED' });
    });

    it('start-up sweep removes blobs of uploads that never committed (crash, kill -9)', async () => {
      // Simulate a crash mid-upload: open an upload, write, and never finish or abort.
      const h = await t.core.files.openUpload(carol, '/small/in/crashed');
      await h.write(Buffer.alloc(70_000, 9));
      await new Promise((r) => setTimeout(r, 50));
      const swept = await t.core.maintenance.sweep();
      assert.ok(swept.removed >= 1, `removed ${swept.removed}`);
      await assert.rejects(t.core.files.stat(carol, '/small/in/crashed'), { code: 'NOT_FOUND' });
      await h.abort('test over').catch(() => undefined);
      const v = await t.core.audit.verify(t.system);
      assert.equal(v.ok, true);
    });
  });
}
