/** `sluice` commands: users and their two-factor sign-in. */
import { type Command, Option } from 'commander';
import { iso, print, table } from '../output.js';
import { jsonOpt, readSecretFile, type Cli, type J } from '../context.js';

export function registerUserCommands(cli: Cli): void {
  const { program, withCore } = cli;
  const user = program.command('user').description('users');
  user
    .command('create <login>')
    .description('create a user; without --password-file a password is generated and printed once')
    .option('--org <name>', 'organisation (required for partner and staff users)')
    .addOption(new Option('--role <role>', 'role').choices(['partner', 'staff', 'admin']).default('partner'))
    .option('--password-file <file>', 'read the password from a file ("-" for stdin)')
    .option('--no-password', 'create without a password (keys or tokens only)')
    .option('--email <address>')
    .option('--name <display name>')
    .addOption(jsonOpt())
    .action(async (login: string, o: { org?: string; role: string; passwordFile?: string; password: boolean; email?: string; name?: string } & J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.users.create(
          op,
          {
            login,
            role: o.role,
            ...(o.org ? { org: o.org } : {}),
            ...(o.passwordFile ? { password: readSecretFile(o.passwordFile) } : {}),
            ...(o.email ? { email: o.email } : {}),
            ...(o.name ? { displayName: o.name } : {}),
          },
          { generatePassword: !o.passwordFile && o.password },
        );
        print(
          !!o.json,
          r,
          () =>
            `created user ${r.user.login} (${r.user.role}${r.user.org ? ', ' + r.user.org : ''})` +
            (r.password ? `\nPassword (shown once): ${r.password}` : ''),
        );
      }),
    );
  user
    .command('list')
    .description('list users')
    .option('--org <name>')
    .addOption(jsonOpt())
    .action(async (o: { org?: string } & J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.users.list(op, o.org ? { org: o.org } : {});
        print(!!o.json, r, () =>
          table(
            r.map((u) => ({ ...u, lastLogin: iso(u.lastLoginAt), locked: u.lockedUntil && u.lockedUntil > Date.now() ? 'yes' : '' })),
            ['login', 'org', 'role', 'status', 'mfa', 'lastLogin', 'locked'],
          ),
        );
      }),
    );
  const userPatch = (cmd: string, desc: string, patch: (o: Record<string, string>) => Record<string, unknown>, extra?: (c: Command) => Command) => {
    let c = user.command(`${cmd} <login>`).description(desc);
    if (extra) c = extra(c);
    c.addOption(jsonOpt()).action(async (login: string, o: Record<string, string> & J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.users.update(op, login, patch(o));
        print(!!o.json, r, () => `${cmd}: ${r.login} is ${r.status}`);
      }),
    );
  };
  userPatch('disable', 'disable a user (ends their sessions; tokens and keys stop working)', () => ({ status: 'disabled' }));
  userPatch('enable', 'enable a user', () => ({ status: 'active' }));
  userPatch('unlock', 'clear a lockout after failed sign-ins', () => ({ unlock: true }));
  userPatch(
    'set-password',
    'set a new password',
    (o) => ({ password: readSecretFile(o.passwordFile ?? '-') }),
    (c) => c.option('--password-file <file>', 'file with the password ("-" for stdin)', '-'),
  );
  userPatch(
    'set-role',
    'change the role',
    (o) => ({ role: o.role }),
    (c) => c.addOption(new Option('--role <role>').choices(['partner', 'staff', 'admin']).makeOptionMandatory()),
  );

  // Two-factor sign-in (TOTP). enable issues a secret (shown once) and leaves the user pending: sign-in
  // is unchanged until `confirm --code` (the user reads a code from the app) makes it active.
  const mfa = user.command('mfa').description('two-factor sign-in (TOTP) of a user');
  const mfaLine = (r: { login: string; state: string; changedAt: number | null; recoveryCodes: number }) =>
    `${r.login}: two-factor sign-in ${r.state}${r.changedAt ? ` (since ${iso(r.changedAt)})` : ''}${r.state === 'active' ? `, ${r.recoveryCodes} recovery codes left` : ''}`;
  mfa
    .command('enable <login>')
    .description('issue a new TOTP secret (printed once); the user is pending until a first code confirms it')
    .addOption(jsonOpt())
    .action(async (login: string, o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.mfa.enable(op, login);
        print(!!o.json, r, () =>
          [
            `two-factor enrolment started for ${r.login} (pending)`,
            `Secret (shown once, base32): ${r.secret}`,
            `URI (for a QR code):         ${r.uri}`,
            `Enter the secret in an authenticator app, then: sluice user mfa confirm ${r.login} --code NNNNNN`,
          ].join('\n'),
        );
      }),
    );
  mfa
    .command('confirm <login>')
    .description('activate a pending enrolment with a current code from the app')
    .requiredOption('--code <code>', 'the 6-digit code the app shows now')
    .addOption(jsonOpt())
    .action(async (login: string, o: { code: string } & J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.mfa.confirm(op, login, o.code);
        print(!!o.json, r, () => mfaLine(r));
      }),
    );
  mfa
    .command('recovery-codes <login>')
    .description('make new recovery codes (printed once; unused older ones stop working); only while active')
    .addOption(jsonOpt())
    .action(async (login: string, o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.mfa.recoveryCodes(op, login);
        print(!!o.json, r, () =>
          [`recovery codes for ${r.login} (shown once; each works once instead of a verification code):`, ...r.codes.map((c) => `  ${c}`)].join('\n'),
        );
      }),
    );
  mfa
    .command('disable <login>')
    .description('turn two-factor sign-in off and forget the secret and recovery codes (e.g. a lost phone)')
    .addOption(jsonOpt())
    .action(async (login: string, o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.mfa.disable(op, login);
        print(!!o.json, r, () => mfaLine(r));
      }),
    );
  mfa
    .command('status <login>')
    .description('off, pending or active')
    .addOption(jsonOpt())
    .action(async (login: string, o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.mfa.status(op, login);
        print(!!o.json, r, () => mfaLine(r));
      }),
    );
}
