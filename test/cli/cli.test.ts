/**
 * The `sluice` command end to end, as an administrator uses it: real processes, a real data
 * directory. Also proves that editing one byte of the ledger is detected by `audit verify`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { tempDir, type TempDir } from '../helpers/dialects.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sluice(dataDir: string, args: string[], input?: string, admin: string | null = 'root') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      SLUICE_DATA_DIR: dataDir,
      SLUICE_LOG_LEVEL: 'error',
      ...(admin === null ? {} : { SLUICE_ADMIN: admin }),
    },
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('sluice CLI', () => {
  let dir: TempDir;
  let data: string;
  before(() => {
    dir = tempDir('cli');
    data = path.join(dir.path, 'data');
  });
  after(() => dir.cleanup());

  it('init creates keys (0600) and an administrator once; a second init changes nothing', () => {
    const first = sluice(data, ['init', '--admin', 'root']);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /Password \(shown once/);
    const keys = fs.readdirSync(path.join(data, 'keys'));
    assert.ok(keys.some((k) => k.startsWith('kek-')));
    assert.ok(
      keys.some((k) => /^ledger-[0-9a-f]{16}\.key$/.test(k)),
      'ledger signing key',
    );
    for (const k of keys.filter((f) => f.endsWith('.key'))) assert.equal(fs.statSync(path.join(data, 'keys', k)).mode & 0o077, 0, k);
    assert.equal(fs.statSync(path.join(data, 'keys')).mode & 0o077, 0);
    const second = sluice(data, ['init', '--admin', 'other']);
    assert.equal(second.code, 0);
    assert.match(second.out, /already initialised/);
    const users = JSON.parse(sluice(data, ['user', 'list', '--json']).out) as { login: string }[];
    assert.deepEqual(
      users.map((u) => u.login),
      ['root'],
    );
  });

  it('attributes every command to the named administrator and the operating-system user', () => {
    const osUser = os.userInfo().username;
    const none = sluice(data, ['org', 'list'], '', null);
    assert.equal(none.code, 2, none.err);
    assert.equal(none.err.trim().split('\n').length, 1);
    assert.match(none.err, /--as LOGIN or SLUICE_ADMIN=LOGIN/);
    const unknown = sluice(data, ['--as', 'nobody', 'org', 'list'], '', null);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /there is no administrator "nobody"/);

    assert.equal(sluice(data, ['--as', 'root', 'org', 'create', 'Praxis Attribution'], '', null).code, 0);
    const pw = path.join(dir.path, 'pw-attr');
    fs.writeFileSync(pw, 'a long partner password\n');
    assert.equal(sluice(data, ['user', 'create', 'clerk', '--org', 'Praxis Attribution', '--password-file', pw]).code, 0);
    const notAdmin = sluice(data, ['--as', 'clerk', 'org', 'list'], '', null);
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.err, /"clerk" is not an administrator/);
    assert.equal(sluice(data, ['user', 'create', 'second', '--role', 'admin', '--password-file', pw]).code, 0);
    assert.equal(sluice(data, ['user', 'disable', 'second']).code, 0);
    const disabled = sluice(data, ['org', 'list'], '', 'second');
    assert.equal(disabled.code, 1);
    assert.match(disabled.err, /cannot act: user disabled/);

    const glass = sluice(data, ['--break-glass', 'user', 'enable', 'second'], '', null);
    assert.equal(glass.code, 0, glass.err);
    assert.match(glass.err, /break-glass/);

    type Ev = { action: string; login: string | null; actorType: string; detail: Record<string, unknown>; client?: string };
    const events = JSON.parse(sluice(data, ['audit', 'events', '--limit', '1000', '--json']).out) as Ev[];
    const created = events.find((e) => e.action === 'org.create' && JSON.stringify(e.detail).includes('Praxis Attribution'));
    assert.ok(created, 'org.create recorded');
    assert.equal(created.login, 'root');
    assert.equal(created.actorType, 'user');
    assert.match(JSON.stringify(created), new RegExp(`sluice-cli os:${osUser}`));
    const enabled = events.filter((e) => e.action === 'user.update').at(-1)!;
    assert.equal(enabled.login, `cli:break-glass:${osUser}`);
    assert.equal(enabled.actorType, 'system');
  });

  it('onboards a partner and moves a file; --json everywhere; one-line errors', () => {
    assert.equal(sluice(data, ['org', 'create', 'Klinik Nord', '--ik', '260100001']).code, 0);
    const pw = path.join(dir.path, 'pw');
    fs.writeFileSync(pw, 'a long partner password\n');
    assert.equal(sluice(data, ['user', 'create', 'nord', '--org', 'Klinik Nord', '--password-file', pw]).code, 0);
    assert.equal(sluice(data, ['folder', 'create', '/nord/inbox', '--org', 'Klinik Nord']).code, 0);
    assert.equal(sluice(data, ['grant', 'nord', '/nord/inbox', 'list,read,write']).code, 0);
    const grants = JSON.parse(sluice(data, ['grant', 'list', '--json']).out) as { subject: string; permissions: string }[];
    assert.deepEqual(
      grants.map((g) => [g.subject, g.permissions]),
      [['user:nord', 'list,read,write']],
    );
    const tok = JSON.parse(sluice(data, ['token', 'create', 'nord', '--expires', '1d', '--json']).out) as { token: string };
    assert.match(tok.token, /^slc_[A-Za-z0-9_-]{43}$/);
    const src = path.join(dir.path, 'src.bin');
    fs.writeFileSync(src, Buffer.alloc(300_000, 7));
    const put = JSON.parse(sluice(data, ['file', 'put', src, '/nord/inbox/a.bin', '--json']).out) as { size: number };
    assert.equal(put.size, 300_000);
    const got = path.join(dir.path, 'got.bin');
    assert.equal(sluice(data, ['file', 'get', '/nord/inbox/a.bin', got]).code, 0);
    assert.deepEqual(fs.readFileSync(got), fs.readFileSync(src));

    const bad = sluice(data, ['org', 'create', '../etc']);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
    assert.match(bad.err, /^sluice: /);
    const missing = sluice(data, ['grant', 'nobody', '/nord/inbox', 'read']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /user not found/);
    assert.equal(sluice(data, ['org', 'create', '--help']).code, 0);
  });

  it('file put --records/--categories stores data-subject metadata for incident scope; invalid values exit 2, nothing stored', () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const src = path.join(dir.path, 'claims.csv');
    fs.writeFileSync(src, 'id;diagnosis\n');
    const ok = sluice(data, ['file', 'put', src, '/nord/inbox/claims.csv', '--records', '321', '--categories', 'health, Billing', '--json']);
    assert.equal(ok.code, 0, ok.err);
    for (const [opt, value] of [
      ['--records', '-5'],
      ['--records', '1.5'],
      ['--categories', 'health;billing'],
      ['--categories', ''],
    ] as const) {
      const r = sluice(data, ['file', 'put', src, '/nord/inbox/bad.csv', opt, value]);
      assert.equal(r.code, 2, `${opt} ${value}: ${r.err}`);
      assert.match(r.err, /^sluice: (records|categories|a category)/);
    }
    const ls = JSON.parse(sluice(data, ['file', 'ls', '/nord/inbox', '--json']).out) as { name: string }[];
    assert.ok(!ls.some((e) => e.name === 'bad.csv'));
    const scope = JSON.parse(sluice(data, ['incident', 'scope', '--from', from, '--ip', 'local', '--json']).out) as {
      writes: { path: string; dataSubjects: number | null; dataCategories: string[] }[];
    };
    assert.deepEqual(
      scope.writes.map((w) => [w.path, w.dataSubjects, w.dataCategories]),
      [['/nord/inbox/claims.csv', 321, ['health', 'billing']]],
    );
  });

  it('incident report --lang writes the whole Art. 33 skeleton in one language', () => {
    const scopeFile = path.join(dir.path, 'scope.json');
    const sc = sluice(data, [
      'incident',
      'scope',
      '--from',
      new Date(Date.now() - 3_600_000).toISOString(),
      '--org',
      'Klinik Nord',
      '--json',
      '--out',
      scopeFile,
    ]);
    assert.equal(sc.code, 0, sc.err);
    const de = sluice(data, ['incident', 'report', '--scope', scopeFile, '--lang', 'de']);
    assert.equal(de.code, 0, de.err);
    assert.match(de.out, /^# Meldung einer Verletzung des Schutzes personenbezogener Daten \(Art\. 33 DSGVO\)/);
    assert.match(de.out, /Alle Zeiten in der Zeitzone Europe\/Berlin\./);
    assert.doesNotMatch(de.out, /Notification|Controller|Evidence/);
    const en = sluice(data, ['incident', 'report', '--scope', scopeFile, '--lang', 'en']);
    assert.equal(en.code, 0, en.err);
    assert.match(en.out, /^# Notification of a personal data breach \(GDPR Art\. 33\)/);
    assert.doesNotMatch(en.out, /DSGVO|Verantwortlich|Nachweis/);
    assert.equal(sluice(data, ['incident', 'report', '--scope', scopeFile, '--lang', 'fr']).code, 1);
  });

  it('audit verify passes, and fails after one byte of the ledger is edited', () => {
    const ok = sluice(data, ['audit', 'verify']);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /ledger intact: \d+ events, [1-9]\d* signed checkpoints/);
    const db = new SQLite(path.join(data, 'sluice.db'));
    const row = db.prepare('select seq, target_path from audit_events where target_path is not null order by seq limit 1').get() as {
      seq: number;
      target_path: string;
    };
    const edited = row.target_path.slice(0, -1) + (row.target_path.endsWith('x') ? 'y' : 'x');
    db.prepare('update audit_events set target_path = ? where seq = ?').run(edited, row.seq);
    db.close();
    const broken = sluice(data, ['audit', 'verify', '--json']);
    assert.notEqual(broken.code, 0);
    const r = JSON.parse(broken.out) as { ok: boolean; problem: { seq: number } };
    assert.equal(r.ok, false);
    assert.equal(r.problem.seq, row.seq);
  });

  it('refuses commands on a directory that was never initialised', () => {
    const r = sluice(path.join(dir.path, 'nothing'), ['org', 'list']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /run "sluice init"/);
  });
});
