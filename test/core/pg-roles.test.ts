// PostgreSQL: the service's role may only insert into the ledger. The schema belongs to an owner
// role that migrates; the service role, granted by grantServiceRole, works normally but cannot
// rewrite, delete, truncate or unprotect a recorded event.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/dialects.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { assertSchemaCurrent, currentRole, grantServiceRole } from '../../src/adapters/db/roles.js';
import { recordEvent } from '../../src/core/tx.js';
import { verifyLedger } from '../../src/core/audit/verify-ledger.js';
import { systemClock } from '../../src/ports/clock.js';
import type { Database } from '../../src/ports/db-schema.js';
import { loadConfig } from '../../src/config/config.js';
import { openInstance } from '../../src/app/instance.js';
import { tempDir } from '../helpers/dialects.js';
import pino from 'pino';

async function* body(s: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(s);
}

const asRole = (url: string, role: string) => {
  const u = new URL(url);
  u.username = role;
  u.password = '';
  return u.toString();
};

for (const dialect of DIALECTS.filter((d) => d === 'postgres')) {
  describe(`the service role on PostgreSQL may only insert into the ledger (${dialect})`, () => {
    let fresh: FreshDatabase;
    let bare: FreshDatabase;
    let served: FreshDatabase;
    const owner = `sluice_owner_${randomBytes(4).toString('hex')}`;
    const app = `sluice_app_${randomBytes(4).toString('hex')}`;
    let ownerDb: { db: Kysely<Database>; close(): Promise<void> };
    let appDb: { db: Kysely<Database>; close(): Promise<void> };
    let admin: pg.Client;

    before(async () => {
      fresh = await freshDatabase('postgres');
      bare = await freshDatabase('postgres');
      served = await freshDatabase('postgres');
      admin = new pg.Client({ connectionString: fresh.url });
      await admin.connect();
      // Test-generated names only (identifiers cannot be bound parameters).
      await admin.query(`CREATE ROLE ${owner} LOGIN`);
      await admin.query(`CREATE ROLE ${app} LOGIN`);
      await admin.query(`ALTER DATABASE ${new URL(fresh.url!).pathname.slice(1)} OWNER TO ${owner}`);
      await admin.query(`ALTER SCHEMA public OWNER TO ${owner}`);
      const c = new pg.Client({ connectionString: served.url });
      await c.connect();
      await c.query(`ALTER DATABASE ${new URL(served.url!).pathname.slice(1)} OWNER TO ${owner}`);
      await c.query(`ALTER SCHEMA public OWNER TO ${owner}`);
      await c.end();
      ownerDb = await openDatabase({ url: asRole(fresh.url!, owner), sqlitePath: fresh.sqlitePath });
      await grantServiceRole(ownerDb.db, app);
      appDb = await openDatabase({ url: asRole(fresh.url!, app), sqlitePath: fresh.sqlitePath, migrate: false });
    });
    after(async () => {
      await appDb?.close();
      await ownerDb?.close();
      await admin?.end();
      await fresh?.cleanup();
      await bare?.cleanup();
      await served?.cleanup();
      const c = new pg.Client({ connectionString: process.env.SLUICE_TEST_PG_URL });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS ${app}`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${owner}`).catch(() => undefined);
      await c.end();
    });

    it('the service role appends events and changes ordinary tables', async () => {
      assert.equal(await currentRole(appDb.db), app);
      await assertSchemaCurrent(appDb.db);
      const seq = await recordEvent(appDb.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'event', n: 1 } });
      assert.ok(seq > 0);
      await appDb.db
        .insertInto('settings')
        .values({ key: 'role-test', value: '"x"' } as never)
        .execute();
      await appDb.db
        .updateTable('settings')
        .set({ value: '"y"' } as never)
        .where('key', '=', 'role-test')
        .execute();
      await appDb.db.deleteFrom('settings').where('key', '=', 'role-test').execute();
      assert.equal((await verifyLedger(appDb.db)).ok, true);
    });

    it('it cannot rewrite, delete, truncate or unprotect the ledger', async () => {
      const denied = /permission denied|must be owner/;
      const attempts: [string, () => Promise<unknown>][] = [
        ['UPDATE', () => appDb.db.updateTable('audit_events').set({ target_path: '/forged' }).where('seq', '=', 1).execute()],
        ['DELETE', () => appDb.db.deleteFrom('audit_events').where('seq', '=', 1).execute()],
        ['TRUNCATE', () => sql`TRUNCATE audit_events`.execute(appDb.db)],
        ['DISABLE TRIGGER', () => sql`ALTER TABLE audit_events DISABLE TRIGGER ALL`.execute(appDb.db)],
        ['DROP TRIGGER', () => sql`DROP TRIGGER audit_events_append_only ON audit_events`.execute(appDb.db)],
        ['DROP TABLE', () => sql`DROP TABLE audit_checkpoints`.execute(appDb.db)],
        [
          'checkpoint UPDATE',
          () =>
            appDb.db
              .updateTable('audit_checkpoints')
              .set({ signature: 'x' } as never)
              .execute(),
        ],
        [
          'UPDATE after granting itself the right',
          async () => {
            await sql`GRANT UPDATE ON audit_events TO CURRENT_USER`.execute(appDb.db); // only a warning: no grant option
            await appDb.db.updateTable('audit_events').set({ target_path: '/forged' }).where('seq', '=', 1).execute();
          },
        ],
        ['new table', () => sql`CREATE TABLE shadow (x int)`.execute(appDb.db)],
      ];
      for (const [what, attempt] of attempts) {
        await assert.rejects(attempt(), (e: Error) => denied.test(e.message), what);
      }
      assert.equal((await verifyLedger(appDb.db)).ok, true);
    });

    it('an instance with SLUICE_DATABASE_MIGRATE_URL migrates as the owner and serves as the insert-only role', async () => {
      const dir = tempDir('pg-roles');
      const env = { SLUICE_DATA_DIR: dir.path, SLUICE_DATABASE_URL: asRole(served.url!, app), SLUICE_LOG_LEVEL: 'silent', SLUICE_NODE_ID: 'test' };
      const log = pino({ level: 'silent' });
      try {
        const inst = await openInstance(loadConfig({ ...env, SLUICE_DATABASE_MIGRATE_URL: asRole(served.url!, owner) }), { create: true, log });
        try {
          const sys = inst.system({ protocol: 'cli' }, 'test');
          await inst.core.admin.orgs.create(sys, { name: 'Acme' });
          await inst.core.admin.folders.create(sys, '/acme/in', { org: 'Acme' });
          await inst.core.admin.users.create(sys, { login: 'alice', role: 'partner', org: 'Acme', password: 'correct horse battery staple' });
          await inst.core.admin.grants.set(sys, 'alice', '/acme/in', 'list,read,write');
          const alice = await inst.core.auth.password('alice', 'correct horse battery staple', { protocol: 'http', remoteAddr: '127.0.0.1' });
          await inst.core.files.upload(alice, '/acme/in/a.csv', body('Abrechnung'));
          const dl = await inst.core.files.openDownload(alice, '/acme/in/a.csv');
          for await (const _ of dl.stream) void _;
          await dl.finished;
          assert.equal((await inst.core.audit.verify(sys)).ok, true);
        } finally {
          await inst.close();
        }
        // Restarted without the owner's URL: the schema is current, so the service role starts.
        const again = await openInstance(loadConfig(env), { log });
        try {
          const sys = again.system({ protocol: 'cli' }, 'test');
          assert.equal((await again.core.audit.verify(sys)).ok, true);
        } finally {
          await again.close();
        }
        const db = await openDatabase({ url: asRole(served.url!, app), sqlitePath: served.sqlitePath, migrate: false });
        try {
          await assert.rejects(db.db.deleteFrom('audit_events').execute(), /permission denied/);
        } finally {
          await db.close();
        }
      } finally {
        await dir.cleanup();
      }
    });

    it('refuses to grant a superuser or the owner, and a name that is not a plain identifier', async () => {
      await assert.rejects(grantServiceRole(ownerDb.db, owner), /superuser or owns the tables/);
      const superuser = new URL(process.env.SLUICE_TEST_PG_URL!).username || 'postgres';
      await assert.rejects(grantServiceRole(ownerDb.db, superuser), /superuser or owns the tables/);
      await assert.rejects(grantServiceRole(ownerDb.db, 'x"; DROP TABLE users; --'), /plain lower-case PostgreSQL identifier/);
      await assert.rejects(grantServiceRole(ownerDb.db, 'nobody_here'), /does not exist/);
    });

    it('a service connection to a schema that is not migrated fails with a clear message', async () => {
      const db = await openDatabase({ url: bare.url, sqlitePath: bare.sqlitePath, migrate: false });
      try {
        await assert.rejects(assertSchemaCurrent(db.db), /no Sluice schema yet/);
      } finally {
        await db.close();
      }
    });
  });
}
