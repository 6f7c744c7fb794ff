/**
 * Access explained, for administrators: "who can see this folder, and through which grant" and
 * "what can this user see". Answered with the same view and inheritance rules the decision uses
 * (view.ts makeView: grants inherit downward; a grant below a folder lets its name be seen, not
 * its contents), so the explanation cannot disagree with decide().
 *
 * Contract: administrators only (recorded when refused); reads only; every grant cited by id,
 * folder path and subject. Users who could not sign in now (disabled, expired, organisation
 * disabled, decoy) are listed with `active: false` and the reason, not left out.
 */
import { CoreError } from '../errors.js';
import type { CoreDeps } from '../deps.js';
import type { Scope } from '../gate.js';
import { parsePath } from '../paths.js';
import { findFolder } from '../files/resolve.js';
import { formatPermissions, PERMISSIONS, type Permission } from './permissions.js';
import { makeView, splitKey, type AccessGrant } from './view.js';

export interface GrantRef {
  readonly grantId: string;
  /** The folder the grant is on. */
  readonly path: string;
  /** "user:LOGIN" or "org:NAME". */
  readonly subject: string;
  readonly permissions: string;
}

export interface FolderAccessEntry {
  readonly login: string;
  readonly org: string | null;
  readonly role: string;
  readonly active: boolean;
  readonly inactiveReason: string | null;
  /** Effective permissions on the folder ('all' for administrators); '' when only its name is visible. */
  readonly permissions: string;
  /** 'grant': through grants on the folder or above; 'below': only its name, on the way to a grant below; 'admin': by role. */
  readonly through: 'grant' | 'below' | 'admin';
  readonly grants: readonly GrantRef[];
}

export interface FolderAccess {
  readonly path: string;
  readonly entries: readonly FolderAccessEntry[];
}

export interface UserAccess {
  readonly login: string;
  readonly org: string | null;
  readonly role: string;
  readonly active: boolean;
  readonly inactiveReason: string | null;
  /** Administrators see everything; `folders` is then empty. */
  readonly all: boolean;
  /** Each granted folder with the permissions effective there (its own grants and those above it), and the grants behind them. */
  readonly folders: readonly { readonly path: string; readonly permissions: string; readonly grants: readonly GrantRef[] }[];
}

interface GrantRow {
  id: string;
  path: string;
  path_key: string;
  subject_type: string;
  subject_id: string;
  permissions: string;
}

const isPrefix = (pre: readonly string[], full: readonly string[]) => pre.length <= full.length && pre.every((s, i) => s === full[i]);
const permsOf = (s: string) => new Set(s.split(',').filter((x): x is Permission => (PERMISSIONS as readonly string[]).includes(x)));

function inactive(u: { status: string; expires_at: number | null }, orgStatus: string | null, now: number): string | null {
  if (u.status === 'decoy') return 'decoy account';
  if (u.status !== 'active') return 'user disabled';
  if (u.expires_at !== null && Number(u.expires_at) <= now) return 'account expired';
  if (orgStatus !== null && orgStatus !== 'active') return 'organisation disabled';
  return null;
}

export function createAccessExplain(deps: CoreDeps) {
  const { db } = deps;

  const usersQuery = () =>
    db
      .selectFrom('users')
      .leftJoin('orgs', 'orgs.id', 'users.org_id')
      .select(['users.id', 'users.login', 'users.role', 'users.status', 'users.expires_at', 'users.org_id', 'orgs.name as org', 'orgs.status as org_status']);

  async function grantsWith(where: (q: ReturnType<typeof grantQuery>) => ReturnType<typeof grantQuery>): Promise<GrantRow[]> {
    return (await where(grantQuery()).execute()) as GrantRow[];
  }
  const grantQuery = () =>
    db
      .selectFrom('grants')
      .innerJoin('folders', 'folders.id', 'grants.folder_id')
      .select(['grants.id', 'folders.path', 'folders.path_key', 'grants.subject_type', 'grants.subject_id', 'grants.permissions']);

  async function subjectLabels(rows: GrantRow[]): Promise<Map<string, string>> {
    const userIds = [...new Set(rows.filter((g) => g.subject_type === 'user').map((g) => g.subject_id))];
    const orgIds = [...new Set(rows.filter((g) => g.subject_type === 'org').map((g) => g.subject_id))];
    const out = new Map<string, string>();
    for (let i = 0; i < userIds.length; i += 500)
      for (const u of await db
        .selectFrom('users')
        .select(['id', 'login'])
        .where('id', 'in', userIds.slice(i, i + 500))
        .execute())
        out.set(`user:${u.id}`, `user:${u.login}`);
    for (let i = 0; i < orgIds.length; i += 500)
      for (const o of await db
        .selectFrom('orgs')
        .select(['id', 'name'])
        .where('id', 'in', orgIds.slice(i, i + 500))
        .execute())
        out.set(`org:${o.id}`, `org:${o.name}`);
    return out;
  }
  const ref = (labels: Map<string, string>, g: GrantRow): GrantRef => ({
    grantId: g.id,
    path: g.path,
    subject: labels.get(`${g.subject_type}:${g.subject_id}`) ?? `${g.subject_type}:${g.subject_id}`,
    permissions: g.permissions,
  });

  return {
    /** Who can see the folder at `path`, and through which grant (administrators by role). */
    async folder(_sc: Scope<'access.folder'>, path: string): Promise<FolderAccess> {
      const vp = parsePath(path);
      const folder = await findFolder(db, vp);
      if (!folder) throw new CoreError('NOT_FOUND', 'folder not found');
      const key = splitKey(folder.path_key);
      const now = deps.clock.now();
      // Grants on the folder, above it (inherited) and below it (its name on the way there).
      const all = await grantsWith((q) => q);
      const relevant = all.filter((g) => {
        const gk = splitKey(g.path_key);
        return isPrefix(gk, key) || isPrefix(key, gk);
      });
      const labels = await subjectLabels(relevant);
      const byUser = new Map<string, GrantRow[]>();
      const orgGrants = new Map<string, GrantRow[]>();
      for (const g of relevant) {
        const m = g.subject_type === 'user' ? byUser : orgGrants;
        m.set(g.subject_id, [...(m.get(g.subject_id) ?? []), g]);
      }
      const orgIds = [...orgGrants.keys()];
      const members = orgIds.length ? await usersQuery().where('users.org_id', 'in', orgIds).execute() : [];
      const direct = byUser.size
        ? await usersQuery()
            .where('users.id', 'in', [...byUser.keys()])
            .execute()
        : [];
      const admins = await usersQuery().where('users.role', '=', 'admin').execute();
      const seen = new Map<string, FolderAccessEntry>();
      for (const u of [...direct, ...members]) {
        if (seen.has(u.id) || u.role === 'admin') continue;
        const mine = [...(byUser.get(u.id) ?? []), ...(u.org_id ? (orgGrants.get(u.org_id) ?? []) : [])];
        const view = makeView(mine.map((g): AccessGrant => ({ folderKey: splitKey(g.path_key), perms: permsOf(g.permissions) })));
        const eff = view.effective(key);
        const onOrAbove = mine.filter((g) => isPrefix(splitKey(g.path_key), key));
        const reason = inactive(u, u.org_status ?? null, now);
        seen.set(u.id, {
          login: u.login,
          org: u.org ?? null,
          role: u.role,
          active: reason === null,
          inactiveReason: reason,
          permissions: eff.size ? formatPermissions(eff) : '',
          through: eff.size ? 'grant' : 'below',
          grants: (eff.size ? onOrAbove : mine).map((g) => ref(labels, g)),
        });
      }
      for (const u of admins) {
        const reason = inactive(u, u.org_status ?? null, now);
        seen.set(u.id, {
          login: u.login,
          org: u.org ?? null,
          role: u.role,
          active: reason === null,
          inactiveReason: reason,
          permissions: 'all',
          through: 'admin',
          grants: [],
        });
      }
      const order = { grant: 0, below: 1, admin: 2 } as const;
      const entries = [...seen.values()].sort((a, b) => order[a.through] - order[b.through] || a.login.localeCompare(b.login));
      return { path: folder.path, entries };
    },

    /** What the user `login` can see: each granted folder with its effective permissions and the grants behind them. */
    async user(_sc: Scope<'access.user'>, login: string): Promise<UserAccess> {
      const u = await usersQuery().where('users.login', '=', login.normalize('NFC').toLowerCase()).executeTakeFirst();
      if (!u) throw new CoreError('NOT_FOUND', 'user not found');
      const reason = inactive(u, u.org_status ?? null, deps.clock.now());
      const base = { login: u.login, org: u.org ?? null, role: u.role, active: reason === null, inactiveReason: reason };
      if (u.role === 'admin') return { ...base, all: true, folders: [] };
      const mine = await grantsWith((q) =>
        q.where((eb) =>
          eb.or([
            eb.and([eb('grants.subject_type', '=', 'user'), eb('grants.subject_id', '=', u.id)]),
            ...(u.org_id ? [eb.and([eb('grants.subject_type', '=', 'org'), eb('grants.subject_id', '=', u.org_id)])] : []),
          ]),
        ),
      );
      const labels = await subjectLabels(mine);
      const view = makeView(mine.map((g): AccessGrant => ({ folderKey: splitKey(g.path_key), perms: permsOf(g.permissions) })));
      const byPath = new Map<string, { key: string[]; path: string }>();
      for (const g of mine) byPath.set(g.path_key, { key: splitKey(g.path_key), path: g.path });
      const folders = [...byPath.values()]
        .sort((a, b) => a.path.localeCompare(b.path))
        .map((f) => ({
          path: f.path,
          permissions: formatPermissions(view.effective(f.key)),
          grants: mine.filter((g) => isPrefix(splitKey(g.path_key), f.key)).map((g) => ref(labels, g)),
        }));
      return { ...base, all: false, folders };
    },
  };
}
