/**
 * Canary files and decoy accounts: traps for whoever is where they should not be.
 * - A canary is an ordinary-looking file that no legitimate partner has a reason to read. Any
 *   read raises a CANARY_READ alert at once, trips the reader's download budget (and, when
 *   configured, the global one), and is in the ledger like every read.
 * - A decoy account is a login that exists only to be tried: every sign-in attempt, right or
 *   wrong, fails like a wrong password and raises DECOY_LOGIN.
 */
import type { Scope } from '../gate.js';
import { randomInt } from 'node:crypto';
import { CoreError } from '../errors.js';
import type { Principal } from '../principal.js';
import { writeTx } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import { alertsOf } from './alerts.js';
import { budgetsOf } from './budgets.js';
import { baseName, parentOf, parsePath } from '../paths.js';
import { findFileIn, findFolder } from '../files/resolve.js';

/** Plausible but fictitious billing lines, so a canary looks like the files around it. */
export function canaryContent(rows = 200): Buffer {
  const names = ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann'];
  const first = ['Anna', 'Lukas', 'Marie', 'Jonas', 'Sophie', 'Paul', 'Emma', 'Felix', 'Mia', 'Leon'];
  const lines = ['versichertennummer;name;vorname;geburtsdatum;icd10;betrag'];
  for (let i = 0; i < rows; i++) {
    const kvnr = String.fromCharCode(65 + randomInt(26)) + String(randomInt(100_000_000, 999_999_999));
    const d = `${1940 + randomInt(70)}-${String(1 + randomInt(12)).padStart(2, '0')}-${String(1 + randomInt(28)).padStart(2, '0')}`;
    lines.push(
      `${kvnr};${names[randomInt(names.length)]};${first[randomInt(first.length)]};${d};${['J06.9', 'M54.5', 'I10', 'E11.9', 'F32.1'][randomInt(5)]};${(randomInt(2000, 90000) / 100).toFixed(2)}`,
    );
  }
  return Buffer.from(lines.join('\n') + '\n');
}

export function createCanaries(deps: CoreDeps, tripGlobal: boolean) {
  return {
    /** Marks an existing file as a canary. */
    async mark(sc: Scope<'canary.mark' | 'canary.plant'>, path: string, note?: string): Promise<{ fileId: string }> {
      const p = sc.principal;
      const vp = parsePath(path);
      const folder = await findFolder(deps.db, parentOf(vp));
      const file = folder ? await findFileIn(deps.db, folder.id, baseName(vp)) : undefined;
      if (!file) throw new CoreError('NOT_FOUND', 'file not found');
      await writeTx(deps.db, deps.clock, async (s) => {
        const exists = await s.trx.selectFrom('canaries').select('file_id').where('file_id', '=', file.id).executeTakeFirst();
        if (!exists)
          await s.trx
            .insertInto('canaries')
            .values({ file_id: file.id, planted_at: s.now, planted_by: p.login, note: note ?? null })
            .execute();
        await s.audit({ action: 'canary.mark', outcome: 'success', actor: p, fileId: file.id, targetPath: path, detail: { note: note ?? null } });
      });
      return { fileId: file.id };
    },
    async list(
      _sc: Scope<'canary.list'>,
    ): Promise<{ fileId: string; path: string | null; plantedAt: number; plantedBy: string | null; note: string | null }[]> {
      const rows = await deps.db
        .selectFrom('canaries')
        .leftJoin('files', 'files.id', 'canaries.file_id')
        .leftJoin('folders', 'folders.id', 'files.folder_id')
        .select(['canaries.file_id', 'canaries.planted_at', 'canaries.planted_by', 'canaries.note', 'files.name', 'folders.path'])
        .orderBy('canaries.planted_at')
        .execute();
      return rows.map((r) => ({
        fileId: r.file_id,
        path: r.name && r.path ? (r.path === '/' ? '' : r.path) + '/' + r.name : null,
        plantedAt: Number(r.planted_at),
        plantedBy: r.planted_by,
        note: r.note,
      }));
    },
    /** Called for every read after it was recorded: MUST NOT fail the read path for other files. */
    async onRead(p: Principal, fileId: string, path: string): Promise<void> {
      const c = await deps.db.selectFrom('canaries').select(['file_id', 'note']).where('file_id', '=', fileId).executeTakeFirst();
      if (!c) return;
      const detail = { path, fileId, note: c.note, login: p.login, remoteAddr: p.remoteAddr, protocol: p.protocol };
      await budgetsOf(deps).trip(p, 'user', { reason: 'canary read', fileId });
      if (tripGlobal) await budgetsOf(deps).trip(p, 'global', { reason: 'canary read', fileId });
      await alertsOf(deps).raise({
        code: 'CANARY_READ',
        severity: 'critical',
        message: `canary file ${path} was read by ${p.login} from ${p.remoteAddr ?? 'unknown address'} over ${p.protocol}`,
        detail,
        actor: p,
      });
    },
  };
}

const perCore = new WeakMap<CoreDeps, ReturnType<typeof createCanaries>>();
export function canariesOf(deps: CoreDeps) {
  let c = perCore.get(deps);
  if (!c) perCore.set(deps, (c = createCanaries(deps, deps.settings.canaryTripsGlobal ?? false)));
  return c;
}
