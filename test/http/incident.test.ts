/**
 * Incident response over real HTTP: a partner account in the wrong hands reads two partners'
 * files and a canary. The scope answers with tables (files, partners, data subjects) in the
 * configured time zone, cut tables saying so; downloads as CSV (formula cells neutralised, the
 * zone named) and JSON; notification drafts per partner that never name the canary; the Art. 33
 * report entirely in German or entirely in English; partners refused by the core, in the ledger.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, errorCode, serve, tokenFor, type Served } from './helpers.js';

interface TableOut {
  columns: string[];
  rows: Record<string, string | number | null>[];
  total: number;
  cut: boolean;
}
interface ScopeOut {
  timeZone: string;
  totals: Record<string, number>;
  tables: { files: TableOut; partners: TableOut; subjects: TableOut };
}

async function* body(s: string) {
  yield Buffer.from(s);
}

for (const dialect of DIALECTS) {
  describe(`HTTP incident scope, drafts and Art. 33 report (${dialect})`, () => {
    let s: Served;
    let admin: string;
    let thief: string;
    const from = new Date(Date.now() - 60_000).toISOString();
    const post = async (p: string, b: unknown, tok = admin) => {
      const r = await fetch(`${s.base}${p}`, { method: 'POST', headers: { ...bearer(tok), 'content-type': 'application/json' }, body: JSON.stringify(b) });
      const text = await r.text();
      return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) as unknown };
    };
    const filter = () => ({ from, users: ['thief'] });

    before(async () => {
      s = await serve(dialect, { SLUICE_TIME_ZONE: 'Europe/Berlin' });
      const sys = s.t.system;
      await s.t.user('root', { role: 'admin' });
      admin = await tokenFor(s.t, 'root');
      await s.t.core.admin.orgs.create(sys, { name: 'Praxis Nord', ik: '123456780', contacts: [{ email: 'praxis@nord.example' }] });
      await s.t.core.admin.orgs.create(sys, { name: '=Labor Süd', betriebsnummer: '98000006' });
      await s.t.core.admin.folders.create(sys, '/nord', { org: 'Praxis Nord' });
      await s.t.core.admin.folders.create(sys, '/sued', { org: '=Labor Süd' });
      await s.t.core.files.upload(sys, '/nord/abrechnung.csv', body('a'.repeat(3000)), { metadata: { records: 120, categories: ['health'] } });
      await s.t.core.files.upload(sys, '/sued/befunde.csv', body('b'.repeat(500)));
      await s.t.core.canaries.plant(sys, '/nord/zz-kontrolle.csv', 'trap');
      await s.t.core.admin.orgs.create(sys, { name: 'Rechenzentrum' });
      await s.t.user('thief', { org: 'Rechenzentrum' });
      await s.t.core.admin.grants.set(sys, 'org:Rechenzentrum', '/', 'list,read');
      thief = await tokenFor(s.t, 'thief');
      // 30 reads of one file: more ledger events than a draft cites.
      for (let i = 0; i < 30; i++) assert.equal((await fetch(`${s.base}/api/v1/fs/nord/abrechnung.csv`, { headers: bearer(thief) })).status, 200);
      assert.equal((await fetch(`${s.base}/api/v1/fs/sued/befunde.csv`, { headers: bearer(thief) })).status, 200);
      // The canary last: reading it trips the thief's budget.
      const c = await fetch(`${s.base}/api/v1/fs/nord/zz-kontrolle.csv`, { headers: bearer(thief) });
      await c.arrayBuffer();
    });
    after(() => s.close());

    it('answers the scope as tables in the configured time zone; canaries are canaries, not partner data', async () => {
      const r = await post('/api/v1/admin/incident/scope', filter());
      assert.equal(r.status, 200, r.text);
      const sc = r.json() as ScopeOut;
      assert.equal(sc.timeZone, 'Europe/Berlin');
      const files = sc.tables.files.rows;
      const kinds = files.map((f) => `${f.kind} ${f.path}`).sort();
      assert.deepEqual(kinds, ['canary-read /nord/zz-kontrolle.csv', 'read /nord/abrechnung.csv', 'read /sued/befunde.csv']);
      const nord = files.find((f) => f.path === '/nord/abrechnung.csv')!;
      assert.match(String(nord.first), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$/, 'local time with the offset');
      assert.equal(nord.extent, 'complete');
      const partners = sc.tables.partners.rows;
      assert.deepEqual(partners.map((p) => p.organisation).sort(), ['=Labor Süd', 'Praxis Nord']);
      const pn = partners.find((p) => p.organisation === 'Praxis Nord')!;
      assert.equal(pn.filesRead, 1, 'the canary is not counted as a file of the partner');
      assert.equal(pn.ik, '123456780');
      assert.equal(pn.bytesRead, 30 * 3000);
      assert.deepEqual(sc.tables.subjects.rows.map((x) => [x.organisation, x.dataSubjects, x.filesWithoutCount]).sort(), [
        ['=Labor Süd', 0, 1],
        ['Praxis Nord', 120, 0],
      ]);
      assert.equal(sc.totals.filesRead, 2);
      assert.equal(sc.totals.canaryReads, 1);
      // A table cut for display says so; the download has every row.
      const cut = (await post('/api/v1/admin/incident/scope?limit=1', filter())).json() as ScopeOut;
      assert.deepEqual([cut.tables.files.rows.length, cut.tables.files.total, cut.tables.files.cut], [1, 3, true]);
      assert.deepEqual([cut.tables.subjects.rows.length, cut.tables.subjects.total, cut.tables.subjects.cut], [1, 2, true]);
      const whole = (await post('/api/v1/admin/incident/scope?limit=10', filter())).json() as ScopeOut;
      assert.equal(whole.tables.files.cut, false);
      // Bad input is refused by the core.
      const none = await post('/api/v1/admin/incident/scope', { from });
      assert.equal(none.status, 400);
      assert.equal(errorCode(none.json()), 'INVALID_INPUT');
    });

    it('downloads tables as CSV (zone named, formulas neutralised) and JSON, and the whole scope', async () => {
      const csv = await post('/api/v1/admin/incident/scope/download?table=files&format=csv', filter());
      assert.equal(csv.status, 200, csv.text);
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      assert.match(csv.headers.get('content-disposition') ?? '', /^attachment; filename="sluice-incident-files-.*\.csv"$/);
      const lines = csv.text
        .replace(/^\uFEFF/, '')
        .trimEnd()
        .split('\r\n');
      assert.match(lines[0]!, /"first \(Europe\/Berlin\)","last \(Europe\/Berlin\)"/);
      assert.equal(lines.length, 4);
      const sued = lines.find((l) => l.includes('/sued/befunde.csv'))!;
      assert.ok(sued.includes(`"'=Labor Süd"`), sued);
      const partners = await post('/api/v1/admin/incident/scope/download?table=partners&format=csv', filter());
      assert.ok(partners.text.includes(`"'=Labor Süd"`));
      assert.ok(!/(^|,)"=/.test(partners.text.replace(/^\uFEFF/, '')), 'no cell starts with =');
      const json = await post('/api/v1/admin/incident/scope/download?table=subjects&format=json', filter());
      assert.equal(json.status, 200);
      const t = json.json() as TableOut & { timeZone: string };
      assert.equal(t.timeZone, 'Europe/Berlin');
      assert.equal(t.rows.length, 2);
      const whole = await post('/api/v1/admin/incident/scope/download?table=scope&format=json', filter());
      const sc = whole.json() as { reads: { path: string }[]; canaryReads: { path: string }[] };
      assert.deepEqual(
        sc.canaryReads.map((x) => x.path),
        ['/nord/zz-kontrolle.csv'],
      );
      assert.ok(!sc.reads.some((x) => x.path.includes('kontrolle')));
    });

    it('drafts one message per partner, never naming the canary, times with the zone, cut lists saying so', async () => {
      const en = await post('/api/v1/admin/incident/notify', { ...filter(), lang: 'en', sender: 'Security team' });
      assert.equal(en.status, 200, en.text);
      const r = en.json() as { timeZone: string; drafts: { org: string; to: string[]; subject: string; text: string }[]; withoutContact: string[] };
      assert.deepEqual(r.drafts.map((d) => d.org).sort(), ['=Labor Süd', 'Praxis Nord']);
      assert.deepEqual(r.withoutContact, ['=Labor Süd']);
      const nord = r.drafts.find((d) => d.org === 'Praxis Nord')!;
      assert.deepEqual(nord.to, ['praxis@nord.example']);
      assert.doesNotMatch(nord.text, /kontrolle/, 'the canary is never named as leaked partner data');
      assert.match(nord.text, /\/nord\/abrechnung\.csv \(complete, 87[.,]89 KiB/);
      assert.match(nord.text, /\(Europe\/Berlin\)/);
      assert.match(nord.text, /\b(CET|CEST|GMT\+1|GMT\+2)\b/);
      assert.match(nord.text, /and 10 more \(list cut at 50 entries\)/, 'the cited events are cut, and it says so');
      assert.doesNotMatch(nord.text, /sued/, "one partner never sees another partner's files");
      const de = (await post('/api/v1/admin/incident/notify', { ...filter(), lang: 'de' })).json() as typeof r;
      const nordDe = de.drafts.find((d) => d.org === 'Praxis Nord')!;
      assert.match(nordDe.subject, /Sicherheitsvorfall/);
      assert.match(nordDe.text, /vollständig, 87,89 KiB/);
      assert.match(nordDe.text, /\b(MEZ|MESZ)\b/);
      assert.match(nordDe.text, /und 10 weitere \(Liste nach 50 Einträgen gekürzt\)/);
    });

    it('writes the Art. 33 report entirely in one language, canaries apart', async () => {
      const de = await post('/api/v1/admin/incident/report?lang=de', filter());
      assert.equal(de.status, 200, de.text);
      const d = de.json() as { lang: string; timeZone: string; markdown: string };
      assert.equal(d.lang, 'de');
      assert.match(d.markdown, /Art\. 33 DSGVO/);
      assert.match(d.markdown, /Alle Zeiten in der Zeitzone Europe\/Berlin\./);
      assert.match(d.markdown, /Ungefähre Zahl der betroffenen Personen: 120/);
      assert.match(d.markdown, /Gelesene Köderdateien[^\n]*\n- \/nord\/zz-kontrolle\.csv, [^\n]*(MEZ|MESZ), durch thief/);
      assert.match(d.markdown, /\| Praxis Nord \| 123456780 \| 1 \| 1 \|/);
      for (const english of [/Controller/, /Notification of/, /Data subjects/, /Measures taken/, /Time line/, /Evidence/, /\bby\b/])
        assert.doesNotMatch(d.markdown, english, `German report has no English: ${english}`);
      const en = (await post('/api/v1/admin/incident/report?lang=en', filter())).json() as typeof d;
      assert.match(en.markdown, /GDPR Art\. 33/);
      assert.match(en.markdown, /All times in the time zone Europe\/Berlin\./);
      assert.match(en.markdown, /Canary files read[^\n]*\n- \/nord\/zz-kontrolle\.csv, [^\n]*(CET|CEST|GMT\+1), by thief/);
      for (const german of [/Verantwortlich/, /Betroffene/, /Maßnahmen/, /Zeitlicher/, /Nachweis/, /DSGVO/, /durch/])
        assert.doesNotMatch(en.markdown, german, `English report has no German: ${german}`);
      const md = await post('/api/v1/admin/incident/report?lang=en&format=md', filter());
      assert.match(md.headers.get('content-type') ?? '', /^text\/markdown/);
      assert.match(md.headers.get('content-disposition') ?? '', /^attachment; filename="sluice-art33-en-/);
      assert.match(md.text, /^# Notification of a personal data breach/);
    });

    it('partners are refused by the core, and the refusals are in the ledger', async () => {
      for (const p of [
        '/api/v1/admin/incident/scope',
        '/api/v1/admin/incident/scope/download?table=files&format=csv',
        '/api/v1/admin/incident/notify',
        '/api/v1/admin/incident/report',
      ]) {
        const r = await post(p, filter(), thief);
        assert.equal(r.status, 403, p);
        assert.equal(errorCode(r.json()), 'PERMISSION_DENIED');
      }
      const denied = await s.t.core.audit.search(s.t.system, { user: 'thief', outcome: 'denied', action: 'incident.*' });
      assert.equal(denied.events.length, 4);
    });
  });
}
