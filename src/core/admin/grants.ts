import { v7 as uuidv7 } from 'uuid';
import type { Scope } from '../gate.js';
import { CoreError } from '../errors.js';
import { parsePath } from '../paths.js';
import { writeTx } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import { formatPermissions, parsePermissions } from '../access/permissions.js';
import { findFolder } from '../files/resolve.js';

export interface Grant {
  readonly id: string;
  readonly path: string;
  readonly subject: string; // "user:LOGIN" or "org:NAME"
  readonly subjectType: 'user' | 'org';
  readonly permissions: string;
  readonly createdAt: number;
}

export interface GrantFinders {
  user(ref: string): Promise<{ id: string; login: string; org_id: string | null }>;
  org(ref: string): Promise<{ id: string; name: string }>;
}

/** "alice", "user:alice" or "org:Praxis Dr. Muster" → subject. */
async function resolveSubject(f: GrantFinders, subject: string) {
  if (subject.startsWith('org:')) {
    const o = await f.org(subject.slice(4));
    return { type: 'org' as const, id: o.id, label: `org:${o.name}`, orgId: o.id };
  }
  const u = await f.user(subject.startsWith('user:') ? subject.slice(5) : subject);
  return { type: 'user' as const, id: u.id, label: `user:${u.login}`, orgId: u.org_id };
}

export function createGrantAdmin(deps: CoreDeps, finders: GrantFinders) {
  const { db, clock } = deps;
  return {
    /** Sets (replaces) the permissions of a subject on a folder. */
    async set(sc: Scope<'grant.set'>, subject: string, path: string, permissions: string | readonly string[]): Promise<Grant> {
      const p = sc.principal;
      const perms = formatPermissions(parsePermissions(permissions));
      const vp = parsePath(path);
      const folder = await findFolder(db, vp);
      if (!folder) throw new CoreError('NOT_FOUND', 'folder not found');
      const subj = await resolveSubject(finders, subject);
      const now = clock.now();
      const id = await writeTx(db, clock, async (s) => {
        const existing = await s.trx
          .selectFrom('grants')
          .select('id')
          .where('folder_id', '=', folder.id)
          .where('subject_type', '=', subj.type)
          .where('subject_id', '=', subj.id)
          .executeTakeFirst();
        let gid: string;
        if (existing) {
          gid = existing.id;
          await s.trx.updateTable('grants').set({ permissions: perms }).where('id', '=', gid).execute();
        } else {
          gid = uuidv7();
          await s.trx
            .insertInto('grants')
            .values({ id: gid, folder_id: folder.id, subject_type: subj.type, subject_id: subj.id, permissions: perms, created_at: now, created_by: p.userId })
            .execute();
        }
        await s.audit({
          action: 'grant.set',
          outcome: 'success',
          actor: p,
          orgId: subj.orgId,
          targetPath: folder.path,
          detail: { subject: subj.label, permissions: perms },
        });
        return gid;
      });
      return { id, path: folder.path, subject: subj.label, subjectType: subj.type, permissions: perms, createdAt: now };
    },
    async revoke(sc: Scope<'grant.revoke'>, subject: string, path: string): Promise<void> {
      const p = sc.principal;
      const folder = await findFolder(db, parsePath(path));
      if (!folder) throw new CoreError('NOT_FOUND', 'folder not found');
      const subj = await resolveSubject(finders, subject);
      await writeTx(db, clock, async (s) => {
        const r = await s.trx
          .deleteFrom('grants')
          .where('folder_id', '=', folder.id)
          .where('subject_type', '=', subj.type)
          .where('subject_id', '=', subj.id)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) throw new CoreError('NOT_FOUND', 'grant not found');
        await s.audit({ action: 'grant.revoke', outcome: 'success', actor: p, orgId: subj.orgId, targetPath: folder.path, detail: { subject: subj.label } });
      });
    },
    async list(sc: Scope<'grant.list'>, filter: { path?: string; subject?: string } = {}): Promise<Grant[]> {
      let q = db
        .selectFrom('grants')
        .innerJoin('folders', 'folders.id', 'grants.folder_id')
        .leftJoin('users', (j) => j.onRef('users.id', '=', 'grants.subject_id').on('grants.subject_type', '=', 'user'))
        .leftJoin('orgs', (j) => j.onRef('orgs.id', '=', 'grants.subject_id').on('grants.subject_type', '=', 'org'))
        .select(['grants.id', 'grants.subject_type', 'grants.permissions', 'grants.created_at', 'folders.path', 'users.login', 'orgs.name as org_name'])
        .orderBy('folders.path_key');
      if (filter.path) {
        const f = await findFolder(db, parsePath(filter.path));
        if (!f) throw new CoreError('NOT_FOUND', 'folder not found');
        q = q.where('grants.folder_id', '=', f.id);
      }
      if (filter.subject) {
        const subj = await resolveSubject(finders, filter.subject);
        q = q.where('grants.subject_type', '=', subj.type).where('grants.subject_id', '=', subj.id);
      }
      const rows = await q.execute();
      return rows.map((r) => ({
        id: r.id,
        path: r.path,
        subjectType: r.subject_type as Grant['subjectType'],
        subject: r.subject_type === 'org' ? `org:${r.org_name ?? '?'}` : `user:${r.login ?? '?'}`,
        permissions: r.permissions,
        createdAt: Number(r.created_at),
      }));
    },
  };
}
