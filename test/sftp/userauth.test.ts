/**
 * Sign-in as OpenSSH's sshd accepts it (issue 15 §1): the ssh-userauth service may be requested
 * again before each attempt (client libraries that do so were disconnected), several keys and
 * methods may be tried in one connection, within the same attempt limit; server-sig-algs (the
 * ssh2 patch) names exactly the signature algorithms the core accepts, comma-separated, without
 * ssh-rsa or ssh-dss. Real clients: OpenSSH sftp with two identities, ssh2; the raw client for the
 * message sequences.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { SIGNATURE_ALGORITHMS } from '../../src/protocols/sftp/server.js';
import { eventually } from '../http/helpers.js';
import { boxUser, serveSftp, sftpBatch, sshKeygen, type SftpServed } from './helpers.js';
import { RawSsh, userKey, type UserKey } from './raw.js';

const signer = (k: UserKey) => (data: Buffer) => k.parsed.sign(data);

describe('sftp sign-in as sshd accepts it (sqlite)', () => {
  let s: SftpServed;
  let lena: UserKey;
  const evil = userKey();

  before(async () => {
    s = await serveSftp('sqlite', { env: { SLUICE_LOCKOUT_THRESHOLD: '50' } });
    lena = await boxUser(s, 'lena');
  });
  after(() => s?.close());

  it('announces server-sig-algs as the list the core accepts: comma-separated, no ssh-rsa, no ssh-dss', async () => {
    const c = await RawSsh.connect(s.port);
    await eventually(() => c.serverSigAlgs !== undefined, 5000, 'EXT_INFO with server-sig-algs');
    c.close();
    assert.deepEqual(c.serverSigAlgs, [...SIGNATURE_ALGORITHMS]);
    for (const a of c.serverSigAlgs!) assert.match(a, /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|rsa-sha2-(256|512))$/, `"${a}"`);
  });

  it('the ssh-userauth service may be requested again before each attempt; another key, then a password, then the right key', async () => {
    const c = await RawSsh.connect(s.port);
    try {
      assert.equal(await c.signed('lena', evil.publicLine, signer(evil)), 'failure');
      assert.ok(await c.serviceAgain(), 'a second service request is accepted');
      assert.equal(await c.password('lena', 'not the password'), 'failure');
      assert.ok(await c.serviceAgain(), 'and a third');
      assert.equal(await c.query('lena', lena.publicLine), 'pk_ok');
      assert.equal(await c.signed('lena', lena.publicLine, signer(lena)), 'success');
      assert.ok(await c.openSession(), 'signed in: a session opens');
      assert.equal(await c.serviceAgain(1000), false, 'after sign-in the service cannot be requested again');
    } finally {
      c.close();
    }
  });

  it('a key, then the password, in one connection', async () => {
    const c = await RawSsh.connect(s.port);
    try {
      assert.equal(await c.query('lena', evil.publicLine), 'failure');
      assert.ok(await c.serviceAgain());
      assert.equal(await c.password('lena', TEST_PASSWORD), 'success');
    } finally {
      c.close();
    }
  });

  it('repeated service requests do not reset the attempt limit', async () => {
    const c = await RawSsh.connect(s.port);
    const answers: string[] = [];
    for (let i = 0; i < 12 && !c.disconnected; i++) {
      answers.push(await c.signed('lena', evil.publicLine, signer(evil)));
      if (!c.disconnected) await c.serviceAgain(1000);
    }
    c.close();
    assert.ok(c.disconnected, `still connected after ${answers.length} attempts`);
    assert.ok(answers.filter((a) => a === 'failure').length <= 6, answers.join(','));
  });

  it('OpenSSH sftp with two identities: the first is not registered, the second signs in', async () => {
    const first = await sshKeygen(s.dir, 'first');
    const second = await sshKeygen(s.dir, 'second');
    await s.t.core.admin.keys.add(s.t.system, 'lena', second.publicLine);
    const r = await sftpBatch(s, 'lena', first, ['ls /box'], ['-i', second.file]);
    assert.equal(r.code, 0, r.stderr);
  });
});
