/**
 * The tamper-evident ledger: hash chain, signed checkpoints, the external sink. An attacker who
 * owns the database edits events and recomputes the chain; verify must still say where.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths } from '../../src/app/instance.js';
import { eventHash } from '../../src/core/audit/ledger.js';
import { recordEvent } from '../../src/core/tx.js';
import { systemClock } from '../../src/ports/clock.js';
import type { Database } from '../../src/ports/db-schema.js';

for (const dialect of DIALECTS) {
  describe(`ledger (${dialect})`, () => {
    let t: TestInstance;
    let raw: { db: Kysely<Database>; close(): Promise<void> };
    const sinkFile = () => paths(t.config).auditSink!;

    /** Rewrites event `seq` and recomputes every later hash and the head: a "perfect" forgery. */
    async function forge(seq: number, targetPath: string) {
      const rows = await raw.db.selectFrom('audit_events').selectAll().where('seq', '>=', seq).orderBy('seq').execute();
      let prev = rows[0]!.prev_hash;
      for (const r of rows) {
        const fields = {
          ...r,
          seq: Number(r.seq),
          ts: Number(r.ts),
          bytes: r.bytes === null ? null : Number(r.bytes),
          prev_hash: prev,
          ...(Number(r.seq) === seq ? { target_path: targetPath } : {}),
        };
        const { hash: _old, ...rest } = fields;
        const hash = eventHash(rest);
        await raw.db.updateTable('audit_events').set({ target_path: rest.target_path, prev_hash: prev, hash }).where('seq', '=', r.seq).execute();
        prev = hash;
      }
      await raw.db.updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
    }

    before(async () => {
      t = await testInstance(dialect);
      raw = await openDatabase({ url: t.config.databaseUrl, sqlitePath: paths(t.config).sqlite });
      await t.core.admin.orgs.create(t.system, { name: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme/in', { org: 'Acme' });
    });
    after(async () => {
      await raw.close();
      await t.cleanup();
    });

    it('signs checkpoints, sends them to the sink, and verifies chain + signatures + sink', async () => {
      const first = await t.core.audit.checkpoint(t.system);
      assert.ok(first.checkpoint, 'a checkpoint was made');
      assert.deepEqual(first.sinkErrors, []);
      const again = await t.core.audit.checkpoint(t.system);
      assert.equal(again.checkpoint, undefined, 'nothing new to sign');
      await t.core.admin.folders.create(t.system, '/acme/out');
      await t.core.audit.checkpoint(t.system);
      const lines = fs.readFileSync(sinkFile(), 'utf8').trim().split('\n');
      assert.equal(lines.length, 2);
      const v = await t.core.audit.verify(t.system);
      assert.equal(v.ok, true, JSON.stringify(v.problem));
      assert.equal(v.checkpoints, 2);
      assert.equal(v.sinks[0]!.checkpoints, 2);
    });

    // Roles exist only on PostgreSQL; SQLite relies on file permissions, chain, signatures and sink.
    if (dialect === 'postgres')
      it('PostgreSQL: the service role can only insert into the ledger', async () => {
        await sql`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sluice_test_app') THEN CREATE ROLE sluice_test_app NOSUPERUSER; END IF; END $$`.execute(
          raw.db,
        );
        await sql`GRANT ALL ON ALL TABLES IN SCHEMA public TO sluice_test_app`.execute(raw.db);
        const asApp = (q: (trx: Kysely<Database>) => Promise<unknown>) =>
          raw.db.transaction().execute(async (trx) => {
            await sql`SET LOCAL ROLE sluice_test_app`.execute(trx);
            return q(trx);
          });
        const row = await raw.db.selectFrom('audit_events').select('seq').orderBy('seq').limit(1).executeTakeFirstOrThrow();
        await assert.rejects(
          asApp((trx) => trx.updateTable('audit_events').set({ target_path: '/x' }).where('seq', '=', row.seq).execute()),
          /append-only/,
        );
        await assert.rejects(
          asApp((trx) => trx.deleteFrom('audit_events').where('seq', '=', row.seq).execute()),
          /append-only/,
        );
        await assert.rejects(
          asApp((trx) => trx.deleteFrom('audit_checkpoints').execute()),
          /append-only/,
        );
        await assert.rejects(
          asApp(async (trx) => sql`TRUNCATE audit_events`.execute(trx)),
          /append-only/,
        );
        await asApp((trx) => trx.insertInto('settings').values({ key: 'probe', value: '1' }).execute());
        // From here on the tests play an attacker with superuser rights, whom the triggers let through.
      });

    it('verifies a long chain before taking the write lock: writers go on meanwhile, and what they append is verified too', async () => {
      // 5,000 events since the last checkpoint: their verification takes tens of milliseconds.
      for (let i = 0; i < 5000; i += 250) {
        await Promise.all(
          Array.from({ length: 250 }, (_, k) =>
            recordEvent(raw.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'fill', i: i + k } }),
          ),
        );
      }
      const cps0 = await raw.db.selectFrom('audit_checkpoints').select('seq').execute();
      const checkpoint = t.core.audit.checkpoint(t.system);
      await new Promise((r) => setImmediate(r));
      // A writer on another connection is not held up by the verification (it used to wait for the
      // checkpoint's whole transaction): it commits before the checkpoint exists.
      const seq = await recordEvent(raw.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'during' } });
      const cps1 = await raw.db.selectFrom('audit_checkpoints').select('seq').execute();
      assert.equal(cps1.length, cps0.length, 'the checkpoint is not written yet');
      const cp = (await checkpoint).checkpoint!;
      assert.ok(cp.seq >= seq, `the checkpoint (${cp.seq}) covers the event appended during its verification (${seq})`);
      assert.equal((await t.core.audit.verify(t.system)).ok, true);
    });

    it('an event appended and then edited while a checkpoint verifies is still refused', async () => {
      for (let i = 0; i < 3000; i += 250) {
        await Promise.all(
          Array.from({ length: 250 }, (_, k) =>
            recordEvent(raw.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'fill', i: i + k } }),
          ),
        );
      }
      const checkpoint = t.core.audit.checkpoint(t.system);
      await new Promise((r) => setImmediate(r));
      const seq = await recordEvent(raw.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'during' }, targetPath: '/acme/in/x' });
      await raw.db.updateTable('audit_events').set({ target_path: '/edited' }).where('seq', '=', seq).execute();
      await assert.rejects(checkpoint, { code: 'INTEGRITY' });
      // Put it back: the chain holds again for the tests after this one.
      await raw.db.updateTable('audit_events').set({ target_path: '/acme/in/x' }).where('seq', '=', seq).execute();
      assert.ok((await t.core.audit.checkpoint(t.system)).checkpoint);
    });

    it('detects a rewritten chain through the signed checkpoints, naming the window', async () => {
      const cp1 = JSON.parse(fs.readFileSync(sinkFile(), 'utf8').trim().split('\n')[0]!) as { seq: number };
      await t.core.admin.folders.create(t.system, '/acme/more');
      const cp = (await t.core.audit.checkpoint(t.system)).checkpoint!;
      const target = cp1.seq + 1; // an event between two checkpoints
      await forge(target, '/innocent');
      const v = await t.core.audit.verify(t.system);
      assert.equal(v.ok, false);
      assert.ok(v.problem!.seq <= target && v.problem!.seq > cp1.seq, `first untrusted event ${v.problem!.seq} within the forged window`);
      assert.match(v.problem!.reason, /rewritten|signed checkpoint/);
      // And the checkpointer refuses to legitimise a broken chain.
      const head = await raw.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
      assert.ok(Number(head.seq) >= cp.seq);
    });

    it('refuses to sign a chain that was edited after the last checkpoint', async () => {
      await t.core.admin.folders.create(t.system, '/acme/late');
      const row = await raw.db.selectFrom('audit_events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
      await raw.db.updateTable('audit_events').set({ target_path: '/edited' }).where('seq', '=', row.seq).execute();
      await assert.rejects(t.core.audit.checkpoint(t.system), { code: 'INTEGRITY' });
    });

    it('detects a database rolled back behind the sink, and a forged signature', async () => {
      const cps = await raw.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq').execute();
      const last = cps.at(-1)!;
      await raw.db.deleteFrom('audit_checkpoints').where('seq', '=', last.seq).execute();
      let v = await t.core.audit.verify(t.system);
      assert.equal(v.ok, false);
      assert.match(v.problem!.reason, /missing from the database/);
      await raw.db
        .insertInto('audit_checkpoints')
        .values({ ...last, signature: Buffer.alloc(64, 1).toString('base64') })
        .execute();
      v = await t.core.audit.verify(t.system);
      assert.equal(v.ok, false);
      assert.match(v.problem!.reason, /signature of checkpoint/);
    });
  });
}

describe('ledger checkpoints to syslog (RFC 5424 over TCP)', () => {
  it('sends every checkpoint as an octet-counted RFC 5424 message with structured data', async () => {
    const { default: net } = await import('node:net');
    const received: string[] = [];
    const server = net.createServer((s) => {
      let buf = '';
      s.on('data', (c: Buffer) => (buf += c.toString('utf8')));
      s.on('end', () => received.push(buf));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const t = await testInstance('sqlite', { SLUICE_AUDIT_SYSLOG: `tcp://127.0.0.1:${port}` });
    try {
      await t.core.admin.orgs.create(t.system, { name: 'Syslog Co' });
      const r = await t.core.audit.checkpoint(t.system);
      assert.deepEqual(r.sinkErrors, []);
      for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
      assert.equal(received.length, 1);
      const m =
        /^(\d+) (<110>1 \S+ \S+ sluice - CHECKPOINT \[sluice@32473 seq="(\d+)" hash="([0-9a-f]{64})" ts="\d+" keyId="[0-9a-f]{16}" sig="[A-Za-z0-9+/=]+"\] .*)$/.exec(
          received[0]!,
        );
      assert.ok(m, received[0]);
      assert.equal(Number(m[1]), Buffer.byteLength(m[2]!), 'octet count matches the message');
      assert.equal(Number(m[3]), r.checkpoint!.seq);
      assert.equal(m[4], r.checkpoint!.hash);
    } finally {
      await t.cleanup();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('a collector that is down is reported as a sink failure and alerted, and the checkpoint still stands', async () => {
    const t = await testInstance('sqlite', { SLUICE_AUDIT_SYSLOG: 'tcp://127.0.0.1:1' });
    try {
      await t.core.admin.orgs.create(t.system, { name: 'Down Co' });
      const r = await t.core.audit.checkpoint(t.system);
      assert.ok(r.checkpoint);
      assert.equal(r.sinkErrors.length, 1);
      const alerts = await t.core.audit.events(t.system, { action: 'alert' });
      assert.equal(alerts.at(-1)!.detail.code, 'LEDGER_SINK_FAILED');
      assert.equal((await t.core.audit.verify(t.system)).ok, true);
    } finally {
      await t.cleanup();
    }
  });
});
