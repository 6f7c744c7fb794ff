import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import type { Principal } from '../../src/core/index.js';

async function* bytes(n: number) {
  yield Buffer.alloc(n, 7);
}

for (const dialect of DIALECTS) {
  describe(`download budgets (${dialect})`, () => {
    let t: TestInstance;
    let thief: Principal; // a stolen partner credential
    let colleague: Principal;
    before(async () => {
      t = await testInstance(dialect, {
        SLUICE_BUDGET_USER_FILES: '5',
        SLUICE_BUDGET_USER_BYTES: '1M',
        SLUICE_BUDGET_ORG_FILES: '8',
        SLUICE_BUDGET_GLOBAL_FILES: '1000',
      });
      await t.core.admin.orgs.create(t.system, { name: 'Klinik' });
      await t.core.admin.folders.create(t.system, '/klinik/out', { org: 'Klinik' });
      thief = await t.user('klinik1', { org: 'Klinik' });
      colleague = await t.user('klinik2', { org: 'Klinik' });
      await t.core.admin.grants.set(t.system, 'org:Klinik', '/klinik/out', 'list,read');
      for (let i = 0; i < 20; i++) await t.core.files.upload(t.system, `/klinik/out/f${String(i).padStart(2, '0')}.csv`, bytes(1000));
      await t.core.files.upload(t.system, '/klinik/out/big.bin', bytes(700_000));
    });
    after(() => t.cleanup());

    const read = (p: Principal, path: string, range?: { start: number; end?: number }) =>
      t.core.files.openDownload(p, path, range ? { range } : {}).then(
        async (d) => {
          d.stream.resume();
          await d.finished;
          return 'ok';
        },
        (e: { code?: string }) => e.code,
      );

    it('a mass download gets at most the budget, trips it, alerts, and stays blocked until lifted', async () => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => read(thief, `/klinik/out/f${String(i).padStart(2, '0')}.csv`)));
      assert.equal(results.filter((r) => r === 'ok').length, 5, results.join(','));
      assert.ok(results.filter((r) => r !== 'ok').every((r) => r === 'RATE_LIMITED'));
      // Ranged reads of a file already started do not count as new files, but the trip holds.
      assert.equal(await read(thief, '/klinik/out/f00.csv', { start: 10, end: 19 }), 'RATE_LIMITED');
      const trips = await t.core.budgets.trips(t.system);
      assert.equal(trips.length, 1);
      assert.equal(trips[0]!.detail.label, 'user klinik1');
      assert.ok((await t.core.audit.events(t.system, { action: 'budget.trip' })).length === 1);
      const alerts = await t.core.audit.events(t.system, { action: 'alert' });
      assert.equal(alerts.at(-1)!.detail.code, 'BUDGET_TRIPPED');
      const denied = (await t.core.audit.events(t.system, { action: 'file.read', login: 'klinik1' })).filter((e) => e.outcome === 'denied');
      assert.equal(denied.length, 8, 'every refused read is in the ledger');
      // The colleague still reads (the organisation budget has room: 8 files).
      assert.equal(await read(colleague, '/klinik/out/f15.csv'), 'ok');
      assert.equal(await read(t.system, '/klinik/out/f16.csv'), 'ok', 'administrators are not budgeted');
      await assert.rejects(t.core.budgets.lift(thief, 'user:klinik1'), { code: 'PERMISSION_DENIED' });
      assert.equal(await t.core.budgets.lift(t.system, 'user:klinik1'), 1);
      assert.equal((await t.core.budgets.trips(t.system)).length, 0);
    });

    it('counts bytes too, and the organisation budget across its users', async () => {
      // klinik1 has used 5 files and ~5 KB; 700 KB fits the 1 MiB byte budget once, not twice.
      await t.core.budgets.lift(t.system, 'user:klinik1').catch(() => 0);
      assert.equal(await read(thief, '/klinik/out/big.bin', { start: 0, end: 399_999 }), 'RATE_LIMITED', 'files: 6th file start');
      await t.core.budgets.lift(t.system, 'user:klinik1');
      assert.equal(await read(thief, '/klinik/out/big.bin', { start: 100 }), 'ok', 'a ranged read from the middle is not a new file');
      assert.equal(await read(thief, '/klinik/out/big.bin', { start: 200 }), 'RATE_LIMITED', 'bytes: 1 MiB crossed');
      await t.core.budgets.lift(t.system, 'user:klinik1');
      // Organisation: 8 files per window over both users; 6 used so far (5 + colleague's 1).
      assert.equal(await read(colleague, '/klinik/out/f17.csv'), 'ok');
      assert.equal(await read(colleague, '/klinik/out/f18.csv'), 'ok');
      assert.equal(await read(colleague, '/klinik/out/f19.csv'), 'RATE_LIMITED');
      const trip = (await t.core.budgets.trips(t.system))[0]!;
      assert.equal(trip.detail.label, 'organisation Klinik');
      assert.equal(await read(thief, '/klinik/out/f19.csv'), 'RATE_LIMITED', 'the organisation trip blocks every user of it');
      await t.core.budgets.lift(t.system, 'org:Klinik');
      await assert.rejects(t.core.budgets.lift(t.system, 'org:Klinik'), { code: 'NOT_FOUND' });
      const v = await t.core.audit.verify(t.system);
      assert.equal(v.ok, true);
    });
  });
}
