/**
 * Group commit of write transactions (src/core/tx.ts): callers waiting for the write lock share
 * one database transaction and one commit, each in its own savepoint. A caller that fails must
 * not disturb the others or the hash chain; nobody may be told "done" before the commit; the
 * chain must verify after concurrent load and after the process is killed mid-stream.
 */
import { describe, it, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/dialects.js';
import { openDatabase, type OpenedDb } from '../../src/adapters/db/connect.js';
import { flushWrites, groupCommitStats, LAZY_MS, recordEvent, writeTx } from '../../src/core/tx.js';
import { verifyLedger } from '../../src/core/audit/verify-ledger.js';
import { systemClock } from '../../src/ports/clock.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

for (const dialect of DIALECTS) {
  describe(`group commit (${dialect})`, () => {
    let fresh: FreshDatabase;
    let o: OpenedDb;
    const head = async () => Number((await o.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
    const detailOf = async (seq: number) => {
      const r = await o.db.selectFrom('audit_events').select(['action', 'detail']).where('seq', '=', seq).executeTakeFirst();
      return r ? { action: r.action, ...(JSON.parse(r.detail) as Record<string, unknown>) } : undefined;
    };

    before(async () => {
      fresh = await freshDatabase(dialect);
      o = await openDatabase({ url: fresh.url, sqlitePath: fresh.sqlitePath });
    });
    after(async () => {
      await o.close();
      await fresh.cleanup();
    });

    it('a failing caller in a group rolls back only itself; the others commit with a contiguous chain', async () => {
      const start = await head();
      const stats0 = groupCommitStats(o.db);
      const N = 40;
      // The first caller of the group (no savepoint of its own) and callers in the middle fail.
      const fails = (i: number) => i === 0 || i % 5 === 2;
      const settled = await Promise.allSettled(
        Array.from({ length: N }, (_, i) =>
          writeTx(o.db, systemClock, async (s) => {
            await s.trx
              .insertInto('settings')
              .values({ key: `gc-${i}`, value: String(i) })
              .execute();
            const seq = await s.audit({ action: 'ledger.probe', outcome: 'success', detail: { probe: 'group', i } });
            if (fails(i)) throw new Error(`caller ${i} fails after its change and event`);
            return seq;
          }),
        ),
      );
      const stats1 = groupCommitStats(o.db);
      const ok = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, seq: r.value }] : []));
      settled.forEach((r, i) => {
        if (fails(i)) assert.equal(r.status === 'rejected' && (r.reason as Error).message, `caller ${i} fails after its change and event`);
        else assert.equal(r.status, 'fulfilled', `caller ${i}`);
      });
      // Grouping happened (else this test proves nothing about groups): fewer commits than callers.
      assert.ok(stats1.commits - stats0.commits < ok.length / 2, `commits ${stats1.commits - stats0.commits} for ${ok.length} callers`);
      // The successful callers hold consecutive seqs in arrival order; the failed ones left no trace.
      assert.deepEqual(
        ok.map((x) => x.seq),
        ok.map((_, k) => start + 1 + k),
      );
      assert.equal(await head(), start + ok.length);
      for (const x of ok) assert.deepEqual(await detailOf(x.seq), { action: 'ledger.probe', probe: 'group', i: x.i });
      const rows = await o.db.selectFrom('settings').select('key').where('key', 'like', 'gc-%').execute();
      assert.deepEqual(rows.map((r) => r.key).sort(), ok.map((x) => `gc-${x.i}`).sort());
      const v = await verifyLedger(o.db);
      assert.equal(v.ok, true, JSON.stringify(v.problem));
    });

    it('when the group commit fails, every caller in it is rejected and nothing of theirs exists', async () => {
      // A deferred foreign key is checked only at COMMIT: one caller's row makes the commit fail.
      await sql`CREATE TABLE gc_parent (id integer PRIMARY KEY)`.execute(o.db);
      await sql`CREATE TABLE gc_child (id integer PRIMARY KEY, parent integer REFERENCES gc_parent (id) DEFERRABLE INITIALLY DEFERRED)`.execute(o.db);
      const start = await head();
      const settled = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          writeTx(o.db, systemClock, async (s) => {
            if (i === 4) await sql`INSERT INTO gc_child (id, parent) VALUES (1, 999)`.execute(s.trx);
            return s.audit({ action: 'ledger.probe', outcome: 'success', detail: { probe: 'doomed', i } });
          }),
        ),
      );
      assert.deepEqual(
        settled.map((r) => r.status),
        Array(10).fill('rejected'),
        'no caller is acknowledged for a commit that failed',
      );
      assert.equal(await head(), start);
      assert.equal(
        (await o.db.selectFrom('audit_events').select('seq').where('action', '=', 'ledger.probe').where('detail', 'like', '%"probe":"doomed"%').execute())
          .length,
        0,
      );
      // The next writes work and chain on.
      const seq = await recordEvent(o.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'after' } });
      assert.equal(seq, start + 1);
      assert.equal((await verifyLedger(o.db)).ok, true);
    });

    it('a group with a durable caller is durable for all; a relaxed group admits no durable caller that arrives during it', async () => {
      const start = await head();
      const stats0 = groupCommitStats(o.db);
      // Queued together: relaxed, relaxed, durable, relaxed — one durable group takes them all.
      const kinds = [false, false, true, false];
      const seqs = await Promise.all(
        kinds.map((durable, i) =>
          recordEvent(o.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'relaxed', i, durable } }, { durable }),
        ),
      );
      const stats1 = groupCommitStats(o.db);
      assert.deepEqual(seqs, [start + 1, start + 2, start + 3, start + 4]);
      assert.equal(stats1.commits - stats0.commits, 1, 'one group, durable');
      for (let i = 0; i < kinds.length; i++) assert.equal(((await detailOf(seqs[i]!)) as { i?: number } | undefined)?.i, i);
      // A relaxed group already running: the durable caller arriving now starts the next group.
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const relaxed = writeTx(
        o.db,
        systemClock,
        async (s) => {
          entered();
          await gate;
          return s.audit({ action: 'ledger.probe', outcome: 'success', detail: { probe: 'relaxed', late: false } });
        },
        { durable: false },
      );
      await inside;
      const durable = recordEvent(o.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'relaxed', late: true } });
      release();
      assert.deepEqual(await Promise.all([relaxed, durable]), [start + 5, start + 6]);
      assert.equal(groupCommitStats(o.db).commits - stats1.commits, 2, 'the relaxed group, then the durable one');
      if (dialect === 'sqlite') {
        // SQLite has one connection: a level left at NORMAL would make every later commit relaxed.
        const level = await sql<{ synchronous: number }>`pragma synchronous`.execute(o.db);
        assert.equal(level.rows[0]?.synchronous, 2, 'synchronous is FULL again');
      }
      assert.equal((await verifyLedger(o.db)).ok, true);
    });

    it('a lazy caller rides with the next group, commits alone when none comes, and flushWrites commits it at once', async () => {
      const start = await head();
      const stats0 = groupCommitStats(o.db);
      const lazy = (i: number) =>
        recordEvent(o.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'lazy', i } }, { durable: false, lazy: true });
      // Called in the same turn as a durable write: one commit for both, in call order.
      const both = await Promise.all([lazy(1), recordEvent(o.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'durable' } })]);
      assert.deepEqual(both, [start + 1, start + 2]);
      assert.equal(groupCommitStats(o.db).commits - stats0.commits, 1);
      // Alone: committed by itself after a short wait.
      assert.equal(await lazy(2), start + 3);
      assert.equal(((await detailOf(start + 3)) as Record<string, unknown> | undefined)?.probe, 'lazy');
      // flushWrites does not wait for the timer.
      let done = false;
      void lazy(3).then(() => (done = true));
      await flushWrites(o.db);
      assert.equal(((await detailOf(start + 4)) as Record<string, unknown> | undefined)?.probe, 'lazy', 'committed by the flush');
      await Promise.resolve();
      assert.equal(done, true, 'the caller is told');
      assert.equal(groupCommitStats(o.db).commits - stats0.commits, 3);
      // It waits: with the clock stopped nothing is committed until LAZY_MS have passed.
      mock.timers.enable({ apis: ['setTimeout'] });
      try {
        const waiting = lazy(4);
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
        assert.equal(await detailOf(start + 5), undefined, 'not committed before LAZY_MS');
        mock.timers.tick(LAZY_MS);
        assert.equal(await waiting, start + 5);
      } finally {
        mock.timers.reset();
      }
      assert.equal((await verifyLedger(o.db)).ok, true);
    });

    it('16 concurrent writers: every append lands once, in groups, and the chain verifies', async () => {
      const start = await head();
      const stats0 = groupCommitStats(o.db);
      const seqs: number[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          for (let i = 0; i < 25; i++)
            seqs.push(await recordEvent(o.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'load', w, i } }));
        }),
      );
      const stats1 = groupCommitStats(o.db);
      assert.equal(new Set(seqs).size, 400);
      assert.deepEqual(
        [...seqs].sort((a, b) => a - b),
        Array.from({ length: 400 }, (_, k) => start + 1 + k),
      );
      assert.ok(stats1.members - stats0.members >= 400 && stats1.commits - stats0.commits < 200, `${stats1.commits - stats0.commits} commits for 400 appends`);
      const v = await verifyLedger(o.db);
      assert.equal(v.ok, true, JSON.stringify(v.problem));
      assert.equal(v.events, start + 400);
    });

    it('kill -9 in the middle of grouped commits: the chain verifies and every acknowledged event is there', async () => {
      const start = await head();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'test/helpers/ledger-writer-child.ts'), fresh.sqlitePath, ...(fresh.url ? [fresh.url] : [])],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const acks: { w: number; i: number; seq: number }[] = [];
      let grouped = 0;
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${acks.length} acknowledgements in 120 s`)), 120_000);
        readline.createInterface({ input: child.stdout! }).on('line', (line) => {
          const p = line.split(' ');
          if (p[0] === 'stats') grouped = Math.max(grouped, Number(p[2]) - Number(p[1]));
          else if (p.length === 3) acks.push({ w: Number(p[0]), i: Number(p[1]), seq: Number(p[2]) });
          // Enough acknowledged, writers still running: kill it mid-stream.
          if (acks.length >= 300 && grouped > 0 && child.exitCode === null && !child.killed) {
            child.kill('SIGKILL');
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', () => {
          clearTimeout(timer);
          if (!child.killed) reject(new Error(`the writer exited on its own (${child.exitCode})`));
        });
      });
      await exited;
      assert.ok(grouped > 0, 'the child committed in groups');
      // Whatever was in flight is gone or complete; the chain is whole.
      const v = await verifyLedger(o.db);
      assert.equal(v.ok, true, JSON.stringify(v.problem));
      const end = await head();
      assert.ok(end >= start + acks.length);
      for (const a of acks) assert.deepEqual(await detailOf(a.seq), { action: 'ledger.probe', probe: 'crash', w: a.w, i: a.i }, `acknowledged event ${a.seq}`);
      // And writing goes on from where the chain ends.
      assert.equal(await recordEvent(o.db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'after-crash' } }), end + 1);
      assert.equal((await verifyLedger(o.db)).ok, true);
    });
  });
}
