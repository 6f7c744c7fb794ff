/**
 * The database matrix itself: PostgreSQL is really part of it under `npm test`, each
 * freshDatabase() is a new empty database that openDatabase() can migrate, and cleanup removes it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { DIALECTS, freshDatabase, tempDir } from './dialects.js';

describe('test matrix', () => {
  it('includes PostgreSQL under scripts/test.mjs and in CI', () => {
    assert.ok(DIALECTS.includes('sqlite'));
    if (process.env.SLUICE_TEST_RUNNER === '1' || process.env.CI) assert.ok(DIALECTS.includes('postgres'));
  });

  it('tempDir() is fresh and cleanup removes it', async () => {
    const a = tempDir('x/../y');
    const b = tempDir('x/../y');
    assert.notEqual(a.path, b.path);
    assert.deepEqual(fs.readdirSync(a.path), []);
    fs.writeFileSync(`${a.path}/f`, 'x');
    await a.cleanup();
    await a.cleanup();
    await b.cleanup();
    assert.ok(!fs.existsSync(a.path) && !fs.existsSync(b.path));
  });
});

for (const d of DIALECTS) {
  describe(d, () => {
    it('freshDatabase() gives a new database that openDatabase() migrates; cleanup removes it', async () => {
      const [one, two] = [await freshDatabase(d), await freshDatabase(d)];
      try {
        assert.equal(one.dialect, d);
        assert.notEqual(one.sqlitePath, two.sqlitePath);
        if (d === 'postgres') {
          assert.ok(one.url?.startsWith('postgres://') && one.url !== two.url);
        } else {
          assert.equal(one.url, undefined);
        }
        const opened = await openDatabase({ url: one.url, sqlitePath: one.sqlitePath });
        try {
          assert.equal(opened.dialect, d);
          const { rows } = await sql<{ n: number }>`select ${41} + 1 as n`.execute(opened.db);
          assert.equal(Number(rows[0]?.n), 42);
        } finally {
          await opened.close();
        }
      } finally {
        await one.cleanup();
        await two.cleanup();
      }
      assert.ok(!fs.existsSync(one.dir));
      if (d === 'postgres') {
        const admin = new pg.Client({ connectionString: process.env.SLUICE_TEST_PG_URL });
        await admin.connect();
        try {
          const name = new URL(one.url ?? '').pathname.slice(1);
          const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
          assert.equal(rowCount, 0, `database ${name} was not dropped`);
        } finally {
          await admin.end();
        }
      }
    });
  });
}
