import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { testInstance, TEST_PASSWORD, type TestInstance } from '../helpers/instance.js';
import { scopeCsv, scopeText, type Principal } from '../../src/core/index.js';

async function* body(s: string) {
  yield Buffer.from(s);
}
async function drain(d: { stream: NodeJS.ReadableStream; finished: Promise<void> }) {
  for await (const _ of d.stream) void _;
  await d.finished;
}

for (const dialect of DIALECTS) {
  describe(`incident scope (${dialect})`, () => {
    let t: TestInstance;
    let attacker: Principal; // partner credential used from the attacker's address
    let honest: Principal; // the same partner's real traffic
    const t0 = Date.now() - 1000;
    before(async () => {
      t = await testInstance(dialect);
      for (const [org, ik] of [
        ['Praxis A', '100000000'],
        ['Praxis B', '100000011'],
        ['Praxis C', '100000022'],
      ] as const) {
        await t.core.admin.orgs.create(t.system, { name: org, ik, contacts: [{ email: `it@${ik}.example` }] });
        const dir = `/${org.replace(' ', '-').toLowerCase()}`;
        await t.core.admin.folders.create(t.system, `${dir}/out`, { org });
        for (let i = 0; i < 3; i++)
          await t.core.files.upload(t.system, `${dir}/out/r${i}.csv`, body(`rows ${i}`.repeat(100)), {
            metadata: { records: 10 * (i + 1), categories: ['health', 'billing'] },
          });
      }
      await t.core.admin.orgs.create(t.system, { name: 'Rechenzentrum' });
      await t.user('rz', { org: 'Rechenzentrum' });
      await t.core.admin.grants.set(t.system, 'org:Rechenzentrum', '/praxis-a', 'list,read');
      await t.core.admin.grants.set(t.system, 'org:Rechenzentrum', '/praxis-b', 'list,read,write');
      attacker = await t.core.auth.password('rz', TEST_PASSWORD, { protocol: 'sftp', remoteAddr: '198.51.100.23' });
      honest = await t.core.auth.password('rz', TEST_PASSWORD, { protocol: 'http', remoteAddr: '10.20.30.40' });
      await assert.rejects(t.core.auth.password('rz', 'guessing wrong', { protocol: 'sftp', remoteAddr: '198.51.100.23' }));
      // The attacker: two whole files of A, a part of one file of B, an upload to B.
      await drain(await t.core.files.openDownload(attacker, '/praxis-a/out/r0.csv'));
      await drain(await t.core.files.openDownload(attacker, '/praxis-a/out/r1.csv'));
      await drain(await t.core.files.openDownload(attacker, '/praxis-b/out/r2.csv', { range: { start: 0, end: 99 } }));
      await t.core.files.upload(attacker, '/praxis-b/out/drop.bin', body('x'));
      // Honest traffic from the partner's own address: not in an IP-scoped report.
      await drain(await t.core.files.openDownload(honest, '/praxis-a/out/r2.csv'));
      await t.core.audit.checkpoint(t.system);
    });
    after(() => t.cleanup());

    it('names exactly what left through the attacker address, per organisation, with evidence', async () => {
      const s = await t.core.incident.scope(t.system, { from: t0, to: Date.now() + 1, ips: ['198.51.100.23'] });
      assert.deepEqual(s.reads.map((r) => [r.path, r.extent]).sort(), [
        ['/praxis-a/out/r0.csv', 'complete'],
        ['/praxis-a/out/r1.csv', 'complete'],
        ['/praxis-b/out/r2.csv', 'partial'],
      ]);
      assert.equal(s.reads.find((r) => r.path.endsWith('r2.csv'))!.bytes, 100);
      assert.deepEqual(
        s.writes.map((w) => w.path),
        ['/praxis-b/out/drop.bin'],
      );
      assert.deepEqual(s.organisations.map((o) => [o.org, o.filesRead, o.filesReadCompletely]).sort(), [
        ['Praxis A', 2, 2],
        ['Praxis B', 1, 0],
      ]);
      const a = s.organisations.find((o) => o.org === 'Praxis A')!;
      assert.equal(a.dataSubjects, 10 + 20);
      assert.deepEqual(a.dataCategories, ['billing', 'health']);
      assert.deepEqual(a.contacts, [{ email: 'it@100000000.example' }]);
      assert.equal(s.actors[0]!.failedLogins, 1);
      assert.ok(s.ledger.checkpoint && s.ledger.checkpoint.seq >= s.ledger.lastSeq!, 'a signed checkpoint covers the cited events');
      for (const r of s.reads) for (const seq of r.events) assert.ok(seq >= s.ledger.firstSeq! && seq <= s.ledger.lastSeq!);
      const text = scopeText(s);
      assert.match(text, /3 file\(s\) read/);
      assert.match(text, /covered by signed checkpoint/);
      const csv = scopeCsv(s);
      assert.equal(csv.trim().split('\r\n').length, 1 + 3 + 1);
    });

    it('by user covers both addresses; by token only the token; the query is recorded', async () => {
      const byUser = await t.core.incident.scope(t.system, { from: t0, to: Date.now() + 1, users: ['rz'] });
      assert.equal(byUser.reads.length, 4);
      assert.equal((await t.core.incident.scope(t.system, { from: t0, to: Date.now() + 1, orgs: ['Rechenzentrum'] })).reads.length, 4);
      const { token, info } = await t.core.admin.tokens.create(t.system, 'rz', { expiresInMs: 60_000 });
      const viaToken = await t.core.auth.token(token, { protocol: 'http', remoteAddr: '10.20.30.40' });
      await drain(await t.core.files.openDownload(viaToken, '/praxis-a/out/r0.csv'));
      const byToken = await t.core.incident.scope(t.system, { from: t0, to: Date.now() + 1, tokens: [info.id] });
      assert.deepEqual(
        byToken.reads.map((r) => r.path),
        ['/praxis-a/out/r0.csv'],
      );
      assert.ok((await t.core.audit.events(t.system, { action: 'incident.scope' })).length >= 4);
      await assert.rejects(t.core.incident.scope(t.system, { from: t0, to: Date.now() }), { code: 'INVALID_INPUT' });
      await assert.rejects(t.core.incident.scope(attacker, { from: t0, to: Date.now(), ips: ['x'] }), { code: 'PERMISSION_DENIED' });
    });

    it('CSV cells cannot become formulas', () => {
      const csv = scopeCsv({
        reads: [
          {
            fileId: null,
            path: '=HYPERLINK("http://evil")',
            sha256: null,
            orgId: null,
            org: '+cmd',
            extent: 'complete',
            bytes: 1,
            times: ['a', 'b'],
            by: ['@x'],
            addresses: [],
            protocols: [],
            dataSubjects: null,
            dataCategories: [],
            events: [],
          },
        ],
        writes: [],
        deletes: [],
      } as never);
      assert.match(csv, /"'=HYPERLINK\(""http:\/\/evil""\)"/);
      assert.match(csv, /"'\+cmd"/);
      assert.match(csv, /"'@x"/);
    });
  });
}
