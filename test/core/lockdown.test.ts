import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, TEST_PASSWORD, type TestInstance } from '../helpers/instance.js';
import { openInstance, type Instance } from '../../src/app/instance.js';
import type { Principal } from '../../src/core/index.js';

async function* one(s: string) {
  yield Buffer.from(s);
}
const sftp = { protocol: 'sftp' as const, remoteAddr: '198.51.100.9' };

for (const dialect of DIALECTS) {
  describe(`lockdown and kill switches (${dialect})`, () => {
    let t: TestInstance;
    let other: Instance; // a second node on the same database and data directory
    let pat: Principal;
    let admin: Principal;
    before(async () => {
      t = await testInstance(dialect);
      other = await openInstance(t.config);
      await t.core.admin.orgs.create(t.system, { name: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/in', { org: 'Acme' });
      pat = await t.user('pat', { org: 'Acme' });
      admin = await t.user('boss', { role: 'admin' });
      await t.core.admin.grants.set(t.system, 'pat', '/acme/in', 'all');
      await t.core.files.upload(pat, '/acme/in/a.txt', one('a'));
    });
    after(async () => {
      await t.core.lockdown.set(t.system, { mode: 'off' });
      await other.close();
      await t.cleanup();
    });

    it('closed: partners can do nothing and cannot sign in; administrators keep access', async () => {
      await t.core.lockdown.set(admin, { mode: 'closed', reason: 'incident 42' });
      await assert.rejects(t.core.files.list(pat, '/acme/in'), { code: 'LOCKED' });
      await assert.rejects(t.core.files.openDownload(pat, '/acme/in/a.txt'), { code: 'LOCKED' });
      await assert.rejects(t.core.auth.password('pat', TEST_PASSWORD, sftp), { code: 'LOCKED' });
      await assert.rejects(
        t.core.auth.password('pat', 'a wrong password', sftp),
        { code: 'UNAUTHENTICATED' },
        'a wrong password learns nothing about the lockdown',
      );
      assert.equal((await t.core.files.list(admin, '/acme/in')).entries.length, 1);
      assert.equal((await t.core.auth.password('boss', TEST_PASSWORD, sftp)).login, 'boss');
      const s = await t.core.lockdown.status(t.system);
      assert.equal(s.mode, 'closed');
      assert.equal(s.reason, 'incident 42');
      assert.equal(s.by, 'boss');
    });

    it('read-only and ingest-only let through exactly what they name', async () => {
      await t.core.lockdown.set(t.system, { mode: 'read-only' });
      await t.core.files.openDownload(pat, '/acme/in/a.txt').then((d) => d.stream.resume());
      await assert.rejects(t.core.files.upload(pat, '/acme/in/b.txt', one('b')), { code: 'LOCKED' });
      await assert.rejects(t.core.files.remove(pat, '/acme/in/a.txt'), { code: 'LOCKED' });
      await t.core.lockdown.set(t.system, { mode: 'ingest-only' });
      await t.core.files.upload(pat, '/acme/in/b.txt', one('b'));
      assert.equal((await t.core.files.list(pat, '/acme/in')).entries.length, 2);
      await assert.rejects(t.core.files.openDownload(pat, '/acme/in/a.txt'), { code: 'LOCKED' });
      await t.core.lockdown.set(t.system, { mode: 'off' });
      await t.core.files.openDownload(pat, '/acme/in/a.txt').then((d) => d.stream.resume());
    });

    it('a protocol switched off refuses that protocol only', async () => {
      const viaSftp = await t.core.auth.password('pat', TEST_PASSWORD, sftp);
      await t.core.lockdown.setProtocol(t.system, 'sftp', false);
      await assert.rejects(t.core.files.list(viaSftp, '/acme/in'), { code: 'LOCKED' });
      assert.equal((await t.core.files.list(pat, '/acme/in')).entries.length, 2, 'HTTP still works');
      await t.core.lockdown.setProtocol(t.system, 'sftp', true);
      assert.equal((await t.core.files.list(viaSftp, '/acme/in')).entries.length, 2);
      await assert.rejects(t.core.lockdown.setProtocol(t.system, 'gopher', false), { code: 'INVALID_INPUT' });
      await assert.rejects(t.core.lockdown.set(pat, { mode: 'off' }), { code: 'PERMISSION_DENIED' });
    });

    it('reaches another node within two seconds, and every change is in the ledger', async () => {
      const patThere = await other.core.auth.password('pat', TEST_PASSWORD, sftp);
      await other.core.files.list(patThere, '/acme/in'); // warms that node's cache: open
      const t0 = Date.now();
      await t.core.lockdown.set(t.system, { mode: 'closed' });
      for (;;) {
        const r = await other.core.files.list(patThere, '/acme/in').then(
          () => 'open',
          (e: { code?: string }) => e.code,
        );
        if (r === 'LOCKED') break;
        assert.ok(Date.now() - t0 < 2000, 'locked within 2 s on the other node');
        await new Promise((res) => setTimeout(res, 50));
      }
      await t.core.lockdown.set(t.system, { mode: 'off' });
      const events = await t.core.audit.events(t.system, { action: 'lockdown.on' });
      assert.ok(events.length >= 4);
      assert.ok((await t.core.audit.events(t.system, { action: 'protocol.disable' })).length >= 1);
      const denied = (await t.core.audit.events(t.system, { login: 'pat' })).filter((e) => e.detail.reason === 'lockdown');
      assert.ok(denied.length >= 3);
    });
  });
}

describe('lockdown stops transfers already running', () => {
  it('a download and an upload in progress are cut within two seconds', async () => {
    const t = await testInstance('sqlite');
    try {
      await t.core.admin.orgs.create(t.system, { name: 'Run' });
      await t.core.admin.folders.create(t.system, '/run', { org: 'Run' });
      const u = await t.user('runner', { org: 'Run' });
      await t.core.admin.grants.set(t.system, 'runner', '/run', 'all');
      await t.core.files.upload(
        t.system,
        '/run/big.bin',
        (async function* () {
          for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, i);
        })(),
      );
      const d = await t.core.files.openDownload(u, '/run/big.bin');
      const up = await t.core.files.openUpload(u, '/run/incoming.bin');
      // Read slowly: one chunk, then the lockdown, then keep reading.
      const it = d.stream[Symbol.asyncIterator]();
      await it.next();
      await up.write(Buffer.alloc(1000));
      await t.core.lockdown.set(t.system, { mode: 'closed' });
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 1100));
      await assert.rejects(
        (async () => {
          for (;;) if ((await it.next()).done) break;
        })(),
        { code: 'LOCKED' },
      );
      await assert.rejects(up.write(Buffer.alloc(1000)), { code: 'LOCKED' });
      assert.ok(Date.now() - t0 < 2000);
      await assert.rejects(t.core.files.stat(t.system, '/run/incoming.bin'), { code: 'NOT_FOUND' });
      await d.finished;
      const end = await t.core.audit.events(t.system, { action: 'file.read.end' });
      assert.equal(end.at(-1)!.outcome, 'failure', 'the cut download is recorded as incomplete');
    } finally {
      await t.cleanup();
    }
  });
});
