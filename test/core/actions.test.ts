/**
 * The one table of actions (core/actions.ts): every action has a permission, a lockdown kind and
 * a ledger name; decide() denies what is not in it; the ledger refuses to record it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { ACTIONS, isAction, ledgerName, lockdownKindOf, specOf, type Action, type FileAction } from '../../src/core/actions.js';
import { decide } from '../../src/core/access/decide.js';
import { makeView } from '../../src/core/access/view.js';
import { recordEvent } from '../../src/core/tx.js';
import { systemClock } from '../../src/ports/clock.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths } from '../../src/app/instance.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/ports/db-schema.js';
import { PERMISSIONS } from '../../src/core/access/permissions.js';

describe('the table of actions', () => {
  it('gives every action a permission, a lockdown kind and a ledger name', () => {
    const needs = new Set<string>([...PERMISSIONS, 'visible', 'list-or-read', 'admin', 'self-or-admin', 'web-session', 'user', 'system', 'none']);
    for (const a of Object.keys(ACTIONS) as Action[]) {
      const s = specOf(a);
      assert.ok(needs.has(s.needs), `${a}: needs ${s.needs}`);
      assert.ok(s.lockdown === null || ['list', 'read', 'write', 'modify'].includes(s.lockdown), `${a}: lockdown ${String(s.lockdown)}`);
      assert.match(ledgerName(a), /^[a-z]+(\.[a-z-]+)*$/, a);
      if (s.class === 'file' && s.needs !== 'none') assert.ok(s.on === 'self' || s.on === 'parent', `${a}: a file action names its folder`);
      if (s.class === 'admin') assert.ok(s.needs === 'admin' || s.needs === 'system', `${a}: admin actions need an administrator`);
    }
    assert.equal(lockdownKindOf('file.read'), 'read');
    assert.equal(lockdownKindOf('folder.create'), 'write');
    assert.equal(lockdownKindOf('file.delete'), 'modify');
    assert.equal(lockdownKindOf('user.create'), null);
    assert.equal(ledgerName('admin.folder.create'), 'folder.create');
  });

  it('decide() denies an action that is not a file action of the table', () => {
    const p = { kind: 'user', role: 'partner' } as never;
    const view = makeView([{ folderKey: ['a'], perms: new Set(PERMISSIONS) }]);
    assert.deepEqual(decide(p, view, 'file.read', ['a']), { allow: true });
    assert.deepEqual(decide(p, view, 'file.exec' as FileAction, ['a']), { allow: false, reason: 'unknown-action' });
    assert.deepEqual(decide(p, view, 'user.create' as FileAction, ['a']), { allow: false, reason: 'unknown-action' });
    assert.equal(isAction('toString'), false, 'inherited properties are not actions');
  });
});

for (const dialect of DIALECTS) {
  describe(`the ledger records only actions of the table (${dialect})`, () => {
    let t: TestInstance;
    let raw: { db: Kysely<Database>; close(): Promise<void> };
    before(async () => {
      t = await testInstance(dialect);
      raw = await openDatabase({ url: t.config.databaseUrl, sqlitePath: paths(t.config).sqlite });
    });
    after(async () => {
      await raw.close();
      await t.cleanup();
    });

    it('refuses an unknown action at run time and writes nothing', async () => {
      const head = await raw.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
      await assert.rejects(recordEvent(raw.db, systemClock, { action: 'file.exec' as Action, outcome: 'success' }), /unknown action/);
      await assert.rejects(recordEvent(raw.db, systemClock, { action: '__proto__' as Action, outcome: 'success' }), /unknown action/);
      const after = await raw.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
      assert.equal(Number(after.seq), Number(head.seq));
      // A table action is recorded under its ledger name.
      const seq = await recordEvent(raw.db, systemClock, { action: 'admin.folder.list', outcome: 'success' });
      const row = await raw.db.selectFrom('audit_events').select('action').where('seq', '=', seq).executeTakeFirstOrThrow();
      assert.equal(row.action, 'folder.list');
    });
  });
}
