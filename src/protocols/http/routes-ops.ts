/**
 * Operations endpoints:
 *   GET /healthz  → 200 { status: 'ok' }                 (the process answers)
 *   GET /readyz   → 200 { status: 'ok' } | 503 UNAVAILABLE (database and storage reachable)
 *   GET /metrics  → Prometheus text.
 *
 * /metrics is open only to a client on the loopback interface that reaches us directly (no proxy
 * in between: no Forwarded/X-Forwarded-For/X-Real-IP header, and no proxy configured). Anyone
 * else needs an administrator's token or session (decided by the core: metrics.read).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import type { Config } from '../../config/config.js';
import type { Core } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { renderMetrics, type Metrics } from './metrics.js';
import { withErrors } from './schemas.js';

const isLoopbackAddr = (a: string | undefined) => !!a && (a === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(a));

export function directLoopback(request: FastifyRequest, config: Config): boolean {
  if (config.trustProxy || config.httpTlsProxy) return false;
  const h = request.headers;
  if (h.forwarded !== undefined || h['x-forwarded-for'] !== undefined || h['x-real-ip'] !== undefined) return false;
  return isLoopbackAddr(request.raw.socket.remoteAddress);
}

export async function opsRoutes(app: FastifyInstance, deps: { core: Core; config: Config; metrics: Metrics }): Promise<void> {
  const { core, config, metrics } = deps;
  const Status = Type.Object({ status: Type.String() });

  app.get('/healthz', { config: { auth: 'none' }, schema: { summary: 'Liveness', tags: ['ops'], security: [], response: { 200: Status } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    {
      config: { auth: 'none' },
      schema: { summary: 'Readiness: database and storage reachable', tags: ['ops'], security: [], response: withErrors({ 200: Status }) },
    },
    async () => {
      await core.maintenance.ready(); // UNAVAILABLE → 503
      return { status: 'ok' };
    },
  );

  app.get(
    '/metrics',
    {
      config: { auth: 'optional' },
      schema: {
        summary: 'Prometheus metrics',
        description: 'Open on loopback (direct connections only); otherwise an administrator must authenticate.',
        tags: ['ops'],
        produces: ['text/plain'],
      },
    },
    async (request, reply) => {
      if (!directLoopback(request, config)) {
        const p = request.principal;
        if (!p) throw new CoreError('UNAUTHENTICATED', 'authentication required');
        await core.ops.metrics(p); // the core decides (metrics.read) and records a denial
      }
      reply.header('content-type', metrics.registry.contentType);
      return reply.send(await renderMetrics(metrics));
    },
  );
}
