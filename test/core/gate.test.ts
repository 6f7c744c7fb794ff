/**
 * The gate (core/gate.ts): scopes only it can issue, every denial recorded, and principals
 * re-checked (at most a second old) on every operation.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { CoreError, type Principal } from '../../src/core/index.js';
import { isScope, Scope } from '../../src/core/gate.js';

const code = (c: string) => (e: unknown) => e instanceof CoreError && e.code === c;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('scopes', () => {
  it('cannot be made outside the gate', () => {
    const Forge = Scope as unknown as new (...a: unknown[]) => Scope;
    assert.throws(() => new Forge(Symbol('the gate'), {}, {}, 'user.create'), /issued only by the gate/);
    assert.equal(isScope({ principal: {}, action: 'user.create' }), false);
    assert.equal(isScope(Object.create(Scope.prototype) as object), false);
  });
});

for (const dialect of DIALECTS) {
  describe(`the gate (${dialect})`, () => {
    let t: TestInstance;
    let pat: Principal;
    const denials = async (login: string) =>
      (await t.core.audit.events(t.system, { limit: 10_000 })).filter((e) => e.outcome === 'denied' && e.login === login);

    before(async () => {
      t = await testInstance(dialect);
      await t.core.admin.orgs.create(t.system, { name: 'Gatehouse', ik: '123456780' });
      await t.core.admin.folders.create(t.system, '/gatehouse/in', { org: 'Gatehouse' });
      pat = await t.user('pat', { org: 'Gatehouse' });
      await t.core.admin.grants.set(t.system, 'pat', '/gatehouse/in', 'list,read,write');
    });
    after(() => t.cleanup());

    it('records every denial of an administrative action, metrics included', async () => {
      const before = (await denials('pat')).length;
      await assert.rejects(t.core.admin.users.list(pat), code('PERMISSION_DENIED'));
      await assert.rejects(t.core.ops.metrics(pat), code('PERMISSION_DENIED'));
      await assert.rejects(t.core.lockdown.set(pat, { mode: 'closed' }), code('PERMISSION_DENIED'));
      const d = (await denials('pat')).slice(before);
      assert.deepEqual(
        d.map((e) => e.action),
        ['user.list', 'metrics.read', 'lockdown.set'],
      );
      assert.equal(d[0]!.detail.why, 'not an administrator');
      await t.core.ops.metrics(t.system);
    });

    it("one's own tokens pass; another user's are refused (recorded) or not found", async () => {
      await t.user('quinn', { org: 'Gatehouse' });
      const own = await t.core.admin.tokens.create(pat, undefined, { name: 'script' });
      assert.equal((await t.core.admin.tokens.list(pat, 'pat')).length, 1);
      await assert.rejects(t.core.admin.tokens.create(pat, 'quinn'), code('PERMISSION_DENIED'));
      const theirs = await t.core.admin.tokens.create(t.system, 'quinn');
      await assert.rejects(t.core.admin.tokens.revoke(pat, theirs.info.id), code('NOT_FOUND'));
      const d = (await denials('pat')).slice(-2);
      assert.deepEqual(
        d.map((e) => [e.action, e.detail.reason]),
        [
          ['token.create', 'forbidden'],
          ['token.revoke', 'hidden'],
        ],
      );
      await t.core.admin.tokens.revoke(pat, own.info.id);
    });

    it('a token cannot create a token that outlives it', async () => {
      const t30 = await t.core.admin.tokens.create(pat, undefined, { expiresInMs: 30 * 86_400_000 });
      const viaToken = await t.core.auth.token(t30.token, { protocol: 'http', remoteAddr: '127.0.0.1' });
      await assert.rejects(t.core.admin.tokens.create(viaToken, undefined, { expiresInMs: 2 * 365 * 86_400_000 }), code('INVALID_INPUT'));
      const short = await t.core.admin.tokens.create(viaToken, undefined, { expiresInMs: 86_400_000 });
      assert.ok(short.info.expiresAt! <= t30.info.expiresAt!);
    });

    it('a principal that is no longer valid is refused within a second, and it is recorded', async () => {
      const cases: [string, (login: string) => Promise<unknown>][] = [
        ['user disabled', (l) => t.core.admin.users.update(t.system, l, { status: 'disabled' })],
        ['role changed', (l) => t.core.admin.users.update(t.system, l, { role: 'staff' })],
        ['organisation disabled', () => t.core.admin.orgs.update(t.system, 'Gatehouse 2', { status: 'disabled' })],
      ];
      await t.core.admin.orgs.create(t.system, { name: 'Gatehouse 2', betriebsnummer: '98000006' });
      for (const [why, revoke] of cases) {
        const login = `v-${why.split(' ')[0]}`;
        const org = why.startsWith('organisation') ? 'Gatehouse 2' : 'Gatehouse';
        const p = await t.user(login, { org });
        await t.core.admin.grants.set(t.system, login, '/gatehouse/in', 'list');
        await t.core.files.list(p, '/gatehouse/in');
        await revoke(login);
        const start = Date.now();
        let refused: unknown;
        while (!refused && Date.now() - start < 2000) {
          await t.core.files.list(p, '/gatehouse/in').catch((e: unknown) => (refused = e));
          if (!refused) await sleep(50);
        }
        assert.ok(code('UNAUTHENTICATED')(refused), `${why}: refused within 2 s`);
        const last = (await denials(login)).at(-1)!;
        assert.equal(last.detail.reason, 'principal no longer valid', why);
        assert.equal(last.detail.why, why);
      }
    });
  });
}
