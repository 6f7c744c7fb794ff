/**
 * Unauthenticated connections cannot keep a signed-in user from being served over HTTP (issue 14
 * §3): hundreds of idle connections, slowloris clients that trickle headers, idle keep-alive
 * connections and huge header blocks from many addresses (loopback 127.0.0.2 …) — meanwhile a
 * signed-in user's requests answer within 1 s; each kind is cut by its own deadline or limit
 * (headers timeout → 408, keep-alive timeout, idle timeout, 431, connections per address → 503).
 * Timeouts are short here so that the test reaches them quickly; bounds are generous.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, eventually, serve, tokenFor, type Served } from './helpers.js';

interface Conn {
  readonly sock: net.Socket;
  /** Resolves with the time (Date.now()) the connection closed. */
  readonly closed: Promise<number>;
  readonly received: () => string;
}

function open(port: number, localAddress: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now())));
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      sock.on('error', () => undefined);
      resolve({ sock, closed, received: () => got });
    });
  });
}

const within = (p: Promise<number>, ms: number, what: string) =>
  Promise.race([p, new Promise<number>((_, j) => setTimeout(() => j(new Error(`${what}: still open after ${ms} ms`)), ms))]);

for (const dialect of DIALECTS) {
  describe(`HTTP before sign-in: slowloris, idle keep-alive, huge headers, connections per address (${dialect})`, () => {
    let s: Served;
    let token: string;
    before(async () => {
      s = await serve(dialect, {
        SLUICE_HTTP_HEADERS_TIMEOUT: '2s',
        SLUICE_HTTP_KEEPALIVE_TIMEOUT: '1s',
        SLUICE_HTTP_IDLE_TIMEOUT: '4s',
        SLUICE_HTTP_MAX_CONNECTIONS_PER_IP: '20',
      });
      await s.t.user('hanna', { org: 'Praxis' });
      await s.t.core.admin.folders.create(s.t.system, '/hanna');
      await s.t.core.admin.grants.set(s.t.system, 'hanna', '/hanna', 'list,read,write');
      token = await tokenFor(s.t, 'hanna');
    });
    after(() => s.close());

    const userRequest = async () => {
      const t0 = Date.now();
      const r = await fetch(`${s.base}/api/v1/fs/hanna/`, { headers: bearer(token) });
      assert.equal(r.status, 200);
      await r.json();
      return Date.now() - t0;
    };

    it('300 idle, 100 slowloris and 100 idle keep-alive connections from 60 addresses: a signed-in user is answered within 1 s; each is cut by its deadline', async () => {
      // The user's connection is open and warm before the crowd arrives (as a signed-in browser's is).
      await userRequest();
      const idle: Conn[] = [];
      const slow: Conn[] = [];
      const kept: Conn[] = [];
      for (let a = 0; a < 60; a++) for (let i = 0; i < 5; i++) idle.push(await open(s.port, `127.0.0.${a + 2}`));
      for (let i = 0; i < 100; i++) {
        const c = await open(s.port, `127.0.0.${62 + (i % 20)}`);
        c.sock.write(`GET /api/v1/fs/hanna/ HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
        slow.push(c);
      }
      const trickle = setInterval(() => {
        for (const c of slow) if (!c.sock.destroyed) c.sock.write(`X-Slow-${Math.random().toString(36).slice(2, 8)}: 1\r\n`);
      }, 500);
      const keptAnswered: Promise<number>[] = [];
      for (let i = 0; i < 100; i++) {
        const c = await open(s.port, `127.0.0.${82 + (i % 20)}`);
        c.sock.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        kept.push(c);
        keptAnswered.push(
          (async () => {
            await eventually(() => c.received().includes('\r\n\r\n'), 5000, 'a keep-alive answer');
            return Date.now();
          })(),
        );
      }
      try {
        const answeredAt = await Promise.all(keptAnswered);
        for (let i = 0; i < 5; i++) {
          const ms = await userRequest();
          assert.ok(ms < 1000, `the signed-in user waited ${ms} ms`);
        }
        // Idle keep-alive connections: answered, kept open for the keep-alive timeout, then closed.
        for (const c of kept) assert.match(c.received(), /^HTTP\/1\.1 200 /);
        const keptClosedAt = await Promise.all(kept.map((c) => within(c.closed, 6000, 'an idle keep-alive connection')));
        const longest = Math.max(...keptClosedAt.map((t, i) => t - answeredAt[i]!));
        assert.ok(longest < 4000, `an idle keep-alive connection lived ${longest} ms after its answer (keep-alive timeout 1 s)`);
        // Slowloris: the headers timeout ends them with 408, however busy they keep the line.
        await Promise.all(slow.map((c) => within(c.closed, 7000, 'a slowloris connection')));
        for (const c of slow) assert.match(c.received(), /^HTTP\/1\.1 408 /);
        // Connections that never send anything are closed too.
        await Promise.all(idle.map((c) => within(c.closed, 9000, 'an idle connection')));
        assert.ok((await userRequest()) < 1000);
      } finally {
        clearInterval(trickle);
        for (const c of [...idle, ...slow, ...kept]) c.sock.destroy();
      }
    });

    it('a header block over the limit answers 431 and the connection closes', async () => {
      const c = await open(s.port, '127.0.0.120');
      c.sock.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
      await within(c.closed, 5000, 'a huge-header connection');
      assert.match(c.received(), /^HTTP\/1\.1 431 /);
      assert.match(c.received(), /"code":"INVALID_INPUT"/);
      // Many of them at once change nothing for the signed-in user.
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => open(s.port, `127.0.0.${121 + (i % 10)}`)));
      for (const m of many) m.sock.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
      assert.ok((await userRequest()) < 1000);
      await Promise.all(many.map((m) => within(m.closed, 5000, 'a huge-header connection')));
    });

    it('connections from one address beyond the limit answer 503 and close; other addresses are served', async () => {
      const held = await Promise.all(Array.from({ length: 20 }, () => open(s.port, '127.0.0.140')));
      const over = await open(s.port, '127.0.0.140');
      await within(over.closed, 3000, 'the connection over the limit');
      assert.match(over.received(), /^HTTP\/1\.1 503 /);
      assert.match(over.received(), /too many connections from this address/);
      // The held ones still work, and another address is served.
      held[0]!.sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      await within(held[0]!.closed, 3000, 'a held connection');
      assert.match(held[0]!.received(), /^HTTP\/1\.1 200 /);
      assert.ok((await userRequest()) < 1000);
      const other = await open(s.port, '127.0.0.141');
      other.sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      await within(other.closed, 3000, 'another address');
      assert.match(other.received(), /^HTTP\/1\.1 200 /);
      // A freed slot can be used again.
      for (const h of held) h.sock.destroy();
      await eventually(async () => {
        const again = await open(s.port, '127.0.0.140');
        again.sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
        await within(again.closed, 3000, 'again');
        return /^HTTP\/1\.1 200 /.test(again.received());
      }, 5000);
    });
  });
}
