/**
 * Sign-in policy (administrators; the core checks it and records each change):
 *   GET/PUT /api/v1/admin/policy/passkeys → the roles and organisations whose users must sign in
 *                                           with a passkey (others are refused: PASSKEY_REQUIRED)
 */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/index.js';
import { principalOf } from './auth.js';
import { Str, withErrors } from './schemas.js';

const Role = Type.Union([Type.Literal('partner'), Type.Literal('staff'), Type.Literal('admin')]);
const PolicyOut = Type.Object({
  roles: Type.Array(Type.String()),
  orgs: Type.Array(Type.String({ description: 'organisation names' })),
});

export async function policyRoutes(app: FastifyInstance, deps: { core: Core }): Promise<void> {
  const { core } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/admin/policy/passkeys',
    { schema: { summary: 'Who must sign in with a passkey (roles, organisations)', tags: ['admin'], response: withErrors({ 200: PolicyOut }) } },
    async (req) => {
      const p = await core.admin.passkeyPolicy.get(principalOf(req));
      return { roles: [...p.roles], orgs: [...p.orgs] };
    },
  );
  r.put(
    '/api/v1/admin/policy/passkeys',
    {
      schema: {
        summary: 'Require passkeys for roles and organisations (replaces the policy)',
        description:
          'Their users sign in with a passkey (passwordless, or after the password); a sign-in without one — password alone, password and code, SFTP password, OpenID provider — is refused with 401 PASSKEY_REQUIRED (on the web with a passkey registered: 401 MFA_REQUIRED asking for it). SSH keys and API tokens are not affected; the CLI can always change the policy.',
        tags: ['admin'],
        body: Type.Object(
          { roles: Type.Array(Role, { maxItems: 3 }), orgs: Type.Array(Str(400, 'organisation name or id'), { maxItems: 10_000 }) },
          { additionalProperties: false },
        ),
        response: withErrors({ 200: PolicyOut }),
      },
    },
    async (req) => {
      const p = await core.admin.passkeyPolicy.set(principalOf(req), req.body);
      return { roles: [...p.roles], orgs: [...p.orgs] };
    },
  );
}
