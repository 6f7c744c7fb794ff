/**
 * Sluice for browser tests: a real instance behind the real HTTP server with the built web app,
 * at http://localhost:PORT (the origin passkeys are bound to: an IP address cannot be a WebAuthn
 * relying party), and a browser to look at it with.
 */
import net from 'node:net';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer, createMetrics, type Metrics } from '../../src/protocols/http/server.js';
import type { TestDialect } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { ensureWebBuilt } from '../helpers/browser.js';

export interface WebServed {
  readonly t: TestInstance;
  readonly app: FastifyInstance;
  readonly base: string;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** `env` may depend on the server's address (e.g. an OpenID provider that needs the redirect URI). */
export async function serveWeb(
  dialect: TestDialect,
  env: Record<string, string> | ((base: string) => Promise<Record<string, string>>) = {},
): Promise<WebServed> {
  await ensureWebBuilt();
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const extra = typeof env === 'function' ? await env(base) : env;
  const t = await testInstance(dialect, { SLUICE_PUBLIC_URL: base, ...extra });
  const metrics = createMetrics();
  const app = await buildHttpServer({ core: t.core, config: t.config, log: pino({ level: 'silent' }), metrics });
  await app.listen({ host: '127.0.0.1', port });
  return {
    t,
    app,
    base,
    metrics,
    async close() {
      await app.close();
      await t.cleanup();
    },
  };
}
