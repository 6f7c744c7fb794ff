/**
 * The security officer's ledger over real HTTP: every filter, keyset pages that cover the
 * selection exactly once in both orders, CSV (formula injection neutralised) and JSONL exports
 * streamed, the verification state (checkpoint, its age, tail chain, sinks, last verification),
 * the indexes every filter needs on both dialects, and partners refused by the core with the
 * denial in the ledger.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { sql } from 'kysely';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths as instancePaths } from '../../src/app/instance.js';
import { bearer, errorCode, serve, tokenFor, type Served } from './helpers.js';

interface Ev {
  seq: number;
  action: string;
  login: string | null;
  outcome: string;
  protocol: string;
  path: string | null;
  remoteAddr: string | null;
  orgId: string | null;
  fileId: string | null;
  time: string;
}
interface Page {
  events: Ev[];
  next?: string;
}

for (const dialect of DIALECTS) {
  describe(`HTTP ledger search, export and state (${dialect})`, () => {
    let s: Served;
    let admin: string;
    let alice: string;
    let orgId: string;
    const get = async (p: string, tok = admin) => {
      const r = await fetch(`${s.base}${p}`, { headers: bearer(tok) });
      const text = await r.text();
      return {
        status: r.status,
        headers: r.headers,
        text,
        body: r.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as unknown) : undefined,
      };
    };
    const openDb = () => openDatabase({ url: s.t.config.databaseUrl, sqlitePath: instancePaths(s.t.config).sqlite });
    const search = async (q: string) => {
      const r = await get(`/api/v1/admin/ledger/events?${q}`);
      assert.equal(r.status, 200, r.text);
      return r.body as Page;
    };
    /** Every event of a selection, page by page. */
    const all = async (q: string, limit: number) => {
      const out: Ev[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 1000; i++) {
        const p = await search(`${q}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        out.push(...p.events);
        if (!p.next) return out;
        cursor = p.next;
      }
      throw new Error('paging did not end');
    };

    before(async () => {
      s = await serve(dialect);
      await s.t.user('root', { role: 'admin' });
      admin = await tokenFor(s.t, 'root');
      const org = await s.t.core.admin.orgs.create(s.t.system, { name: 'Praxis Muster', ik: '123456780' });
      orgId = org.id;
      await s.t.core.admin.folders.create(s.t.system, '/muster', { org: 'Praxis Muster' });
      await s.t.user('alice', { org: 'Praxis Muster' });
      await s.t.core.admin.grants.set(s.t.system, 'alice', '/muster', 'list,read,write');
      alice = await tokenFor(s.t, 'alice');
      for (const name of ['a.txt', 'b.txt', '=SUM(1).txt', '@SUM(1).csv', '+1.txt', '-2.txt']) {
        const r = await fetch(`${s.base}/api/v1/fs/muster/${encodeURIComponent(name)}`, { method: 'PUT', headers: bearer(alice), body: `x ${name}` });
        assert.equal(r.status, 201, name);
      }
      for (let i = 0; i < 5; i++) assert.equal((await fetch(`${s.base}/api/v1/fs/muster/a.txt`, { headers: bearer(alice) })).status, 200);
      // Denied: delete without permission, and a folder that is not hers.
      assert.equal((await fetch(`${s.base}/api/v1/fs/muster/b.txt`, { method: 'DELETE', headers: bearer(alice) })).status, 403);
      assert.equal((await fetch(`${s.base}/api/v1/fs/other/x.txt`, { headers: bearer(alice) })).status, 404);
    });
    after(() => s.close());

    it('filters by user, organisation, action (and family), outcome, protocol, path, file, address and window', async () => {
      const byAlice = await all('user=alice', 100);
      assert.ok(byAlice.length >= 13, String(byAlice.length));
      assert.ok(byAlice.every((e) => e.login === 'alice'));
      const reads = (await search('action=file.read&user=alice')).events;
      assert.equal(reads.length, 5);
      assert.ok(reads.every((e) => e.action === 'file.read' && e.path === '/muster/a.txt'));
      const family = (await search('action=file.*&user=alice&limit=1000')).events;
      assert.deepEqual(new Set(family.map((e) => e.action.split('.')[0])), new Set(['file']));
      assert.ok(family.some((e) => e.action === 'file.write') && family.some((e) => e.action === 'file.read.end'));
      const denied = (await search('outcome=denied&user=alice')).events;
      assert.equal(denied.length, 2, JSON.stringify(denied));
      assert.ok(denied.every((e) => e.outcome === 'denied'));
      const byOrg = (await search(`org=${encodeURIComponent('Praxis Muster')}&action=file.write`)).events;
      assert.equal(byOrg.length, 6);
      assert.ok(byOrg.every((e) => e.orgId === orgId));
      assert.equal((await search(`org=${orgId}&action=file.write`)).events.length, 6);
      const underPath = (await search('path=/muster&action=file.write')).events;
      assert.equal(underPath.length, 6);
      assert.equal((await search('path=/muster/a.txt&action=file.read')).events.length, 5);
      assert.equal((await search('path=/must&action=file.write')).events.length, 0, 'a path matches whole segments');
      const fileId = reads[0]!.fileId!;
      assert.ok((await search(`fileId=${fileId}`)).events.every((e) => e.fileId === fileId));
      assert.equal((await search('protocol=http&user=alice&action=file.read')).events.length, 5);
      assert.equal((await search('protocol=sftp&user=alice')).events.length, 0);
      assert.equal((await search('address=127.0.0.1&user=alice&action=file.read')).events.length, 5);
      assert.equal((await search('address=203.0.113.9')).events.length, 0);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      assert.equal((await search(`from=${future}`)).events.length, 0);
      const past = new Date(Date.now() - 3_600_000).toISOString();
      assert.equal((await search(`from=${past}&to=${future}&user=alice&action=file.read`)).events.length, 5);
      // Bad input is refused by the core, not guessed at.
      const bad = await get('/api/v1/admin/ledger/events?action=file.read;drop');
      assert.equal(bad.status, 400);
      assert.equal(errorCode(bad.body), 'INVALID_INPUT');
      assert.equal((await get('/api/v1/admin/ledger/events?cursor=12')).status, 400);
      assert.equal((await get('/api/v1/admin/ledger/events?order=asc&cursor=d12')).status, 400);
    });

    it('pages with a cursor cover the selection exactly once, newest first and oldest first', async () => {
      const whole = (await search('limit=1000')).events;
      assert.ok(whole.length > 20);
      const seqs = whole.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => b - a),
        'newest first by default',
      );
      const paged = await all('', 7);
      // The searches themselves are recorded: the paged walk sees at least what the whole page saw.
      const pagedSeqs = paged.map((e) => e.seq).filter((q) => q <= seqs[0]!);
      assert.deepEqual(
        pagedSeqs,
        seqs.filter((q) => q <= seqs[0]!).filter((q) => pagedSeqs.includes(q)),
      );
      assert.equal(new Set(paged.map((e) => e.seq)).size, paged.length, 'no event twice');
      const asc = await all('order=asc', 9);
      const ascSeqs = asc.map((e) => e.seq);
      assert.deepEqual(
        ascSeqs,
        [...ascSeqs].sort((a, b) => a - b),
      );
      assert.equal(ascSeqs[0], 1);
      for (let i = 1; i < ascSeqs.length; i++) assert.equal(ascSeqs[i], ascSeqs[i - 1]! + 1, 'no gap between pages');
    });

    it('exports CSV with formula injection neutralised, and JSONL, streamed as attachments', async () => {
      const csv = await get('/api/v1/admin/ledger/export?format=csv&action=file.write&order=asc');
      assert.equal(csv.status, 200, csv.text);
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      assert.match(csv.headers.get('content-disposition') ?? '', /^attachment; filename="sluice-ledger-.*\.csv"$/);
      const lines = csv.text
        .replace(/^\uFEFF/, '')
        .trimEnd()
        .split('\r\n');
      assert.equal(
        lines[0],
        '"seq","time","actor_type","login","actor_id","org_id","protocol","remote_addr","action","path","file_id","sha256","bytes","outcome","detail","hash"',
      );
      assert.equal(lines.length, 7);
      const paths = lines.slice(1).map((l) => l.split('","')[9]);
      assert.deepEqual(paths, ['/muster/a.txt', '/muster/b.txt', '/muster/=SUM(1).txt', '/muster/@SUM(1).csv', '/muster/+1.txt', '/muster/-2.txt']);
      // A cell that starts with a formula character: only paths start with '/', so check the cells that could.
      const cell = (await import('../../src/core/index.js')).csvCell;
      assert.equal(cell('=1+1'), `"'=1+1"`);
      assert.equal(cell('+1'), `"'+1"`);
      assert.equal(cell('-1'), `"'-1"`);
      assert.equal(cell('@x'), `"'@x"`);
      assert.equal(cell('\tx'), `"'\tx"`);
      assert.equal(cell('\rx'), `"'\rx"`);
      // Logins are the other free text of a row: a user recorded under a formula-like claimed login.
      await fetch(`${s.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: '=cmd|calc', password: 'wrong' }),
      });
      const fails = await get('/api/v1/admin/ledger/export?format=csv&outcome=failure&action=auth.*');
      assert.equal(fails.status, 200);
      const row = fails.text.split('\r\n').find((l) => l.includes('cmd|calc'));
      assert.ok(row, fails.text);
      assert.ok(row.includes(`"'=cmd|calc"`), row);
      assert.ok(!/(^|,)"[=+\-@]/.test(row), row);

      const jsonl = await get('/api/v1/admin/ledger/export?format=jsonl&user=alice');
      assert.equal(jsonl.status, 200);
      assert.match(jsonl.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      const evs = jsonl.text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Ev);
      const searched = await all('user=alice', 1000);
      assert.deepEqual(
        evs.map((e) => e.seq),
        searched.map((e) => e.seq),
      );
      // The export is itself in the ledger.
      const exports = (await search('action=audit.export')).events;
      assert.ok(exports.length >= 3);
    });

    it('shows the verification state: checkpoint and its age, tail chain, sinks, last verification', async () => {
      let st = (await get('/api/v1/admin/ledger/state')).body as {
        head: { seq: number };
        checkpoint: null | { seq: number; ageSeconds: number; signatureValid: boolean | null };
        tail: { events: number; chain: string };
        lastVerification: null | { ok: boolean; by: string };
        signing: boolean;
        sinks: { name: string; healthy: boolean; holdsLastCheckpoint: boolean | null }[];
      };
      assert.equal(st.signing, true);
      assert.equal(st.checkpoint, null);
      assert.equal(st.tail.chain, 'intact');
      assert.equal(st.tail.events, st.head.seq);
      await s.t.core.audit.checkpoint(s.t.system);
      const v = await get('/api/v1/admin/audit/verify');
      assert.equal(v.status, 200);
      st = (await get('/api/v1/admin/ledger/state')).body as typeof st;
      assert.ok(st.checkpoint);
      assert.equal(st.checkpoint.signatureValid, true);
      assert.ok(st.checkpoint.ageSeconds >= 0 && st.checkpoint.ageSeconds < 60);
      assert.equal(st.tail.chain, 'intact');
      assert.ok(st.tail.events >= 1 && st.tail.events < 10, String(st.tail.events));
      assert.deepEqual(st.lastVerification && [st.lastVerification.ok, st.lastVerification.by], [true, 'root']);
      for (const k of st.sinks) assert.equal(k.healthy, true, k.name);
      // An event edited after the checkpoint shows as a broken tail.
      const { db, close } = await openDb();
      try {
        const headSeq = st.head.seq;
        await db.updateTable('audit_events').set({ actor_login: 'mallory' }).where('seq', '=', headSeq).execute();
      } finally {
        await close();
      }
      st = (await get('/api/v1/admin/ledger/state')).body as typeof st;
      assert.equal(st.tail.chain, 'broken');
    });

    it('every filter has an index on this dialect', async () => {
      const { db, close } = await openDb();
      try {
        // The leading column of every index on the ledger table.
        const rows =
          dialect === 'sqlite'
            ? await sql<{
                col: string;
              }>`select ii.name as col from pragma_index_list('audit_events') il, pragma_index_info(il.name) ii where ii.seqno = 0`.execute(db)
            : await sql<{
                col: string;
              }>`select a.attname as col from pg_index i join pg_class t on t.oid = i.indrelid join pg_attribute a on a.attrelid = t.oid and a.attnum = i.indkey[0] where t.relname = 'audit_events'`.execute(
                db,
              );
        const first = new Set(rows.rows.map((r) => r.col));
        for (const col of ['seq', 'ts', 'actor_id', 'actor_login', 'org_id', 'remote_addr', 'action', 'outcome', 'file_id', 'target_path']) {
          assert.ok(first.has(col), `no index leads with ${col} (have ${[...first].join(', ')})`);
        }
      } finally {
        await close();
      }
    });

    it('partners are refused by the core, and the refusal is in the ledger', async () => {
      for (const p of ['/api/v1/admin/ledger/events', '/api/v1/admin/ledger/export?format=csv', '/api/v1/admin/ledger/state']) {
        const r = await get(p, alice);
        assert.equal(r.status, 403, p);
        assert.equal(errorCode(r.body), 'PERMISSION_DENIED');
      }
      const denials = (await search('user=alice&outcome=denied&action=audit.*&limit=10')).events.map((e) => e.action).sort();
      assert.deepEqual(denials, ['audit.export', 'audit.search', 'audit.state']);
    });
  });
}
