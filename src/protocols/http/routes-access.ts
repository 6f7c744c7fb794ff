/**
 * Access explained (administrators; the core checks it):
 *   GET /api/v1/admin/access/folder?path=…   → who can see this folder, and through which grant
 *   GET /api/v1/admin/access/users/:login    → what this user can see, and through which grant
 * Answered by core/access/explain.ts with the decision's own rules.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/index.js';
import { principalOf } from './auth.js';
import { Nullable, PathString, Str, withErrors } from './schemas.js';

const GrantRefOut = Type.Object({
  grantId: Type.String(),
  path: Type.String({ description: 'the folder the grant is on' }),
  subject: Type.String({ description: 'user:LOGIN or org:NAME' }),
  permissions: Type.String(),
});
const Who = {
  login: Type.String(),
  org: Nullable(Type.String()),
  role: Type.String(),
  active: Type.Boolean({ description: 'false: could not sign in now (see inactiveReason)' }),
  inactiveReason: Nullable(Type.String()),
};
const FolderAccessOut = Type.Object({
  path: Type.String(),
  entries: Type.Array(
    Type.Object({
      ...Who,
      permissions: Type.String({ description: "effective permissions here; 'all' for administrators; '' when only the name is visible" }),
      through: Type.Union([Type.Literal('grant'), Type.Literal('below'), Type.Literal('admin')], {
        description: 'grant: grants on the folder or above it; below: only its name, on the way to a grant below; admin: by role',
      }),
      grants: Type.Array(GrantRefOut),
    }),
  ),
});
const UserAccessOut = Type.Object({
  ...Who,
  all: Type.Boolean({ description: 'administrators see everything' }),
  folders: Type.Array(Type.Object({ path: Type.String(), permissions: Type.String(), grants: Type.Array(GrantRefOut) })),
});

export async function accessRoutes(app: FastifyInstance, deps: { core: Core }): Promise<void> {
  const { core } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/admin/access/folder',
    {
      schema: {
        summary: 'Who can see this folder, and through which grant',
        description:
          'Every user with effective permissions on the folder (grants on it or above it, to the user or to their organisation), every user who sees only its name on the way to a grant below, and the administrators. Users who could not sign in now are listed with the reason.',
        tags: ['access'],
        querystring: Type.Object({ path: PathString }, { additionalProperties: false }),
        response: withErrors({ 200: FolderAccessOut }),
      },
    },
    async (req) => {
      const a = await core.admin.access.folder(principalOf(req), req.query.path);
      return { path: a.path, entries: a.entries.map((e) => ({ ...e, grants: [...e.grants] })) };
    },
  );
  r.get(
    '/api/v1/admin/access/users/:login',
    {
      schema: {
        summary: 'What this user can see, and through which grant',
        tags: ['access'],
        params: Type.Object({ login: Str(256) }),
        response: withErrors({ 200: UserAccessOut }),
      },
    },
    async (req) => {
      const a = await core.admin.access.user(principalOf(req), req.params.login);
      return { ...a, folders: a.folders.map((f) => ({ ...f, grants: [...f.grants] })) };
    },
  );
}
