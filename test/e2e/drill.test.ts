/**
 * The incident drill of issue 4 as an end-to-end test (the scenario is test/e2e/drill-scenario.ts,
 * shared with `npm run drill`): a real `sluice serve` with 1,000 files of 20 partners, a stolen
 * partner credential mass-downloading over SFTP and HTTP from 127.0.0.2, then budget, alerts,
 * incident scope, notification, lockdown and backup → restore → verify with the real CLI. The
 * time bounds (alert ≤ 10 s, scope < 60 s, lockdown < 2 s) are the functional
 * requirements; the measured durations are printed as diagnostics.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { runDrill } from './drill-scenario.js';

for (const dialect of DIALECTS) {
  describe(`incident drill (${dialect})`, () => {
    it('a stolen credential gets at most the budget; alerts, scope, notify, lockdown, backup → restore → verify all hold', { timeout: 300_000 }, async (t) => {
      const r = await runDrill({ dialect, pgUrl: process.env.SLUICE_TEST_PG_URL });
      for (const [name, ms] of Object.entries(r.timings)) t.diagnostic(`${name}: ${ms} ms`);
      for (const c of r.checks) t.diagnostic(`${c.pass ? 'PASS' : 'FAIL'} [${c.step}] ${c.expectation}: ${c.measured}`);
      assert.ok(r.checks.length >= 25, `every step ran (${r.checks.length} checks)`);
      assert.deepEqual(
        r.checks.filter((c) => !c.pass).map((c) => `[${c.step}] ${c.expectation}: ${c.measured}`),
        [],
      );
      assert.equal(r.ok, true);
    });
  });
}
