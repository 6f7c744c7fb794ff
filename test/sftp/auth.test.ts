/**
 * SFTP authentication at the SSH message level: the MOV-3 recipe (CVE-2024-5806) and Go's
 * CVE-2024-45337 — a signature-less public-key query never authenticates, a signature by a key
 * that is not that user's fails — plus "none", username changes, password sign-in with the same
 * lockout as HTTP, disabled users, and the attempt limit. Every failure ends in USERAUTH_FAILURE
 * or a disconnect, and no session channel opens afterwards.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sign as cryptoSign, createPrivateKey } from 'node:crypto';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { ledger } from '../http/helpers.js';
import { serveSftp, type SftpServed } from './helpers.js';
import { connect, RawSftp, RawSsh, userKey, type UserKey } from './raw.js';

/** Signs like an SSH client: raw Ed25519 signature. */
const signer = (k: UserKey) => (data: Buffer) => k.parsed.sign(data);
/** A signature over the right request but made for another session id. */
const replayed = (k: UserKey) => (data: Buffer) => {
  const sidLen = data.readUInt32BE(0);
  const other = Buffer.from(data);
  for (let i = 4; i < 4 + sidLen; i++) other[i] = other[i]! ^ 0xff;
  return k.parsed.sign(other);
};

for (const dialect of DIALECTS) {
  describe(`sftp authentication (${dialect})`, () => {
    let s: SftpServed;
    let alice: UserKey, bob: UserKey, evil: UserKey;

    before(async () => {
      s = await serveSftp(dialect, { env: { SLUICE_LOCKOUT_THRESHOLD: '3' }, limits: { maxAuthAttempts: 6 } });
      const { t } = s;
      await t.core.admin.folders.create(t.system, '/shared');
      for (const u of ['alice', 'bob', 'carol']) await t.user(u, { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'org:Acme', '/shared', 'list,read,write');
      [alice, bob, evil] = [userKey(), userKey(), userKey()];
      await t.core.admin.keys.add(t.system, 'alice', alice.publicLine);
      await t.core.admin.keys.add(t.system, 'bob', bob.publicLine);
    });
    after(() => s?.close());

    /** Runs one attack on a fresh connection; asserts it ends without a session. */
    async function attack(steps: (c: RawSsh) => Promise<void>) {
      const c = await RawSsh.connect(s.port);
      try {
        await steps(c);
        assert.equal(await c.openSession(), false, 'no session channel after a failed authentication');
      } finally {
        c.close();
      }
    }
    const failed = (r: string, what: string) => assert.ok(r === 'failure' || r === 'disconnect', `${what}: got ${r}`);

    it('control: the right key, queried then signed, signs in and opens a session', async () => {
      const c = await RawSsh.connect(s.port);
      assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
      assert.equal(await c.signed('alice', alice.publicLine, signer(alice)), 'success');
      assert.equal(await c.openSession(), true);
      c.close();
    });

    it('MOV-3a: an unsigned query for an empty user, then a signed request for alice with an unauthorized key', async () => {
      await attack(async (c) => {
        failed(await c.query('', evil.publicLine), 'query for ""');
        failed(await c.signed('alice', evil.publicLine, signer(evil)), 'signed with K_evil');
      });
      await attack(async (c) => failed(await c.signed('alice', evil.publicLine, signer(evil)), 'signed with K_evil, no query'));
    });

    it("MOV-3b / Go CVE-2024-45337: alice's key accepted in a query, then used for bob", async () => {
      await attack(async (c) => {
        assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
        failed(await c.signed('bob', alice.publicLine, signer(alice)), "bob with alice's key");
      });
      await attack(async (c) => failed(await c.signed('bob', alice.publicLine, signer(alice)), "bob with alice's key, no query"));
    });

    it('MOV-3c: a query for the right key, then a signed request with another key', async () => {
      await attack(async (c) => {
        assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
        failed(await c.signed('alice', evil.publicLine, signer(evil)), 'K_evil after PK_OK for K_alice');
      });
    });

    it("MOV-3d/e: alice's key with a signature by another key, for another session, user or service", async () => {
      await attack(async (c) => failed(await c.signed('alice', alice.publicLine, signer(evil)), 'signature by K_evil'));
      await attack(async (c) => failed(await c.signed('alice', alice.publicLine, replayed(alice)), 'signature for another session'));
      await attack(async (c) =>
        failed(
          await c.signed('alice', alice.publicLine, (data) => {
            // The same request signed for user "bob" (same length as alice? no: rebuild the user field).
            const sid = data.readUInt32BE(0);
            const at = 4 + sid + 1;
            const userLen = data.readUInt32BE(at);
            const rest = data.subarray(at + 4 + userLen);
            const other = Buffer.concat([data.subarray(0, at), Buffer.from([0, 0, 0, 3]), Buffer.from('bob'), rest]);
            return alice.parsed.sign(other);
          }),
          'signature over another user',
        ),
      );
    });

    it('MOV-3f: key blobs that are paths, text or garbage never authenticate and are never opened', async () => {
      const rsaBlob = userKey('rsa').parsed.getPublicSSH();
      const blobs: [string, Buffer][] = [
        ['ssh-ed25519', Buffer.alloc(0)],
        ['ssh-ed25519', Buffer.from('C:\\MOVEitTransfer\\Logs\\DMZ_WEB.log')],
        ['ssh-rsa', Buffer.from('/var/log/mft/web.log')],
        ['ssh-ed25519', Buffer.from('\\\\127.0.0.1\\share\\k.ppk')],
        ['ssh-ed25519', Buffer.from('file:///etc/ssh/ssh_host_ed25519_key.pub')],
        ['ssh-ed25519', Buffer.from('PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: none\r\n')],
        ['ssh-ed25519', Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\n')],
        ['ssh-ed25519', Buffer.alloc(30 * 1024, 'A')],
        ['ssh-ed25519', rsaBlob],
        ['ssh-ed25519', alice.parsed.getPublicSSH().subarray(0, 20)],
      ];
      for (const [algo, blob] of blobs) {
        await attack(async (c) => failed(await c.rawPublicKey('alice', algo, blob), `query, ${algo} blob ${blob.subarray(0, 24).toString('latin1')}`));
        await attack(async (c) =>
          failed(await c.rawPublicKey('alice', algo, blob, Buffer.alloc(64, 1)), `signed, ${algo} blob ${blob.subarray(0, 24).toString('latin1')}`),
        );
      }
      // The real key through the same raw path works (the raw requests are well formed).
      const c = await RawSsh.connect(s.port);
      assert.equal(await c.rawPublicKey('alice', 'ssh-ed25519', alice.parsed.getPublicSSH()), 'pk_ok');
      c.close();
      // The server is still up and serves the real user.
      (await connect(s.port, 'alice', { key: alice })).end();
    });

    it('MOV-3g: user name variants resolve to the same account at every step, or to none', async () => {
      for (const u of ['Alice', 'ALICE', ' alice']) {
        const c = await RawSsh.connect(s.port);
        assert.equal(await c.query(u, alice.publicLine), 'pk_ok', u);
        assert.equal(await c.signed(u, alice.publicLine, signer(alice)), 'success', u);
        c.close();
      }
      for (const u of ['alice\0', 'alice@corp', 'CORP\\alice', '\u0430lice', '\uff41\uff4c\uff49\uff43\uff45']) {
        await attack(async (c) => {
          failed(await c.query(u, alice.publicLine), `query as ${JSON.stringify(u)}`);
          failed(await c.signed(u, alice.publicLine, signer(alice)), `signed as ${JSON.stringify(u)}`);
        });
      }
    });

    it('MOV-3h: "none" never succeeds; switching to another user or method mid-way does not help', async () => {
      await attack(async (c) => failed(await c.none('alice'), 'none'));
      await attack(async (c) => {
        assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
        // A changed user name mid-authentication: ssh2 disconnects (as OpenSSH does).
        failed(await c.password('bob', TEST_PASSWORD), 'password for bob after a query for alice');
      });
      await attack(async (c) => {
        failed(await c.none('bob'), 'none');
        failed(await c.signed('alice', alice.publicLine, signer(alice)), 'alice after bob');
      });
    });

    it('MOV-3i: USERAUTH_SUCCESS sent by the client opens nothing', async () => {
      await attack(async (c) => {
        c.sendType(52);
        await new Promise((r) => setTimeout(r, 200));
      });
    });

    it('password sign-in uses the core: same lockout as HTTP, same answer for every failure', async () => {
      const ok = await connect(s.port, 'carol', { password: TEST_PASSWORD });
      ok.end();
      for (let i = 0; i < 3; i++) await attack(async (c) => failed(await c.password('carol', 'wrong password!!'), 'wrong password'));
      await attack(async (c) => failed(await c.password('carol', TEST_PASSWORD), 'right password while locked out'));
      // The lockout is the account's, whatever the protocol.
      const res = await fetch(`${s.httpBase}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'carol', password: TEST_PASSWORD }),
      });
      assert.equal(res.status, 401);
      await s.t.core.admin.users.update(s.t.system, 'carol', { unlock: true });
      (await connect(s.port, 'carol', { password: TEST_PASSWORD })).end();
      await attack(async (c) => failed(await c.password('nobody', TEST_PASSWORD), 'unknown user'));
    });

    it('a disabled user fails like a wrong key, and is recorded with the reason', async () => {
      await s.t.core.admin.users.update(s.t.system, 'bob', { status: 'disabled' });
      await attack(async (c) => {
        assert.equal(await c.query('bob', bob.publicLine), 'pk_ok', 'the query only says whose key it is');
        failed(await c.signed('bob', bob.publicLine, signer(bob)), 'disabled user');
      });
      const last = (await ledger(s.t, { action: 'auth.login' })).at(-1)!;
      assert.equal(last.outcome, 'failure');
      assert.equal(last.protocol, 'sftp');
      const d = JSON.parse(last.detail) as Record<string, unknown>;
      assert.equal(d.reason, 'user disabled');
      assert.equal(d.method, 'publickey');
      assert.equal(d.client, 'SSH-2.0-RawTest_1.0');
      assert.match(String(d.fingerprint), /^SHA256:/);
      await s.t.core.admin.users.update(s.t.system, 'bob', { status: 'active' });
    });

    it('the connection is cut after too many failed attempts', async () => {
      const c = await RawSsh.connect(s.port);
      const answers: string[] = [];
      for (let i = 0; i < 10 && !c.disconnected; i++)
        answers.push(i % 2 ? await c.query('alice', evil.publicLine) : await c.signed('alice', evil.publicLine, signer(evil)));
      c.close();
      assert.ok(c.disconnected, `still connected after ${answers.length} failures`);
      assert.ok(answers.filter((a) => a === 'failure').length <= 6, answers.join(','));
    });

    it('every attempt is in the ledger; a query leaves nothing', async () => {
      const before = (await ledger(s.t)).length;
      const c = await RawSsh.connect(s.port);
      assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
      c.close();
      assert.equal((await ledger(s.t)).length, before, 'a query is no sign-in and writes nothing');
      const fails = (await ledger(s.t, { action: 'auth.login' })).filter((e) => e.outcome === 'failure' && e.protocol === 'sftp');
      const reasons = new Set(fails.map((e) => JSON.parse(e.detail).reason as string));
      for (const r of ['key not authorized for this user', 'bad signature', 'unknown user', 'wrong password', 'locked out'])
        assert.ok(reasons.has(r), `a failure with reason "${r}" (have: ${[...reasons].join(', ')})`);
    });

    it('an ECDSA or RSA (SHA-2) key works through ssh2, RSA SHA-1 signatures do not', async () => {
      const rsa = userKey('rsa');
      await s.t.core.admin.keys.add(s.t.system, 'carol', rsa.publicLine);
      const c = await connect(s.port, 'carol', { key: rsa });
      const sftp = await RawSftp.open(c);
      sftp.end();
      await attack(async (r) => {
        failed(
          await r.signed('carol', rsa.publicLine, (data) => cryptoSign('sha1', data, createPrivateKey(rsa.parsed.getPrivatePEM())), 'ssh-rsa'),
          'RSA with SHA-1',
        );
      });
    });
  });
}
