/**
 * Two-factor sign-in over SFTP: the real OpenSSH client (password then code, key then code,
 * keyboard-interactive alone), answering prompts through SSH_ASKPASS; and the binding rules at the
 * message level with ssh2's client (partial success lists only keyboard-interactive, "none" and
 * zero-response answers never sign in, a first factor for one user is no first factor for
 * another, a password alone never signs in a two-factor user).
 *
 * Every successful sign-in of a user uses up a TOTP step, so each uses a user of its own.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import ssh2 from 'ssh2';
import { Secret, TOTP } from 'otpauth';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { serveSftp, sshKeygen, run, type SftpServed, type ClientKey } from './helpers.js';
import { userKey, type UserKey } from './raw.js';
import { requireTool } from './tools.js';

const code = (base32: string) => TOTP.generate({ secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: 6, period: 30 });
const otpauthPath = createRequire(import.meta.url).resolve('otpauth');

type Step =
  | { type: 'none'; username: string }
  | { type: 'password'; username: string; password: string }
  | { type: 'publickey'; username: string; key: string }
  | { type: 'keyboard-interactive'; username: string; answers: (prompts: { prompt: string; echo?: boolean }[]) => string[] };

interface Outcome {
  /** What the server answered before each step after the first: methods left and partial success. */
  readonly answers: { methods: string[] | null; partial: boolean | null }[];
  /** Prompts the server sent in keyboard-interactive exchanges. */
  readonly prompts: { prompt: string; echo?: boolean }[][];
  readonly ready: boolean;
  /** A session channel could be opened after sign-in. */
  readonly session: boolean;
}

/** Runs an exact sequence of authentication requests with ssh2's client and reports what happened. */
function attempt(port: number, steps: Step[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    const answers: Outcome['answers'] = [];
    const prompts: Outcome['prompts'] = [];
    let i = 0;
    let done = false;
    const finish = (o: Omit<Outcome, 'answers' | 'prompts'>) => {
      if (done) return;
      done = true;
      c.end();
      resolve({ answers, prompts, ...o });
    };
    c.on('ready', () => {
      c.exec('x', () => undefined); // exec is refused; we only need to know the connection is usable
      c.sftp((err) => finish({ ready: true, session: !err }));
    });
    c.on('error', () => finish({ ready: false, session: false }));
    c.on('close', () => finish({ ready: false, session: false }));
    c.connect({
      host: '127.0.0.1',
      port,
      username: steps[0]!.username,
      readyTimeout: 20_000,
      authHandler: (methodsLeft: string[] | null, partial: boolean | null, next: (a: unknown) => void) => {
        if (i > 0) answers.push({ methods: methodsLeft, partial });
        const s = steps[i++];
        if (!s) return next(false);
        if (s.type === 'keyboard-interactive') {
          return next({
            type: s.type,
            username: s.username,
            prompt: (_name: string, _instr: string, _lang: string, p: { prompt: string; echo?: boolean }[], reply: (a: string[]) => void) => {
              prompts.push(p);
              reply(s.answers(p));
            },
          });
        }
        return next(s);
      },
    } as ssh2.ConnectConfig);
  });
}

for (const dialect of DIALECTS) {
  describe(`sftp two-factor sign-in (${dialect})`, () => {
    let s: SftpServed;
    const secrets = new Map<string, string>();
    let rawKey: UserKey;
    let osshKey: ClientKey;

    async function mfaUser(login: string, key?: string): Promise<string> {
      const { t } = s;
      await t.core.admin.users.create(t.system, { login, org: 'Acme', password: TEST_PASSWORD });
      if (key) await t.core.admin.keys.add(t.system, login, key);
      const e = await t.core.admin.mfa.enable(t.system, login);
      // Confirm with the previous step's code, so the current one stays usable for the test.
      await t.core.admin.mfa.confirm(t.system, login, TOTP.generate({ secret: Secret.fromBase32(e.secret), timestamp: Date.now() - 30_000 }));
      secrets.set(login, e.secret);
      return e.secret;
    }

    before(async () => {
      s = await serveSftp(dialect, { env: { SLUICE_LOCKOUT_THRESHOLD: '20' }, limits: { maxAuthAttempts: 6 } });
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Acme' });
      await t.core.admin.folders.create(t.system, '/acme', { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'org:Acme', '/acme', 'list,read,write');
      rawKey = userKey();
      osshKey = await sshKeygen(s.dir, 'id_mfa');
      for (const u of ['ossh-pw', 'ossh-kbd', 'raw-pw', 'raw-kbd', 'raw-bind', 'raw-zero', 'raw-only-pw', 'raw-rec']) await mfaUser(u);
      await mfaUser('ossh-key', osshKey.publicLine);
      await mfaUser('raw-key', rawKey.publicLine);
      await t.core.admin.users.create(t.system, { login: 'plain', org: 'Acme', password: TEST_PASSWORD });
    });
    after(() => s?.close());

    /** An askpass program: the password for password prompts, a fresh code for "Verification code", each prompt logged. */
    function askpass(name: string): { script: string; log: string } {
      const log = path.join(s.dir, `${name}.prompts`);
      const script = path.join(s.dir, `${name}.askpass`);
      const node = process.execPath;
      fs.writeFileSync(
        script,
        [
          '#!/bin/sh',
          `printf '%s\\n' "$1" >> '${log}'`,
          'case "$1" in',
          `  *erification*) exec '${node}' -e 'const {TOTP,Secret}=require(process.env.OTPAUTH_PATH); process.stdout.write(TOTP.generate({secret:Secret.fromBase32(process.env.TOTP_SECRET)})+"\\n")' ;;`,
          `  *assword*) printf '%s\\n' "$SLUICE_PW" ;;`,
          '  *) exit 1 ;;',
          'esac',
          '',
        ].join('\n'),
        { mode: 0o700 },
      );
      return { script, log };
    }

    /** OpenSSH sftp in batch mode, prompts answered by askpass (BatchMode=no comes first, so it wins over -b's). */
    async function openssh(login: string, preferred: string, key?: ClientKey) {
      const a = askpass(login);
      const sftp = requireTool('sftp', 'openssh-client');
      const args = [
        '-o',
        'BatchMode=no',
        '-o',
        `PreferredAuthentications=${preferred}`,
        '-o',
        `UserKnownHostsFile=${s.knownHosts}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'IdentityAgent=none',
        '-o',
        'NumberOfPasswordPrompts=1',
        '-o',
        'ConnectTimeout=10',
        '-o',
        'LogLevel=ERROR',
        ...(key ? ['-i', key.file] : ['-o', 'PubkeyAuthentication=no']),
        '-b',
        '-',
        '-P',
        String(s.port),
        `${login}@127.0.0.1`,
      ];
      const r = await run(sftp, args, {
        input: 'ls /acme\n',
        timeoutMs: 60_000,
        env: {
          SSH_ASKPASS: a.script,
          SSH_ASKPASS_REQUIRE: 'force',
          DISPLAY: ':0',
          SLUICE_PW: TEST_PASSWORD,
          TOTP_SECRET: secrets.get(login)!,
          OTPAUTH_PATH: otpauthPath,
        },
      });
      // OpenSSH shows keyboard-interactive prompts as "(user@host) PROMPT".
      const prompts = fs.existsSync(a.log)
        ? fs
            .readFileSync(a.log, 'utf8')
            .trim()
            .split('\n')
            .map((p) => p.replace(/^\([^)]*\) /, '').trim())
        : [];
      return { ...r, prompts };
    }

    async function lastLogin(login: string) {
      const ev = await s.t.core.audit.events(s.t.system, { action: 'auth.login', limit: 10_000 });
      return ev.filter((e) => e.login === login && e.protocol === 'sftp').at(-1);
    }

    it('OpenSSH: password, then the verification code (keyboard-interactive)', async () => {
      const r = await openssh('ossh-pw', 'password,keyboard-interactive');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.prompts.length, 2, r.prompts.join(' | '));
      assert.match(r.prompts[0]!, /password/i);
      assert.equal(r.prompts[1], 'Verification code:');
      const e = await lastLogin('ossh-pw');
      assert.equal(e?.outcome, 'success');
      assert.deepEqual((e!.detail as { factors: string[] }).factors, ['password', 'totp']);
    });

    it('OpenSSH: public key, then the verification code', async () => {
      const r = await openssh('ossh-key', 'publickey,keyboard-interactive', osshKey);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.prompts, ['Verification code:']);
      const e = await lastLogin('ossh-key');
      assert.deepEqual((e!.detail as { factors: string[] }).factors, ['publickey', 'totp']);
      assert.match(String((e!.detail as { fingerprint?: string }).fingerprint), /^SHA256:/);
    });

    it('OpenSSH: keyboard-interactive alone asks "Password:" then "Verification code:"; a user without two factors only "Password:"', async () => {
      const r = await openssh('ossh-kbd', 'keyboard-interactive');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.prompts, ['Password:', 'Verification code:']);
      const plain = await openssh('plain', 'keyboard-interactive');
      assert.equal(plain.code, 0, plain.stderr);
      assert.deepEqual(plain.prompts, ['Password:']);
    });

    it('OpenSSH: a key alone, or a password alone, does not sign in a two-factor user', async () => {
      const k = await openssh('raw-key', 'publickey');
      assert.notEqual(k.code, 0);
      const p = await openssh('raw-only-pw', 'password');
      assert.notEqual(p.code, 0);
    });

    it('ssh2: password → partial success with only keyboard-interactive left → code (echo off) → signed in', async () => {
      const o = await attempt(s.port, [
        { type: 'none', username: 'raw-pw' },
        { type: 'password', username: 'raw-pw', password: TEST_PASSWORD },
        { type: 'keyboard-interactive', username: 'raw-pw', answers: () => [code(secrets.get('raw-pw')!)] },
      ]);
      assert.deepEqual(o.answers[0], { methods: ['publickey', 'password', 'keyboard-interactive'], partial: false });
      assert.deepEqual(o.answers[1], { methods: ['keyboard-interactive'], partial: true });
      assert.deepEqual(o.prompts, [[{ prompt: 'Verification code: ', echo: false }]]);
      assert.equal(o.ready, true);
      assert.equal(o.session, true);
    });

    it('ssh2: public key → partial success → code → signed in; a wrong code first fails and leaves only keyboard-interactive', async () => {
      const o = await attempt(s.port, [
        { type: 'publickey', username: 'raw-key', key: rawKey.privateKey },
        { type: 'keyboard-interactive', username: 'raw-key', answers: () => ['000000' === code(secrets.get('raw-key')!) ? '111111' : '000000'] },
        { type: 'keyboard-interactive', username: 'raw-key', answers: () => [code(secrets.get('raw-key')!)] },
      ]);
      assert.deepEqual(o.answers[0], { methods: ['keyboard-interactive'], partial: true });
      assert.deepEqual(o.answers[1], { methods: ['keyboard-interactive'], partial: false });
      assert.equal(o.ready, true);
    });

    it('ssh2: a recovery code answers "Verification code:" once', async () => {
      const { codes } = await s.t.core.admin.mfa.recoveryCodes(s.t.system, 'raw-rec');
      const steps = (): Step[] => [
        { type: 'password', username: 'raw-rec', password: TEST_PASSWORD },
        { type: 'keyboard-interactive', username: 'raw-rec', answers: () => [codes[0]!] },
      ];
      assert.equal((await attempt(s.port, steps())).ready, true);
      assert.equal((await attempt(s.port, steps())).ready, false);
      const e = await lastLogin('raw-rec');
      assert.equal(e?.outcome, 'failure');
      assert.equal((e!.detail as { reason: string }).reason, 'wrong recovery code');
    });

    it('ssh2 (MOV-3h): "none", a zero-response answer and a password alone never sign in; the first factor does not carry to another user', async () => {
      // After the first factor: none, then zero responses, then too many responses.
      let o = await attempt(s.port, [
        { type: 'password', username: 'raw-zero', password: TEST_PASSWORD },
        { type: 'none', username: 'raw-zero' },
        { type: 'keyboard-interactive', username: 'raw-zero', answers: () => [] },
        { type: 'keyboard-interactive', username: 'raw-zero', answers: () => [code(secrets.get('raw-zero')!), code(secrets.get('raw-zero')!)] },
      ]);
      assert.equal(o.ready, false);
      assert.deepEqual(
        o.answers.map((a) => a.partial),
        [true, false, false, false],
      );
      // Without a first factor, keyboard-interactive with zero responses fails.
      o = await attempt(s.port, [{ type: 'keyboard-interactive', username: 'raw-zero', answers: () => [] }]);
      assert.equal(o.ready, false);
      // A password alone, repeated, is partial success each time and never more.
      o = await attempt(s.port, [
        { type: 'password', username: 'raw-only-pw', password: TEST_PASSWORD },
        { type: 'password', username: 'raw-only-pw', password: TEST_PASSWORD },
      ]);
      assert.equal(o.ready, false);
      // raw-kbd's password, then raw-bind's name and code: refused (ssh2 ends a connection whose user name changes).
      o = await attempt(s.port, [
        { type: 'password', username: 'raw-kbd', password: TEST_PASSWORD },
        { type: 'keyboard-interactive', username: 'raw-bind', answers: () => [code(secrets.get('raw-bind')!)] },
      ]);
      assert.equal(o.ready, false);
      // The same with a user without two factors as the second name.
      o = await attempt(s.port, [
        { type: 'password', username: 'raw-kbd', password: TEST_PASSWORD },
        { type: 'keyboard-interactive', username: 'plain', answers: () => [TEST_PASSWORD] },
      ]);
      assert.equal(o.ready, false);
      // keyboard-interactive as the only method: Password, then Verification code, both echo off.
      o = await attempt(s.port, [
        { type: 'keyboard-interactive', username: 'raw-kbd', answers: (p) => [/Password/.test(p[0]!.prompt) ? TEST_PASSWORD : code(secrets.get('raw-kbd')!)] },
      ]);
      assert.deepEqual(o.prompts, [[{ prompt: 'Password: ', echo: false }], [{ prompt: 'Verification code: ', echo: false }]]);
      assert.equal(o.ready, true);
      const reasons = (await s.t.core.audit.events(s.t.system, { action: 'auth.login', limit: 10_000 }))
        .filter((e) => e.protocol === 'sftp' && e.outcome === 'failure')
        .map((e) => (e.detail as { reason?: string }).reason);
      assert.ok(reasons.includes('malformed code'), reasons.join());
    });
  });
}
