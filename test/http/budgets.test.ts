import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, errorCode, serve, tokenFor, type Served } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`HTTP download budgets (${dialect})`, () => {
    let s: Served;
    before(async () => {
      s = await serve(dialect, { SLUICE_BUDGET_USER_FILES: '3' });
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Apo' });
      await s.t.core.admin.folders.create(s.t.system, '/apo', { org: 'Apo' });
      await s.t.user('apo', { org: 'Apo' });
      await s.t.core.admin.grants.set(s.t.system, 'apo', '/apo', 'list,read');
      for (let i = 0; i < 5; i++) {
        await s.t.core.files.upload(
          s.t.system,
          `/apo/r${i}.txt`,
          (async function* () {
            yield Buffer.from(`report ${i}`);
          })(),
        );
      }
      await s.t.user('root', { role: 'admin' });
    });
    after(() => s.close());

    it('answers 429 once the budget is used up, until an administrator lifts it', async () => {
      const tok = await tokenFor(s.t, 'apo');
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${s.base}/api/v1/fs/apo/r${i}.txt`, { headers: bearer(tok) });
        statuses.push(r.status);
        if (r.status === 429) assert.equal(errorCode(await r.json()), 'RATE_LIMITED');
        else await r.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const admin = await tokenFor(s.t, 'root');
      const trips = (await (await fetch(`${s.base}/api/v1/admin/budgets`, { headers: bearer(admin) })).json()) as {
        scope: string;
        detail: { label: string };
      }[];
      assert.equal(trips.length, 1);
      assert.equal(trips[0]!.detail.label, 'user apo');
      const lift = await fetch(`${s.base}/api/v1/admin/budgets/lift`, {
        method: 'POST',
        headers: { ...bearer(admin), 'content-type': 'application/json' },
        body: JSON.stringify({ scope: 'user:apo' }),
      });
      assert.equal(lift.status, 200);
      assert.deepEqual(await lift.json(), { lifted: 1 });
      // The window still holds 3 files: a new file trips again; that is the point of a budget.
      assert.equal((await fetch(`${s.base}/api/v1/fs/apo/r4.txt`, { headers: bearer(tok) })).status, 429);
    });
  });
}
