// A path the parser rejects is an attempt like any other: the ledger records it (denied, with the
// raw input escaped), on both dialects, and the chain still verifies afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { CoreError, type Principal } from '../../src/core/index.js';
import { printable } from '../../src/core/gate.js';

async function* none(): AsyncIterable<Uint8Array> {}

describe('printable: client input as stored in the ledger', () => {
  it('escapes controls, DEL, C1 and unpaired surrogates; keeps the rest', () => {
    assert.equal(printable('/a/b.csv'), '/a/b.csv');
    assert.equal(printable('/a\u0000b'), '/a\\u{0}b');
    assert.equal(printable('x\r\n2026-01-01 admin login OK'), 'x\\u{d}\\u{a}2026-01-01 admin login OK');
    assert.equal(printable('\u007f\u0085\u001b[31m'), '\\u{7f}\\u{85}\\u{1b}[31m');
    assert.equal(printable('a\ud800b'), 'a\\u{d800}b');
    assert.equal(printable('a\udc00'), 'a\\u{dc00}');
    assert.equal(printable('Ärztekammer 😀'), 'Ärztekammer 😀');
    const long = printable('/' + 'x'.repeat(10_000));
    assert.equal(long.length, 513);
    assert.ok(long.endsWith('…'));
  });
});

for (const dialect of DIALECTS) {
  describe(`invalid paths are recorded (${dialect})`, () => {
    let t: TestInstance;
    let alice: Principal;
    before(async () => {
      t = await testInstance(dialect);
      await t.core.admin.orgs.create(t.system, { name: 'Acme', ik: '123456780' });
      await t.core.admin.folders.create(t.system, '/acme/inbox', { org: 'Acme' });
      alice = await t.user('alice', { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'alice', '/acme/inbox', 'list,read,write,delete');
    });
    after(() => t.cleanup());

    const denials = async () => (await t.core.audit.events(t.system, { limit: 10_000 })).filter((e) => e.outcome === 'denied' && e.login === 'alice');

    it('every operation records its rejected path before throwing INVALID_PATH', async () => {
      const bad = '/acme/inbox/../../etc/passwd';
      const ops: [string, () => Promise<unknown>][] = [
        ['folder.list', () => t.core.files.list(alice, bad)],
        ['file.stat', () => t.core.files.stat(alice, bad)],
        ['file.read', () => t.core.files.openDownload(alice, bad)],
        ['file.write', () => t.core.files.upload(alice, bad, none())],
        ['folder.create', () => t.core.files.mkdir(alice, bad)],
        ['file.delete', () => t.core.files.remove(alice, bad)],
        ['entry.rename-from', () => t.core.files.rename(alice, bad, '/acme/inbox/x')],
        ['entry.rename-to', () => t.core.files.rename(alice, '/acme/inbox/x', bad)],
      ];
      for (const [action, op] of ops) {
        const before = (await denials()).length;
        await assert.rejects(op(), (e: unknown) => e instanceof CoreError && e.code === 'INVALID_PATH', action);
        const after = await denials();
        assert.equal(after.length, before + 1, `${action}: one denied event`);
        const ev = after.at(-1)!;
        assert.equal(ev.action, action);
        assert.equal(ev.path, bad);
        assert.equal(ev.detail.reason, 'invalid path');
      }
    });

    it('stores NUL, line breaks and lone surrogates escaped, and the chain verifies', async () => {
      for (const raw of ['/acme/inbox/a\u0000b', '/acme/inbox/x\r\nforged line', '/acme/inbox/\ud800.csv']) {
        await assert.rejects(t.core.files.upload(alice, raw, none()), (e: unknown) => e instanceof CoreError && e.code === 'INVALID_PATH');
        const ev = (await denials()).at(-1)!;
        assert.equal(ev.path, printable(raw));
        assert.ok(!/[\u0000-\u001f]/.test(ev.path ?? ''), 'no control character stored');
      }
      const v = await t.core.audit.verify(t.system);
      assert.equal(v.ok, true);
    });

    it('the root as a file name, or removed, is recorded too', async () => {
      const before = (await denials()).length;
      await assert.rejects(t.core.files.upload(alice, '/', none()), (e: unknown) => e instanceof CoreError && e.code === 'INVALID_PATH');
      await assert.rejects(t.core.files.remove(alice, '/'), (e: unknown) => e instanceof CoreError && e.code === 'PERMISSION_DENIED');
      await assert.rejects(t.core.files.mkdir(alice, '/'), (e: unknown) => e instanceof CoreError && e.code === 'ALREADY_EXISTS');
      assert.equal((await denials()).length, before + 3);
    });
  });
}
