/**
 * Attack corpus §2.2, Progress MOVEit Transfer (rows 5–10, 36, 47): header confusion and session
 * variables from headers, SQL injection first- and second-order, federated token trust, stored
 * opaque state, web-shell drops, the SFTP public-key authentication bypass (CVE-2024-5806 and Go's
 * CVE-2024-45337, replayed with an SSH client that sends raw USERAUTH_REQUESTs), the SFTP
 * privilege boundary and MFA bypasses.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { DIALECTS } from '../helpers/dialects.js';
import { RawSsh, connect, RawSftp, str, T, u32, WRITE_NEW, type UserKey } from '../sftp/raw.js';
import { ALICE_FILE, attackTarget, BOB_SECRET, TEST_PASSWORD, type Target } from './harness.js';

const signer = (k: UserKey) => (data: Buffer) => k.parsed.sign(data);
const failed = (r: string, what: string) => assert.ok(r === 'failure' || r === 'disconnect', `${what}: got ${r}`);

/** JWTs an attacker would present as "external" tokens (MOV-1c). */
function jwt(header: object, payload: object, sig = ''): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b(header)}.${b(payload)}.${sig}`;
}

for (const dialect of DIALECTS) {
  describe(`attacks: MOVEit Transfer (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect);
    });
    after(() => x?.close());

    /** One raw SSH attack on a fresh connection; it must end without a session channel. */
    async function ssh(steps: (c: RawSsh) => Promise<void>) {
      const c = await RawSsh.connect(x.port);
      try {
        await steps(c);
        assert.equal(await c.openSession(), false, 'no session channel after a failed authentication');
      } finally {
        c.close();
      }
    }

    it('CVE-2023-34362 (MOV-1a, MOV-1f): look-alike, duplicate and secret headers set no session state and authenticate nobody', async () => {
      const before = await x.snapshot();
      const mark = await x.mark();
      const variants: Record<string, string>[] = [
        { 'xx-silock-transaction': 'folder_add_by_path', 'x-silock-transaction': 'session_setvars', 'x-silock-sessvar0': 'MyUsername: root' },
        { 'xx-authorization': `Bearer ${x.tokens.root}` },
        { x_authorization: `Bearer ${x.tokens.root}` },
        { 'x-authorization': `Bearer ${x.tokens.root}` },
        { 'x-sluice-user': 'root', 'x-remote-user': 'root', 'x-forwarded-user': 'root', 'x-auth-user': 'root' },
        { 'x-sluice-comment': 'x', 'x-sluice-step1': 'x', 'x-mft-session': 'root' },
        { cookie: 'sluice_session=root; siLockLongTermInstID=0' },
      ];
      for (const h of variants) {
        for (const url of ['/api/v1/auth/me', '/api/v1/admin/users', '/api/v1/fs/beta/inbox/']) {
          const r = await x.http('GET', url, { headers: h });
          assert.equal(r.status, 401, `${url} ${JSON.stringify(h)}`);
          x.safe(r, `${url} ${JSON.stringify(h)}`);
        }
        // With alice's real token, the extra headers change nothing: bob's folder stays hidden.
        const r = await x.http('GET', '/api/v1/fs/beta/inbox/', { token: x.tokens.alice, headers: h });
        assert.equal(r.status, 404, JSON.stringify(h));
      }
      // Two Authorization headers (a front check may see the first, the app the second).
      for (const [a, b] of [
        [x.tokens.alice, x.tokens.root],
        [x.tokens.root, 'garbage'],
      ]) {
        const r = await x.raw(
          `GET /api/v1/admin/users HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${a}\r\nAuthorization: Bearer ${b}\r\n\r\n`,
        );
        assert.equal(r.status, 400, `two Authorization headers: ${r.status}`);
        x.safe(r, 'two Authorization headers');
      }
      await x.unchanged(before, 'header confusion');
      assert.equal((await x.events(mark, { outcome: 'success' })).filter((e) => e.action.startsWith('auth.')).length, 0, 'nobody signed in');
      await x.healthy();
    });

    it('CVE-2023-34362, CVE-2023-35036, CVE-2023-35708 (MOV-1b, MOV-2): SQL injection in every pre- and post-auth input is inert, also second-order', async () => {
      const sqli = [
        "' OR '1'='1",
        "admin'--",
        "x'); SELECT pg_sleep(3); -- ",
        "x'||(SELECT pg_sleep(3))||'",
        '1; DROP TABLE users; --',
        'name desc, (SELECT 1)',
        '"',
        '\\',
        '`users`',
        "' UNION SELECT password_hash FROM users --",
      ];
      const before = await x.snapshot();
      const t0 = Date.now();
      for (const p of sqli) {
        const login = await x.http('POST', '/api/v1/auth/login', { json: { login: p, password: p } });
        assert.equal(login.status, 401, `login ${p}`);
        x.safe(login, `login ${p}`);
        const second = await x.http('POST', '/api/v1/auth/passkey/second-options', { json: { login: p, password: p } });
        x.safe(second, `passkey second-options ${p}`);
        const bearer = await x.http('GET', '/api/v1/auth/me', { headers: { authorization: `Bearer slc_${encodeURIComponent(p)}` } });
        x.safe(bearer, `bearer ${p}`);
        const cookie = await x.http('GET', '/api/v1/auth/me', {
          headers: { cookie: `sluice_session=${encodeURIComponent(p)}`, 'user-agent': p, referer: p, 'x-forwarded-for': p },
        });
        x.safe(cookie, `cookie ${p}`);
        for (const q of [
          `/api/v1/fs/acme/inbox/?cursor=${encodeURIComponent(p)}`,
          `/api/v1/fs/acme/inbox/?limit=${encodeURIComponent(p)}`,
          `/api/v1/fs-ops/stat?path=${encodeURIComponent('/acme/inbox/' + p)}`,
        ]) {
          const r = await x.http('GET', q, { token: x.tokens.alice });
          assert.ok(r.status < 500, `${q}: ${r.status}`);
          x.clean(r.text, q);
        }
        const oidc = await x.http('GET', `/api/v1/auth/oidc/callback?code=${encodeURIComponent(p)}&state=${encodeURIComponent(p)}`);
        assert.ok(oidc.status < 500, `oidc callback ${p}: ${oidc.status}`);
        x.clean(oidc.text, `oidc callback ${p}`);
      }
      // Time-based payloads add no delay (generous bound: 10 payloads × 6 requests).
      assert.ok(Date.now() - t0 < 20_000, 'a pg_sleep ran');
      await x.unchanged(before, 'SQL injection');
      // Second order: stored by an administrator, then read back through every listing.
      for (const p of sqli.slice(0, 4)) {
        const org = await x.http('POST', '/api/v1/admin/orgs', { token: x.tokens.root, json: { name: `Org ${p}`.slice(0, 100) } });
        assert.ok(org.status === 201 || org.status === 400, `org ${p}: ${org.status} ${org.text}`);
        const user = await x.http('POST', '/api/v1/admin/users', {
          token: x.tokens.root,
          json: { login: `u${sqli.indexOf(p)}`, org: 'Acme', displayName: p, email: 'a@example.org' },
        });
        assert.equal(user.status, 201, user.text);
      }
      const orgs = await x.http('GET', '/api/v1/admin/orgs', { token: x.tokens.root });
      assert.equal(orgs.status, 200);
      const names = JSON.parse(orgs.text) as { orgs?: { name: string }[] } | { name: string }[] as unknown;
      assert.ok(JSON.stringify(names).includes("Org ' OR '1'='1"), 'stored literally');
      const users = await x.http('GET', '/api/v1/admin/users', { token: x.tokens.root });
      assert.equal(users.status, 200);
      assert.ok(users.text.includes("x'); SELECT pg_sleep(3); --"), `display name stored literally: ${users.text.slice(0, 500)}`);
      const events = await x.http('GET', `/api/v1/admin/audit/events?login=${encodeURIComponent("' OR '1'='1")}&action=${encodeURIComponent("x' OR 1=1 --")}`, {
        token: x.tokens.root,
      });
      assert.ok(events.status === 200 || events.status === 400, `audit filter: ${events.status}`);
      if (events.status === 200) assert.ok(!events.text.includes('"seq"'), 'an injected filter matched events');
      // Only the four accounts we created are new; nobody became an administrator.
      const admins = (await x.snapshot()).rows.users!.filter((u) => (u as { role: string }).role === 'admin');
      assert.equal(admins.length, 1);
      await x.healthy();
    });

    it('CVE-2023-34362 (MOV-1c): forged, unsigned and foreign-issuer tokens are refused, nothing is fetched from a token-supplied URL', async () => {
      const before = await x.snapshot();
      const now = Math.floor(Date.now() / 1000);
      const claims = { sub: 'root', iss: x.egress.url, aud: 'sluice', exp: now + 3600, appctx: { amurl: x.egress.url } };
      const tokens = [
        jwt({ alg: 'none', typ: 'JWT' }, claims),
        jwt({ alg: 'HS256', typ: 'JWT' }, claims, 'c2lnbmF0dXJl'),
        jwt({ alg: 'RS256', kid: '../../../../dev/null', jku: x.egress.url, x5u: x.egress.url, x5t: 'x' }, claims, 'c2ln'),
        'slc_' + 'A'.repeat(43),
        'slc_',
        'null',
        'undefined',
        '[object Object]',
        x.tokens.root.slice(0, -1),
        x.tokens.root + 'A',
      ];
      for (const tok of tokens) {
        for (const url of ['/api/v1/auth/me', '/api/v1/admin/users']) {
          const r = await x.http('GET', url, { headers: { authorization: `Bearer ${tok}` } });
          assert.equal(r.status, 401, `${url} with ${tok.slice(0, 30)}`);
          x.safe(r, tok.slice(0, 30));
        }
      }
      for (const body of [
        { grant_type: 'external_token', external_token_type: 'MicrosoftOutlook', external_token: tokens[0] },
        { grant_type: 'password', username: 'root', password: 'x' },
      ]) {
        const r = await x.http('POST', '/api/v1/auth/token', { json: body });
        assert.equal(r.status, 404, 'there is no token-exchange endpoint');
        x.safe(r, 'token endpoint');
      }
      await x.unchanged(before, 'forged tokens');
    });

    it('CVE-2023-34362 (MOV-1d): deserialization gadgets in upload metadata and names are stored as inert data or refused', async () => {
      const gadgets = [
        'rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ==',
        'AAEAAAD/////AQAAAAAAAAAMAgAAAF9TeXN0ZW0=',
        `_$$ND_FUNC$$_function(){require('net').connect(${x.egress.port},'127.0.0.1')}()`,
        '!!js/function >',
        'gASVIQAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==',
      ];
      for (const [i, g] of gadgets.entries()) {
        const name = `gadget-${i}.bin`;
        const r = await x.http('PUT', `/api/v1/fs/acme/inbox/${name}`, {
          token: x.tokens.alice,
          headers: { 'x-sluice-categories': g, 'x-sluice-records': g },
          body: g,
        });
        assert.equal(r.status, 400, `metadata ${g}`);
        x.safe(r, `metadata ${g}`);
        const ok = await x.http('PUT', `/api/v1/fs/acme/inbox/${name}`, { token: x.tokens.alice, body: g });
        assert.equal(ok.status, 201);
        const back = await x.http('GET', `/api/v1/fs/acme/inbox/${name}`, { token: x.tokens.alice });
        assert.equal(back.text, g, 'bytes stored and served as they came');
        assert.match(back.headers.get('content-disposition') ?? '', /^attachment/);
      }
      const proto = await x.http('POST', '/api/v1/fs-ops/mkdir', {
        token: x.tokens.alice,
        body: '{"path":"/acme/inbox/p","__proto__":{"isAdmin":true}}',
        headers: { 'content-type': 'application/json' },
      });
      x.safe(proto, '__proto__');
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      assert.equal(x.egress.hits, 0);
    });

    it('CVE-2023-34362 (MOV-1e): web-shell names land as inert files inside the caller grant, never served inline or as a route', async () => {
      const names = ['human2.aspx', 'shell.jsp', 'x.php', 'x.mjs', 'x.html', 'x.svg', '.htaccess', 'web.config', 'package.json', 'server.js', '.env'];
      for (const n of names) {
        const body = `<script>/* ${n} */</script>`;
        const up = await x.http('PUT', `/api/v1/fs/acme/inbox/${n}`, { token: x.tokens.alice, body });
        assert.equal(up.status, 201, n);
        const get = await x.http('GET', `/api/v1/fs/acme/inbox/${n}`, { token: x.tokens.alice });
        assert.match(get.headers.get('content-disposition') ?? '', /^attachment/, n);
        assert.equal(get.headers.get('x-content-type-options'), 'nosniff');
        assert.match(get.headers.get('content-security-policy') ?? '', /default-src 'none'|sandbox/);
        assert.doesNotMatch(get.headers.get('content-type') ?? '', /html|javascript|svg|xml/, `${n} served as active content`);
        for (const url of [`/${n}`, `/acme/inbox/${n}`, `/api/${n}`, `/static/${n}`]) {
          const r = await x.http('GET', url);
          assert.equal(r.status, 404, url);
        }
      }
      // Over SFTP, a rename into another organisation's folder is refused.
      const sftp = await x.sftp('alice');
      try {
        x.sftpFailed(await sftp.request(T.RENAME, str('/acme/inbox/x.php'), str('/beta/inbox/x.php')), 'rename into /beta');
        x.sftpFailed(await sftp.extended('posix-rename@openssh.com', str('/acme/inbox/x.php'), str('/x.php')), 'posix-rename to /');
      } finally {
        sftp.end();
      }
      const bob = await x.http('GET', '/api/v1/fs/beta/inbox/', { token: x.tokens.bob });
      assert.ok(!bob.text.includes('x.php'));
    });

    it('CVE-2024-5806, CVE-2024-5805 (MOV-3a, MOV-3d, MOV-3e): an unsigned query for one user then a signed request for another, foreign signatures and replays all fail', async () => {
      const mark = await x.mark();
      const { alice, evil } = x.keys;
      await ssh(async (c) => {
        failed(await c.query('', evil.publicLine), 'query for ""');
        failed(await c.signed('alice', evil.publicLine, signer(evil)), 'signed by K_evil after the empty-user query');
      });
      await ssh(async (c) => failed(await c.signed('alice', alice.publicLine, signer(evil)), "alice's key, K_evil's signature"));
      await ssh(async (c) =>
        failed(
          await c.signed('alice', alice.publicLine, (data) => {
            const other = Buffer.from(data);
            for (let i = 4; i < 4 + data.readUInt32BE(0); i++) other[i] = other[i]! ^ 0xff;
            return alice.parsed.sign(other);
          }),
          'a signature for another session',
        ),
      );
      await ssh(async (c) =>
        failed(
          await c.signed('alice', alice.publicLine, (data) =>
            alice.parsed.sign(Buffer.from(data.toString('latin1').replace('ssh-connection', 'ssh-userauth0'), 'latin1')),
          ),
          'a signature over another service',
        ),
      );
      const fails = await x.events(mark, { action: 'auth.login', outcome: 'failure' });
      // (The first attack ends at the user-name change: ssh2, like OpenSSH, disconnects.)
      assert.ok(fails.length >= 1, `the failed signed requests are recorded (${fails.length}; repeats of a kind are aggregated)`);
      assert.ok(fails.every((e) => e.protocol === 'sftp'));
      await x.healthy();
    });

    it('CVE-2024-45337, CVE-2024-5806 (MOV-3b, MOV-3c): a key accepted in a query is never re-used for another user or swapped for another key', async () => {
      const { alice, bob, evil } = x.keys;
      await ssh(async (c) => {
        assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
        failed(await c.signed('bob', alice.publicLine, signer(alice)), "bob with alice's key");
      });
      // Without the query (a user-name change mid-authentication ends the connection before the core
      // sees it): the signed request alone must be bound to bob's own keys.
      await ssh(async (c) => failed(await c.signed('bob', alice.publicLine, signer(alice)), "bob with alice's key, no query"));
      await ssh(async (c) => {
        assert.equal(await c.query('alice', alice.publicLine), 'pk_ok');
        failed(await c.signed('alice', evil.publicLine, signer(evil)), 'K_evil after PK_OK for K_alice');
      });
      await ssh(async (c) => {
        assert.equal(await c.query('bob', bob.publicLine), 'pk_ok');
        // Another user name mid-authentication ends the connection (as OpenSSH does).
        failed(await c.query('alice', alice.publicLine), 'a query for another user');
        failed(await c.signed('bob', alice.publicLine, signer(alice)), 'the last key queried, for the first user');
      });
      // Control: the real pair signs in.
      const c = await RawSsh.connect(x.port);
      assert.equal(await c.signed('alice', alice.publicLine, signer(alice)), 'success');
      assert.equal(await c.openSession(), true);
      c.close();
    });

    it('CVE-2024-5806 (MOV-3f, MOV-3g): key blobs that are paths or garbage, and look-alike user names, never authenticate', async () => {
      const { alice } = x.keys;
      const blobs: [string, Buffer][] = [
        ['ssh-ed25519', Buffer.alloc(0)],
        ['ssh-rsa', Buffer.from(x.outsideFile)],
        ['ssh-ed25519', Buffer.from('\\\\127.0.0.1\\share\\k.ppk')],
        ['ssh-ed25519', Buffer.from(`file://${x.outsideFile}`)],
        ['ssh-ed25519', Buffer.from('PuTTY-User-Key-File-2: ssh-rsa\r\n')],
        ['ssh-ed25519', Buffer.alloc(30 * 1024, 'A')],
      ];
      for (const [algo, blob] of blobs) {
        await ssh(async (c) => failed(await c.rawPublicKey('alice', algo, blob), `query ${blob.subarray(0, 20).toString('latin1')}`));
        await ssh(async (c) => failed(await c.rawPublicKey('alice', algo, blob, Buffer.alloc(64, 1)), `signed ${blob.subarray(0, 20).toString('latin1')}`));
      }
      for (const u of ['alice\0', 'alice@corp', 'CORP\\alice', '\u0430lice', '\uff41\uff4c\uff49\uff43\uff45', 'alice\r\nroot']) {
        await ssh(async (c) => {
          failed(await c.query(u, alice.publicLine), `query as ${JSON.stringify(u)}`);
          failed(await c.signed(u, alice.publicLine, signer(alice)), `signed as ${JSON.stringify(u)}`);
        });
      }
      assert.equal(x.egress.hits, 0);
      await x.healthy();
    });

    it('CVE-2024-5806 (MOV-3h, MOV-3i): "none", method switches and a client-sent USERAUTH_SUCCESS open nothing', async () => {
      await ssh(async (c) => failed(await c.none('alice'), 'none'));
      await ssh(async (c) => {
        assert.equal(await c.query('alice', x.keys.alice.publicLine), 'pk_ok');
        failed(await c.password('bob', TEST_PASSWORD + 'x'), 'password for bob after a query for alice');
      });
      await ssh(async (c) => {
        c.sendType(52);
        await new Promise((r) => setTimeout(r, 200));
      });
    });

    it('CVE-2024-5806 (MOV-3j): CR/LF and key material in logged fields stay one escaped line in the ledger', async () => {
      const mark = await x.mark();
      const evilName = 'x\r\n2026-01-01 admin login OK\r\n-----BEGIN OPENSSH PRIVATE KEY-----';
      const body = JSON.stringify({ login: evilName, password: 'x' });
      const r = await x.raw(
        x.rawHead('POST', '/api/v1/auth/login', {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'ua\x1b[2J\x85forged',
        }) + body,
      );
      x.safe(r, 'login with CR/LF');
      await ssh(async (c) => failed(await c.password(evilName, 'x'), 'sftp login with CR/LF'));
      const ev = await x.events(mark, { action: 'auth.login' });
      assert.ok(ev.length >= 1, 'the failures are recorded');
      for (const e of ev) {
        assert.ok(!/[\r\n]/.test(e.detail) && !/[\r\n]/.test(e.actor_login ?? ''), `raw CR/LF stored: ${e.detail}`);
        assert.ok(!JSON.stringify(e).includes('\r'), 'no raw CR in the event');
      }
    });

    it('CVE-2024-6576 (MOV-4): the SFTP privilege boundary — other homes, admin-only folders, channels and extensions are refused', async () => {
      const before = await x.snapshot();
      const c = await connect(x.port, 'alice', { key: x.keys.alice });
      try {
        const refused = (what: string, f: (cb: (err: Error | undefined) => void) => void) =>
          new Promise<void>((resolve) => f((err) => (assert.ok(err, `${what} was accepted`), resolve())));
        await refused('exec id', (cb) => c.exec('id', (err) => cb(err)));
        await refused('exec rsync', (cb) => c.exec('rsync --server -e "sh -c id" . /', (err) => cb(err)));
        await refused('shell', (cb) => c.shell((err) => cb(err)));
        await refused('direct-tcpip to the database', (cb) => c.forwardOut('127.0.0.1', 1, '127.0.0.1', 5432, (err) => cb(err)));
        await refused('direct-tcpip to the egress canary', (cb) => c.forwardOut('127.0.0.1', 1, '127.0.0.1', x.egress.port, (err) => cb(err)));
        await refused('tcpip-forward', (cb) => c.forwardIn('127.0.0.1', 0, (err) => cb(err)));
        await refused('subsystem shell', (cb) => c.subsys('shell', (err) => cb(err)));
        const sftp = await RawSftp.open(c);
        const hidden = [BOB_SECRET, '/beta/inbox', '/beta', '/acme/inbox/../../beta/inbox/secret.txt'];
        for (const p of hidden) {
          for (const [what, send] of [
            ['OPEN read', () => sftp.open(p, 1)],
            ['OPEN write', () => sftp.open(`${p}.x`, WRITE_NEW)],
            ['STAT', () => sftp.request(T.STAT, str(p))],
            ['OPENDIR', () => sftp.request(T.OPENDIR, str(p))],
            ['SETSTAT', () => sftp.request(T.SETSTAT, str(p), u32(4), u32(0o777))],
            ['REMOVE', () => sftp.request(T.REMOVE, str(p))],
            ['RMDIR', () => sftp.request(T.RMDIR, str(p))],
            ['RENAME', () => sftp.request(T.RENAME, str(p), str('/acme/inbox/stolen'))],
            ['SYMLINK', () => sftp.request(T.SYMLINK, str(p), str('/acme/inbox/link'))],
            ['hardlink', () => sftp.extended('hardlink@openssh.com', str(p), str('/acme/inbox/hard'))],
            ['copy-data', () => sftp.extended('copy-data', str(p), str('/acme/inbox/copy'))],
          ] as const) {
            x.sftpFailed(await send(), `${what} ${p}`);
          }
        }
        // Her own home's root may not be removed or re-permissioned either.
        x.sftpFailed(await sftp.request(T.RMDIR, str('/acme/inbox')), 'RMDIR her own grant root');
        x.sftpFailed(await sftp.request(T.MKDIR, str('/acme/evil'), u32(0)), 'MKDIR beside her grant');
        x.sftpFailed(await sftp.request(T.MKDIR, str('/evil'), u32(0)), 'MKDIR at the root');
        sftp.end();
      } finally {
        c.end();
      }
      await x.unchanged(before, 'SFTP privilege sweep');
      const denials = (await x.events(0, { outcome: 'denied' })).filter((e) => e.actor_login === 'alice' && e.protocol === 'sftp');
      assert.ok(denials.length > 10, 'the refused operations are in the ledger');
    });

    it('CVE-2026-10697, CVE-2026-89077: with TOTP on, no single factor signs in over HTTP or SFTP', async () => {
      await x.s.t.user('mfa-user', { org: 'Acme' });
      const enrol = await x.s.t.core.admin.mfa.enable(x.s.t.system, 'mfa-user');
      const secret = (enrol as { secret: string }).secret;
      await x.s.t.core.admin.mfa.confirm(x.s.t.system, 'mfa-user', TOTP.generate({ secret: Secret.fromBase32(secret), digits: 6, period: 30 }));
      const before = await x.snapshot();
      const pw = await x.http('POST', '/api/v1/auth/login', { json: { login: 'mfa-user', password: TEST_PASSWORD } });
      assert.equal(pw.status, 401);
      assert.equal(x.safe(pw, 'password only'), 'MFA_REQUIRED');
      assert.equal(pw.headers.get('set-cookie'), null, 'no session for the first factor alone');
      for (const otp of ['', '000000', '1', "' OR '1'='1", '0'.repeat(1000)]) {
        const r = await x.http('POST', '/api/v1/auth/login', { json: { login: 'mfa-user', password: TEST_PASSWORD, otp } });
        assert.ok(r.status === 401 || r.status === 400, `otp ${otp.slice(0, 10)}: ${r.status}`);
        assert.equal(r.headers.get('set-cookie'), null);
      }
      await ssh(async (c) => {
        const r = await c.password('mfa-user', TEST_PASSWORD);
        assert.notEqual(r, 'success', 'a password alone signs in a two-factor user over SFTP');
      });
      const after = await x.snapshot();
      assert.deepEqual(after.rows.tokens, before.rows.tokens, 'no token was issued');
    });

    it('CVE-2023-34362 (MOV-1e over SFTP): uploads over SFTP stay in the caller grant whatever the name', async () => {
      const before = (await x.snapshot()).rows.folders;
      const sftp = await x.sftp('alice');
      try {
        for (const p of [
          '/acme/inbox/../../beta/inbox/x.aspx',
          '/acme/inbox/..\\..\\beta\\x.aspx',
          '/beta/inbox/x.aspx',
          '/x.aspx',
          `/acme/inbox/${x.outsideFile}`,
        ]) {
          const r = await sftp.open(p, WRITE_NEW);
          x.sftpFailed(r, `upload ${p}`);
        }
      } finally {
        sftp.end();
      }
      assert.deepEqual((await x.snapshot()).rows.folders, before);
      const bob = await x.http('GET', '/api/v1/fs/beta/inbox/', { token: x.tokens.bob });
      assert.ok(!bob.text.includes('x.aspx'));
      const alice = await x.http('GET', `/api/v1/fs${ALICE_FILE}`, { token: x.tokens.alice });
      assert.equal(alice.status, 200);
    });
  });
}
