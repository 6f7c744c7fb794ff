import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Migrator, type Kysely } from 'kysely';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../../test/helpers/dialects.js';
import { openDatabase } from './connect.js';
import { migrationProvider } from './migrations.js';

for (const dialect of DIALECTS) {
  describe(`migration 011: organisation usage counter (${dialect})`, () => {
    let fresh: FreshDatabase;
    before(async () => {
      fresh = await freshDatabase(dialect);
    });
    after(() => fresh.cleanup());

    it("sums each organisation's existing files once", async () => {
      const { db, close } = await openDatabase({ url: fresh.url, sqlitePath: fresh.sqlitePath, migrate: false });
      try {
        const loose = db as unknown as Kysely<Record<string, Record<string, string | number | null>>>;
        const migrator = new Migrator({ db: loose, provider: migrationProvider });
        const before010 = await migrator.migrateTo('010_small_files_inline');
        assert.equal(before010.error, undefined);
        const org = (id: string) => ({ id, name: id, name_key: id, created_at: 1 });
        await loose
          .insertInto('orgs')
          .values([org('a'), org('b'), org('empty')])
          .execute();
        const root = await loose.selectFrom('folders').select('id').where('path', '=', '/').executeTakeFirstOrThrow();
        const file = (n: number, orgId: string | null, size: number) => ({
          id: `f${n}`,
          folder_id: root.id,
          name: `f${n}`,
          name_key: `f${n}`,
          size,
          sha256: '0'.repeat(64),
          blob_key: `k${n}`,
          org_id: orgId,
          created_at: 1,
          modified_at: 1,
        });
        await loose
          .insertInto('files')
          .values([file(1, 'a', 10), file(2, 'a', 2 ** 40), file(3, 'b', 7), file(4, null, 99)])
          .execute();
        const latest = await migrator.migrateToLatest();
        assert.equal(latest.error, undefined);
        const rows = await db.selectFrom('orgs').select(['id', 'used_bytes']).orderBy('id').execute();
        assert.deepEqual(
          rows.map((r) => [r.id, Number(r.used_bytes)]),
          [
            ['a', 2 ** 40 + 10],
            ['b', 7],
            ['empty', 0],
          ],
        );
      } finally {
        await close();
      }
    });
  });
}
