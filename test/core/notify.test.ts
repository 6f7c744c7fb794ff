import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { testInstance, TEST_PASSWORD, type TestInstance } from '../helpers/instance.js';
import { render } from '../../src/core/incident/notify.js';

async function* body(s: string) {
  yield Buffer.from(s);
}

describe('partner notification and Art. 33 report', () => {
  let t: TestInstance;
  let smtp: TestSmtp;
  const mails = () => smtp.mails;
  let scope: unknown;
  before(async () => {
    smtp = await startSmtp();
    t = await testInstance('sqlite', { SLUICE_SMTP_URL: smtp.url, SLUICE_MAIL_FROM: 'security@kasse.example' });
    const t0 = Date.now() - 1000;
    await t.core.admin.orgs.create(t.system, {
      name: 'Praxis Nord',
      ik: '200000011',
      contacts: [{ email: 'praxis@nord.example' }, { email: 'it@nord.example' }],
    });
    await t.core.admin.orgs.create(t.system, { name: 'Praxis Süd', ik: '200000022' });
    await t.core.admin.orgs.create(t.system, { name: 'Praxis Ost', ik: '200000033', contacts: [{ email: 'ost@ost.example' }] });
    for (const o of ['nord', 'sued', 'ost'])
      await t.core.admin.folders.create(t.system, `/${o}`, { org: o === 'nord' ? 'Praxis Nord' : o === 'sued' ? 'Praxis Süd' : 'Praxis Ost' });
    await t.core.files.upload(t.system, '/nord/a.csv', body('a'), { metadata: { records: 120, categories: ['health'] } });
    await t.core.files.upload(t.system, '/sued/b.csv', body('b'));
    await t.core.files.upload(t.system, '/ost/c.csv', body('c'));
    await t.core.admin.orgs.create(t.system, { name: 'RZ' });
    await t.user('rz', { org: 'RZ' });
    await t.core.admin.grants.set(t.system, 'org:RZ', '/', 'list,read');
    const thief = await t.core.auth.password('rz', TEST_PASSWORD, { protocol: 'http', remoteAddr: '198.51.100.7' });
    for (const f of ['/nord/a.csv', '/sued/b.csv']) {
      const d = await t.core.files.openDownload(thief, f);
      d.stream.resume();
      await d.finished;
    }
    await t.core.lockdown.set(t.system, { mode: 'closed', reason: 'incident' });
    scope = JSON.parse(JSON.stringify(await t.core.incident.scope(t.system, { from: t0, to: Date.now() + 1, ips: ['198.51.100.7'] })));
  });
  after(async () => {
    await t.cleanup();
    await smtp.close();
  });

  it('drafts exactly one message per affected partner, and sends them over real SMTP', async () => {
    const dry = await t.core.incident.notify(t.system, scope, { lang: 'de', sender: 'AOK Test' });
    assert.deepEqual(dry.drafts.map((d) => d.org).sort(), ['Praxis Nord', 'Praxis Süd']);
    assert.deepEqual(dry.withoutContact, ['Praxis Süd']);
    const nord = dry.drafts.find((d) => d.org === 'Praxis Nord')!;
    assert.match(nord.subject, /Sicherheitsvorfall – Praxis Nord/);
    assert.match(nord.text, /\/nord\/a\.csv \(vollständig/);
    assert.match(nord.text, /Betroffene Personen \(soweit bekannt\): 120/);
    assert.equal(mails().length, 0, 'drafting sends nothing');
    const sent = await t.core.incident.notify(t.system, scope, { lang: 'en', send: true, sender: 'Test' });
    assert.equal(mails().length, 1, 'only partners with a contact get mail');
    assert.deepEqual(mails()[0]!.to.sort(), ['it@nord.example', 'praxis@nord.example']);
    assert.match(mails()[0]!.data, /^Subject: .*Information/m);
    assert.match(mails()[0]!.data, /\/nord\/a\.csv \(complete/);
    assert.doesNotMatch(mails()[0]!.data, /sued/, "one partner never sees another partner's files");
    assert.equal(sent.drafts.find((d) => d.org === 'Praxis Nord')!.sent, true);
    assert.equal((await t.core.audit.events(t.system, { action: 'incident.notify' })).length, 1);
  });

  it('templates are editable files; unknown placeholders are refused, values are never evaluated', async () => {
    const file = path.join(t.dataDir, 'templates', 'notify.de.txt');
    assert.ok(fs.existsSync(file), 'default template written for editing');
    fs.writeFileSync(file, 'Subject: Vorfall {{org}}\n\nHallo {{org}}, {{oops}}\n');
    await assert.rejects(t.core.incident.notify(t.system, scope, { lang: 'de' }), { code: 'INVALID_INPUT', message: /oops/ });
    const r = render('Subject: {{org}}\n\n{{org}}', { org: '{{org}} ${process.exit()} <script>' });
    assert.equal(r.text, '{{org}} ${process.exit()} <script>');
    assert.throws(() => render('no subject line', {}), { code: 'INVALID_INPUT' });
  });

  it('writes an Art. 33 skeleton with numbers, time line and measures from the ledger', async () => {
    const md = await t.core.incident.report(t.system, scope);
    assert.match(md, /Art\. 33/);
    assert.match(md, /Approximate number of data subjects: 120/);
    assert.match(md, /\| Praxis Nord \| 200000011 \| 1 \| 1 \|/);
    assert.match(md, /lockdown\.on by test/);
    assert.match(md, /Ledger events \d+–\d+/);
    await assert.rejects(t.core.incident.report(t.system, { nonsense: true }), { code: 'INVALID_INPUT' });
  });
});
