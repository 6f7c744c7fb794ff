/**
 * core.auth.publicKey: the signature-less query never authenticates; a signed request is decided
 * from scratch against a key of THAT user (MOV-3 / CVE-2024-5806, Go CVE-2024-45337).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { makeKey, signedData, type TestKey } from '../helpers/ssh-keys.js';
import { ledger } from '../http/helpers.js';

const ctx = { protocol: 'sftp' as const, remoteAddr: '192.0.2.9', client: 'SSH-2.0-TestClient_1.0' };

for (const dialect of DIALECTS) {
  describe(`core public-key sign-in (${dialect})`, () => {
    let t: TestInstance;
    let alice: TestKey, aliceEcdsa: TestKey, aliceRsa: TestKey, bob: TestKey, evil: TestKey, carol: TestKey;
    const sid = randomBytes(32);

    const signedBy = (signer: TestKey, user: string, key: TestKey = signer, algorithm = key.algorithm, session = sid) => {
      const data = signedData(session, user, algorithm, key.blob);
      return { login: user, algorithm, keyBlob: key.blob, signedData: data, signature: signer.sign(data) };
    };
    const denied = { code: 'UNAUTHENTICATED', message: 'invalid credentials' };

    before(async () => {
      t = await testInstance(dialect);
      await t.user('alice', { org: 'Acme' });
      await t.user('bob', { org: 'Acme' });
      await t.user('carol', { org: 'Other' });
      [alice, aliceEcdsa, aliceRsa, bob, evil, carol] = [
        makeKey('ed25519'),
        makeKey('ecdsa'),
        makeKey('rsa'),
        makeKey('ed25519'),
        makeKey('ed25519'),
        makeKey('ed25519'),
      ];
      await t.core.admin.keys.add(t.system, 'alice', alice.line);
      await t.core.admin.keys.add(t.system, 'alice', aliceEcdsa.line);
      await t.core.admin.keys.add(t.system, 'alice', aliceRsa.line);
      await t.core.admin.keys.add(t.system, 'bob', bob.line);
      await t.core.admin.keys.add(t.system, 'carol', carol.line);
    });
    after(() => t.cleanup());

    it("a query (no signature) only says whether the key is one of the user's, and never signs anyone in; a refused one is a failed sign-in", async () => {
      const before = (await ledger(t)).length;
      const q = (login: string, k: TestKey, algorithm = k.algorithm) => t.core.auth.publicKey({ login, algorithm, keyBlob: k.blob }, ctx);
      assert.deepEqual(await q('alice', alice), { kind: 'acceptable' });
      assert.deepEqual(await q('ALICE ', alice), { kind: 'acceptable' }, 'the login is canonicalised as for passwords');
      assert.deepEqual(await q('alice', aliceRsa), { kind: 'acceptable' });
      assert.deepEqual(await q('alice', aliceRsa, 'rsa-sha2-512'), { kind: 'acceptable' });
      assert.deepEqual(await q('alice', aliceRsa, 'ssh-rsa'), { kind: 'unknown' }, 'SHA-1 RSA signatures are not offered PK_OK');
      assert.deepEqual(await q('alice', bob), { kind: 'unknown' }, "another user's key");
      assert.deepEqual(await q('alice', evil), { kind: 'unknown' });
      assert.deepEqual(await q('nobody', evil), { kind: 'unknown' }, 'an unknown user answers like a wrong key');
      assert.deepEqual(await q('', evil), { kind: 'unknown' });
      assert.deepEqual(await q('alice', alice, 'ecdsa-sha2-nistp256'), { kind: 'unknown' }, 'the algorithm must match the key');
      for (const r of [await q('alice', alice), await q('nobody', alice)]) assert.ok(!('principal' in r));
      // A query for one of the user's keys writes nothing; every refused one is a failed sign-in.
      const written = (await ledger(t)).slice(before);
      assert.equal(written.length, 7, 'one failure per refused query, none for an acceptable key');
      for (const e of written) {
        assert.equal(e.action, 'auth.login');
        assert.equal(e.outcome, 'failure');
        assert.equal(JSON.parse(e.detail).query, true);
      }
      const reasons = written.map((e) => JSON.parse(e.detail).reason as string);
      assert.deepEqual(reasons, [
        'signature algorithm not accepted',
        'key not registered for this user',
        'key not registered for this user',
        'unknown user',
        'unknown user',
        'key not registered for this user',
        'unknown user',
      ]);
    });

    it('a correctly signed request with a key of that user signs in, recorded with method, fingerprint and client', async () => {
      for (const k of [alice, aliceEcdsa, aliceRsa]) {
        const r = await t.core.auth.publicKey(signedBy(k, 'alice'), ctx);
        assert.equal(r.kind, 'signed-in');
        assert.ok(r.kind === 'signed-in');
        assert.equal(r.principal.login, 'alice');
        assert.equal(r.principal.method, 'publickey');
        assert.equal(r.principal.protocol, 'sftp');
        assert.equal(r.principal.client, ctx.client);
      }
      const rsa512 = signedBy(aliceRsa, 'alice', aliceRsa, 'rsa-sha2-512');
      const data = rsa512.signedData;
      assert.equal((await t.core.auth.publicKey({ ...rsa512, signature: aliceRsa.sign(data, 'sha512') }, ctx)).kind, 'signed-in');
      const ev = (await ledger(t, { action: 'auth.login' })).filter((e) => e.outcome === 'success' && e.actor_login === 'alice');
      const detail = JSON.parse(ev.at(-1)!.detail) as Record<string, unknown>;
      assert.equal(ev.at(-1)!.protocol, 'sftp');
      assert.equal(detail.method, 'publickey');
      assert.equal(detail.client, ctx.client);
      assert.match(String(detail.fingerprint), /^SHA256:[A-Za-z0-9+/]{43}$/);
      const keys = await t.core.admin.keys.list(t.system, 'alice');
      assert.ok(keys.some((k) => k.fingerprint === detail.fingerprint));
    });

    it('fails, with the same message, for every wrong combination (MOV-3a-e)', async () => {
      const cases: [string, Parameters<typeof t.core.auth.publicKey>[0], string][] = [
        ['a key authorized for nobody, validly signed (MOV-3a)', signedBy(evil, 'alice'), 'key not authorized for this user'],
        ["another user's key, validly signed (MOV-3b, Go CVE-2024-45337)", signedBy(bob, 'alice'), 'key not authorized for this user'],
        ["the user's key, signed by another key (MOV-3d)", signedBy(evil, 'alice', alice), 'bad signature'],
        [
          'a signature made for another session (MOV-3e)',
          { ...signedBy(alice, 'alice'), signedData: signedData(randomBytes(32), 'alice', alice.algorithm, alice.blob) },
          'bad signature',
        ],
        [
          'a signature made for another user (MOV-3e)',
          { ...signedBy(alice, 'alice'), signature: alice.sign(signedData(sid, 'bob', alice.algorithm, alice.blob)) },
          'bad signature',
        ],
        [
          'a signature made for another service (MOV-3e)',
          { ...signedBy(alice, 'alice'), signature: alice.sign(signedData(sid, 'alice', alice.algorithm, alice.blob, 'ssh-userauth')) },
          'bad signature',
        ],
        ['an unknown user', signedBy(evil, 'mallory'), 'unknown user'],
        [
          'an RSA signature with SHA-1 (ssh-rsa)',
          { ...signedBy(aliceRsa, 'alice', aliceRsa, 'ssh-rsa'), signature: aliceRsa.sign(signedData(sid, 'alice', 'ssh-rsa', aliceRsa.blob), 'sha1') },
          'signature algorithm not accepted',
        ],
        ['a key blob labelled with another algorithm', signedBy(aliceRsa, 'alice', aliceRsa, 'ssh-ed25519'), 'key not authorized for this user'],
        ['an empty signature', { ...signedBy(alice, 'alice'), signature: Buffer.alloc(0) }, 'malformed signature'],
        ['signed data but no signature', { ...signedBy(alice, 'alice'), signature: undefined }, 'malformed signature'],
        ['a NUL in the user name', signedBy(alice, 'alice\0'), 'unknown user'],
      ];
      for (const [what, req, reason] of cases) {
        await assert.rejects(t.core.auth.publicKey(req, ctx), denied, what);
        const last = (await ledger(t, { action: 'auth.login' })).at(-1)!;
        assert.equal(last.outcome, 'failure', what);
        const d = JSON.parse(last.detail) as Record<string, unknown>;
        assert.equal(d.method, 'publickey', what);
        assert.equal(d.reason, reason, what);
        assert.equal(d.client, ctx.client, what);
      }
    });

    it('key bytes are only parsed, never used as a name or path (MOV-3f)', async () => {
      for (const blob of ['', 'C:\\MOVEitTransfer\\Logs\\DMZ_WEB.log', '/etc/ssh/ssh_host_ed25519_key', 'file:///etc/passwd', 'A'.repeat(1 << 20)]) {
        const keyBlob = Buffer.from(blob);
        assert.deepEqual(await t.core.auth.publicKey({ login: 'alice', algorithm: 'ssh-ed25519', keyBlob }, ctx), { kind: 'unknown' });
        await assert.rejects(
          t.core.auth.publicKey({ login: 'alice', algorithm: 'ssh-ed25519', keyBlob, signature: Buffer.alloc(64), signedData: Buffer.from('x') }, ctx),
          denied,
        );
      }
    });

    it('a disabled user, or a user of a disabled organisation, fails like a wrong key; the query stays a plain yes/no', async () => {
      await t.core.admin.users.update(t.system, 'bob', { status: 'disabled' });
      assert.deepEqual(await t.core.auth.publicKey({ login: 'bob', algorithm: bob.algorithm, keyBlob: bob.blob }, ctx), { kind: 'acceptable' });
      await assert.rejects(t.core.auth.publicKey(signedBy(bob, 'bob'), ctx), denied);
      assert.equal(JSON.parse((await ledger(t, { action: 'auth.login' })).at(-1)!.detail).reason, 'user disabled');
      await t.core.admin.users.update(t.system, 'bob', { status: 'active' });
      assert.equal((await t.core.auth.publicKey(signedBy(bob, 'bob'), ctx)).kind, 'signed-in');

      await t.core.admin.orgs.update(t.system, 'Other', { status: 'disabled' });
      await assert.rejects(t.core.auth.publicKey(signedBy(carol, 'carol'), ctx), denied);
      assert.equal(JSON.parse((await ledger(t, { action: 'auth.login' })).at(-1)!.detail).reason, 'organisation disabled');
      await t.core.admin.orgs.update(t.system, 'Other', { status: 'active' });
    });

    it('a removed key stops working at once', async () => {
      const k = makeKey('ed25519');
      const added = await t.core.admin.keys.add(t.system, 'carol', k.line);
      assert.equal((await t.core.auth.publicKey(signedBy(k, 'carol'), ctx)).kind, 'signed-in');
      await t.core.admin.keys.remove(t.system, 'carol', added.id);
      assert.deepEqual(await t.core.auth.publicKey({ login: 'carol', algorithm: k.algorithm, keyBlob: k.blob }, ctx), { kind: 'unknown' });
      await assert.rejects(t.core.auth.publicKey(signedBy(k, 'carol'), ctx), denied);
    });

    it('resolveClientPath: REALPATH semantics, clamped at the root', async () => {
      const { resolveClientPath } = await import('../../src/core/index.js');
      assert.equal(resolveClientPath('.'), '/');
      assert.equal(resolveClientPath(''), '/');
      assert.equal(resolveClientPath('a/./b/../c'), '/a/c');
      assert.equal(resolveClientPath('/../../etc/passwd'), '/etc/passwd');
      assert.equal(resolveClientPath('/acme/inbox/../../other/x/'), '/other/x');
      assert.throws(() => resolveClientPath('a\\..\\b'), { code: 'INVALID_PATH' });
      assert.throws(() => resolveClientPath('a/\u0000/b'), { code: 'INVALID_PATH' });
    });
  });
}
