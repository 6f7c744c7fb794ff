import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, TEST_PASSWORD, type TestInstance } from '../helpers/instance.js';
import type { Principal } from '../../src/core/index.js';

const ctx = { protocol: 'sftp' as const, remoteAddr: '203.0.113.66', client: 'SSH-2.0-evil' };

for (const dialect of DIALECTS) {
  describe(`canaries and decoys (${dialect})`, () => {
    let t: TestInstance;
    let intruder: Principal;
    before(async () => {
      t = await testInstance(dialect);
      await t.core.admin.orgs.create(t.system, { name: 'Reha' });
      await t.core.admin.folders.create(t.system, '/reha/archiv', { org: 'Reha' });
      intruder = await t.user('reha1', { org: 'Reha' });
      await t.core.admin.grants.set(t.system, 'org:Reha', '/reha', 'list,read');
      await t.core.files.upload(
        t.system,
        '/reha/archiv/normal.csv',
        (async function* () {
          yield Buffer.from('a;b\n');
        })(),
      );
    });
    after(() => t.cleanup());

    it('a canary looks like data; reading it alerts at once and blocks further downloads', async () => {
      const { fileId } = await t.core.canaries.plant(t.system, '/reha/archiv/abrechnung-2025-Q4.csv', 'archive bait');
      const listed = await t.core.canaries.list(t.system);
      assert.deepEqual(
        listed.map((c) => [c.fileId, c.path]),
        [[fileId, '/reha/archiv/abrechnung-2025-Q4.csv']],
      );
      const d = await t.core.files.openDownload(intruder, '/reha/archiv/abrechnung-2025-Q4.csv');
      const chunks: Buffer[] = [];
      for await (const c of d.stream) chunks.push(c as Buffer);
      assert.match(Buffer.concat(chunks).toString().split('\n')[0]!, /^versichertennummer;name;vorname;geburtsdatum/);
      const alert = (await t.core.audit.events(t.system, { action: 'alert' })).find((e) => e.detail.code === 'CANARY_READ');
      assert.ok(alert, 'CANARY_READ alert in the ledger');
      assert.equal(alert.detail.login, 'reha1');
      await assert.rejects(t.core.files.openDownload(intruder, '/reha/archiv/normal.csv'), { code: 'RATE_LIMITED' });
      await t.core.budgets.lift(t.system, 'user:reha1');
      const ok = await t.core.files.openDownload(intruder, '/reha/archiv/normal.csv');
      ok.stream.resume();
      await ok.finished;
    });

    it('a decoy account fails every attempt like a wrong password, and alerts', async () => {
      await t.core.admin.users.create(t.system, { login: 'backup-admin', org: 'Reha', decoy: true });
      await assert.rejects(t.core.auth.password('backup-admin', TEST_PASSWORD, ctx), { code: 'UNAUTHENTICATED', message: 'invalid credentials' });
      await assert.rejects(t.core.auth.password('backup-admin', '', ctx), { code: 'UNAUTHENTICATED' });
      const alerts = (await t.core.audit.events(t.system, { action: 'alert' })).filter((e) => e.detail.code === 'DECOY_LOGIN');
      assert.equal(alerts.length, 1, 'the well-formed attempt alerts (an empty password is refused before any lookup)');
      assert.equal(alerts[0]!.detail.remoteAddr, '203.0.113.66');
      await assert.rejects(t.core.admin.users.update(t.system, 'backup-admin', { status: 'active' }), { code: 'INVALID_INPUT' });
      await assert.rejects(t.core.admin.users.create(t.system, { login: 'trap2', org: 'Reha', decoy: true, password: 'a password long enough' }), {
        code: 'INVALID_INPUT',
      });
      const users = await t.core.admin.users.list(t.system);
      assert.equal(users.find((u) => u.login === 'backup-admin')!.status, 'decoy');
    });
  });
}
