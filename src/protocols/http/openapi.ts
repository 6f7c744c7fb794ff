/**
 * The OpenAPI 3 document (GET /api/openapi.json), generated from the route schemas by
 * @fastify/swagger, and the Swagger UI (/api/docs). MUST be registered before the routes.
 */
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@fastify/type-provider-typebox';
import { DOCS_CSP } from './security-headers.js';

const FS_WILDCARD = '/api/v1/fs/*';

export async function registerOpenApi(app: FastifyInstance, opts: { version: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Sluice API',
        version: opts.version,
        description:
          'Managed file transfer. Files by virtual path under /api/v1/fs; administration under /api/v1/admin. ' +
          'Authenticate with "Authorization: Bearer TOKEN" (scripts) or the session cookie set by POST /api/v1/auth/login ' +
          '(web app; state-changing cookie requests need a same-origin Origin header). Every error is ' +
          '{ "error": { "code", "message" } }. GET /metrics is open on loopback only (without proxy headers); otherwise it ' +
          'needs an administrator.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API token (sluice token create, or POST /api/v1/tokens)' },
          session: { type: 'apiKey', in: 'cookie', name: 'sluice_session', description: '__Host-sluice_session when served over HTTPS' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
      tags: [
        { name: 'files', description: 'Files and folders by virtual path' },
        { name: 'uploads', description: 'Resumable uploads (tus 1.0.0: creation, creation-with-upload, termination, checksum sha256, expiration)' },
        { name: 'auth', description: 'Web sign-in' },
        { name: 'tokens', description: 'API tokens' },
        { name: 'admin', description: 'Administration (administrators only)' },
        { name: 'ledger', description: 'The audit ledger for the security officer: search, export, verification state (administrators only)' },
        { name: 'incident', description: 'Incident response: scope, partner notification drafts, GDPR Art. 33 report (administrators only)' },
        { name: 'access', description: 'Who can see a folder and through which grant; what a user can see (administrators only)' },
        { name: 'ops', description: 'Health, readiness, metrics' },
      ],
    },
    // The raw-path wildcard route reads as /api/v1/fs/{path}; the upload body is raw bytes.
    transform: ({ schema, url, route }) => {
      if (url !== FS_WILDCARD) return { schema, url };
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const params = Type.Object({ path: Type.String({ description: 'virtual path, percent-encoded; a trailing "/" lists a folder' }) });
      const s: Record<string, unknown> = { ...(schema ?? {}), params };
      if (methods.includes('PUT'))
        Object.assign(s, { consumes: ['application/octet-stream'], body: Type.String({ format: 'binary', description: 'the file content' }) });
      return { schema: s as typeof schema, url: '/api/v1/fs/{path}' };
    },
  });

  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: DOCS_CSP,
    uiConfig: { deepLinking: false },
    // The UI loads the same document as /api/openapi.json.
  });

  app.get(
    '/api/openapi.json',
    { config: { auth: 'none' }, schema: { summary: 'This OpenAPI document', tags: ['ops'], security: [] } },
    async (_request, reply) => {
      reply.header('content-type', 'application/json; charset=utf-8');
      return reply.send(JSON.stringify(app.swagger()));
    },
  );
}
