/**
 * `sluice user mfa enable|confirm|disable|status` end to end (real processes, real data directory,
 * both database dialects): the secret and URI are printed once, the user is pending until a code
 * confirms it, --json everywhere, one-line errors, and every change is in the ledger.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Secret, TOTP } from 'otpauth';
import { DIALECTS, freshDatabase, tempDir, type FreshDatabase, type TempDir } from '../helpers/dialects.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const codeAt = (base32: string, ms: number) => TOTP.generate({ secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: ms });

for (const dialect of DIALECTS) {
  describe(`sluice user mfa (${dialect})`, () => {
    let dir: TempDir;
    let db: FreshDatabase;
    let data: string;
    const sluice = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          SLUICE_DATA_DIR: data,
          SLUICE_LOG_LEVEL: 'error',
          SLUICE_ADMIN: 'root',
          ...(db.url ? { SLUICE_DATABASE_URL: db.url } : {}),
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const json = <T>(args: string[]): T => {
      const r = sluice([...args, '--json']);
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out) as T;
    };

    before(async () => {
      dir = tempDir('cli-mfa');
      db = await freshDatabase(dialect);
      data = path.join(dir.path, 'data');
      assert.equal(sluice(['init', '--admin', 'root']).code, 0);
      assert.equal(sluice(['org', 'create', 'Praxis']).code, 0);
      const pw = path.join(dir.path, 'pw');
      fs.writeFileSync(pw, 'a long partner password\n');
      assert.equal(sluice(['user', 'create', 'anna', '--org', 'Praxis', '--password-file', pw]).code, 0);
    });
    after(async () => {
      await db.cleanup();
      await dir.cleanup();
    });

    it('enable prints the secret and URI once and leaves the user pending; confirm --code activates; disable turns it off', () => {
      assert.equal(json<{ state: string }>(['user', 'mfa', 'status', 'anna']).state, 'off');
      const human = sluice(['user', 'mfa', 'enable', 'anna']);
      assert.equal(human.code, 0, human.err);
      assert.match(human.out, /Secret \(shown once, base32\): [A-Z2-7]{32}\n/);
      assert.match(human.out, /otpauth:\/\/totp\/Sluice:anna\?/);
      assert.match(human.out, /sluice user mfa confirm anna --code/);
      // Enabling again while pending issues a new secret (the first one no longer counts).
      const e = json<{ state: string; secret: string; uri: string }>(['user', 'mfa', 'enable', 'anna']);
      assert.equal(e.state, 'pending');
      assert.ok(!human.out.includes(e.secret));
      assert.equal(json<{ login: string; mfa: string }[]>(['user', 'list']).find((u) => u.login === 'anna')?.mfa, 'pending');

      const wrong = sluice(['user', 'mfa', 'confirm', 'anna', '--code', codeAt(e.secret, Date.now()) === '000000' ? '111111' : '000000']);
      assert.equal(wrong.code, 2);
      assert.equal(wrong.err.trim().split('\n').length, 1, wrong.err);
      assert.match(wrong.err, /verification code is not valid/);
      const ok = json<{ state: string }>(['user', 'mfa', 'confirm', 'anna', '--code', codeAt(e.secret, Date.now())]);
      assert.equal(ok.state, 'active');
      const rc = json<{ codes: string[] }>(['user', 'mfa', 'recovery-codes', 'anna']);
      assert.equal(rc.codes.length, 10);
      const again = sluice(['user', 'mfa', 'enable', 'anna']);
      assert.equal(again.code, 1);
      assert.match(again.err, /already active/);
      const st = sluice(['user', 'mfa', 'status', 'anna']);
      assert.match(st.out, /^anna: two-factor sign-in active \(since \d{4}-.*\), 10 recovery codes left/);

      assert.equal(json<{ state: string }>(['user', 'mfa', 'disable', 'anna']).state, 'off');
      assert.equal(json<{ state: string }>(['user', 'mfa', 'status', 'anna']).state, 'off');
      assert.match(sluice(['user', 'mfa', 'status', 'nobody']).err, /user not found/);
      const noCodes = sluice(['user', 'mfa', 'recovery-codes', 'anna']);
      assert.equal(noCodes.code, 1);
      assert.match(noCodes.err, /only while two-factor sign-in is active/);

      const events = json<{ action: string; outcome: string; protocol: string; detail: { login?: string } }[]>(['audit', 'events', '--limit', '1000']).filter(
        (x) => x.action.startsWith('mfa.'),
      );
      assert.deepEqual(
        events.map((x) => `${x.action}:${x.outcome}`),
        ['mfa.enrol:success', 'mfa.enrol:success', 'mfa.confirm:failure', 'mfa.confirm:success', 'mfa.recovery:success', 'mfa.disable:success'],
      );
      assert.ok(events.every((x) => x.protocol === 'cli' && x.detail.login === 'anna'));
      // Nothing secret reached the ledger.
      const all = sluice(['audit', 'events', '--limit', '1000', '--json']).out;
      assert.ok(!all.includes(e.secret));
      for (const c of rc.codes) assert.ok(!all.includes(c));
    });
  });
}
