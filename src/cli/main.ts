/**
 * The `sluice` command. Every command acts through the core with an explicit system principal
 * (local administration on the machine that holds the data directory), recorded in the ledger
 * as protocol "cli".
 */
import fs from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { parseDuration, parseSize } from '../config/units.js';
import { openInstance, prepareDataDir, isInitialised, paths, type Instance } from '../app/instance.js';
import { loadHostKeys } from '../app/host-keys.js';
import { CoreError } from '../core/errors.js';
import { parseFileMetadata, scopeCsv, scopeText, type Principal } from '../core/index.js';
import { fail, iso, print, table } from './output.js';
import { progress } from './progress.js';
import { registerBackupCommands } from './backup.js';

const program = new Command('sluice')
  .description('Sluice managed file transfer: administration and server')
  .version('0.1.0')
  .option('--data-dir <dir>', 'data directory (default $SLUICE_DATA_DIR or ./data)')
  .option('--config <file>', 'JSON configuration file (default $SLUICE_CONFIG)')
  .showHelpAfterError();

function config(): Config {
  const g = program.opts<{ dataDir?: string; config?: string }>();
  const env = { ...process.env, ...(g.config ? { SLUICE_CONFIG: g.config } : {}) };
  return loadConfig(env, g.dataDir ? { dataDir: g.dataDir } : {});
}

const quietLog = async () => (await import('pino')).pino({ level: process.env.SLUICE_LOG_LEVEL ?? 'warn' }, process.stderr);

/** How long a CLI command waits for its alerts to be delivered (first tries and the 1 s and 5 s retries). */
const ALERT_DRAIN_MS = 8_000;

async function withCore<T>(fn: (i: Instance, sys: Principal) => Promise<T>): Promise<T> {
  const inst = await openInstance(config(), { log: await quietLog() });
  try {
    return await fn(
      inst,
      inst.system({ protocol: 'cli', remoteAddr: 'local', client: `sluice-cli ${os.userInfo().username}` }, `cli:${os.userInfo().username}`),
    );
  } finally {
    // An alert raised by the command (lockdown, budget lifted…) is delivered before we exit;
    // a channel that stays down is given its first retries, then reported.
    const undelivered = await inst.core.alerts.drain(ALERT_DRAIN_MS);
    if (undelivered > 0) process.stderr.write(`warning: ${undelivered} alert delivery(ies) still failing; the alert is in the ledger and the log\n`);
    await inst.close();
  }
}

/** Reads a secret from a file ("-" = standard input): the first line, without its line ending. */
function readSecretFile(f: string): string {
  const text = f === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(f, 'utf8');
  return text.split(/\r?\n/)[0] ?? '';
}

const jsonOpt = () => new Option('--json', 'print JSON');
type J = { json?: boolean };

/** Creates the data directory, keys, database and first administrator. Idempotent. */
export async function initialise(cfg: Config, login: string, passwordFile?: string): Promise<{ created: boolean; login: string; password?: string }> {
  const already = isInitialised(cfg);
  prepareDataDir(cfg);
  const inst = await openInstance(cfg, { log: await quietLog() });
  try {
    const sys = inst.system({ protocol: 'cli', remoteAddr: 'local' }, 'cli:init');
    const r = await inst.core.setup.createFirstAdmin(sys, login, passwordFile ? readSecretFile(passwordFile) : undefined);
    await inst.core.maintenance.checkpoint();
    return { created: r.created || !already, login, ...(r.password ? { password: r.password } : {}) };
  } finally {
    await inst.close();
  }
}

program
  .command('init')
  .description('create the data directory, keys, database and first administrator (once)')
  .option('--admin <login>', 'login of the first administrator', 'admin')
  .option('--admin-password-file <file>', 'read the administrator password from a file ("-" for stdin); otherwise one is generated and printed once')
  .addOption(jsonOpt())
  .action(async (o: { admin: string; adminPasswordFile?: string } & J) => {
    const cfg = config();
    const r = await initialise(cfg, o.admin, o.adminPasswordFile);
    print(!!o.json, { ...r, dataDir: cfg.dataDir }, () => {
      if (!r.created) return `Sluice is already initialised in ${cfg.dataDir}; nothing changed.`;
      const lines = [`Initialised Sluice in ${cfg.dataDir}`, `Administrator: ${r.login}`];
      if (r.password) lines.push(`Password (shown once, store it now): ${r.password}`);
      return lines.join('\n');
    });
  });

program
  .command('serve')
  .description('run the HTTP server until SIGTERM/SIGINT, then drain and stop')
  .option('--init', 'initialise the data directory first if it is new (prints the administrator password once)')
  .action(async (o: { init?: boolean }) => {
    const cfg = config();
    if (o.init && !isInitialised(cfg)) {
      const r = await initialise(cfg, 'admin');
      process.stderr.write(
        `Initialised Sluice in ${cfg.dataDir}\nAdministrator: admin\n${r.password ? `Password (shown once, store it now): ${r.password}\n` : ''}`,
      );
    }
    const { runServer } = await import('../app/serve.js');
    await runServer(cfg);
  });

program
  .command('status')
  .description('show configuration and state of this instance')
  .addOption(jsonOpt())
  .action(async (o: J) =>
    withCore(async (i, sys) => {
      const orgs = await i.core.admin.orgs.list(sys);
      const users = await i.core.admin.users.list(sys);
      const ledger = await i.core.audit.verify(sys);
      const data = {
        dataDir: i.config.dataDir,
        database: i.dialect,
        storage: i.config.storage,
        http: `${i.config.httpListen.host}:${i.config.httpListen.port}`,
        organisations: orgs.length,
        users: users.length,
        ledgerEvents: ledger.headSeq,
        ledgerIntact: ledger.ok,
      };
      // SSH host keys: what SFTP users compare with the fingerprint their client shows on first connect.
      let hostKeys: { type: string; fingerprint: string }[] | string;
      try {
        hostKeys = loadHostKeys(paths(i.config).keys).map((k) => ({ type: k.type, fingerprint: k.fingerprint }));
      } catch (e) {
        hostKeys = e instanceof CoreError ? e.message : 'cannot be read';
      }
      print(!!o.json, { ...data, sshHostKeys: hostKeys }, () =>
        [
          ...Object.entries(data).map(([k, v]) => `${k.padEnd(14)} ${v}`),
          ...(typeof hostKeys === 'string'
            ? [`${'sshHostKeys'.padEnd(14)} ${hostKeys}`]
            : hostKeys.map((k) => `${'sshHostKey'.padEnd(14)} ${k.fingerprint} (${k.type})`)),
        ].join('\n'),
      );
    }),
  );

// --- organisations ---------------------------------------------------------------------------
const org = program.command('org').description('partner organisations');
org
  .command('create <name>')
  .description('create an organisation')
  .option('--ik <number>', 'Institutionskennzeichen (9 digits)')
  .option('--betriebsnummer <number>', 'Betriebsnummer (8 digits)')
  .option('--contact <email...>', 'contact e-mail address(es)')
  .option('--quota <size>', 'storage quota, e.g. 10G')
  .addOption(jsonOpt())
  .action(async (name: string, o: { ik?: string; betriebsnummer?: string; contact?: string[]; quota?: string } & J) =>
    withCore(async (i, sys) => {
      const quota = o.quota === undefined ? undefined : parseSize(o.quota);
      if (o.quota !== undefined && quota === undefined) throw new CoreError('INVALID_INPUT', `invalid --quota "${o.quota}"`);
      const r = await i.core.admin.orgs.create(sys, {
        name,
        ...(o.ik ? { ik: o.ik } : {}),
        ...(o.betriebsnummer ? { betriebsnummer: o.betriebsnummer } : {}),
        ...(o.contact ? { contacts: o.contact.map((email) => ({ email })) } : {}),
        ...(quota !== undefined ? { quotaBytes: quota } : {}),
      });
      print(!!o.json, r, () => `created organisation ${r.name} (${r.id})`);
    }),
  );
org
  .command('list')
  .description('list organisations')
  .option('--search <text>', 'only those whose name contains the text, or whose IK number or Betriebsnummer is it')
  .addOption(jsonOpt())
  .action(async (o: { search?: string } & J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.orgs.list(sys, { q: o.search });
      print(!!o.json, r, () =>
        table(
          r.map((x) => ({ ...x, contacts: x.contacts.map((c) => c.email).join(' '), quota: x.quotaBytes, used: x.usedBytes })),
          ['name', 'ik', 'betriebsnummer', 'status', 'used', 'quota', 'contacts'],
        ),
      );
    }),
  );
org
  .command('update <name>')
  .description('change an organisation')
  .option('--ik <number>')
  .option('--betriebsnummer <number>')
  .option('--quota <size>', 'storage quota, e.g. 10G, or "none"')
  .option('--budget-files <n>', 'files the organisation may download per budget window, or "default"')
  .option('--budget-bytes <size>', 'bytes the organisation may download per budget window, e.g. 20G, or "default"')
  .option('--disable', 'disable: its users can no longer sign in')
  .option('--enable')
  .addOption(jsonOpt())
  .action(
    async (
      name: string,
      o: { ik?: string; betriebsnummer?: string; quota?: string; budgetFiles?: string; budgetBytes?: string; disable?: boolean; enable?: boolean } & J,
    ) =>
      withCore(async (i, sys) => {
        const bf =
          o.budgetFiles === undefined ? undefined : o.budgetFiles === 'default' ? null : /^\d{1,12}$/.test(o.budgetFiles) ? Number(o.budgetFiles) : NaN;
        const bb = o.budgetBytes === undefined ? undefined : o.budgetBytes === 'default' ? null : (parseSize(o.budgetBytes) ?? NaN);
        if (Number.isNaN(bf) || Number.isNaN(bb)) throw new CoreError('INVALID_INPUT', 'invalid --budget-files or --budget-bytes');
        const quota = o.quota === undefined ? undefined : o.quota === 'none' ? null : parseSize(o.quota);
        if (quota === undefined && o.quota !== undefined) throw new CoreError('INVALID_INPUT', `invalid --quota "${o.quota}"`);
        const r = await i.core.admin.orgs.update(sys, name, {
          ...(o.ik ? { ik: o.ik } : {}),
          ...(o.betriebsnummer ? { betriebsnummer: o.betriebsnummer } : {}),
          ...(quota !== undefined ? { quotaBytes: quota } : {}),
          ...(bf !== undefined ? { budgetFiles: bf } : {}),
          ...(bb !== undefined ? { budgetBytes: bb } : {}),
          ...(o.disable ? { status: 'disabled' } : o.enable ? { status: 'active' } : {}),
        });
        print(!!o.json, r, () => `updated organisation ${r.name}`);
      }),
  );

// --- users -----------------------------------------------------------------------------------
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
    withCore(async (i, sys) => {
      const r = await i.core.admin.users.create(
        sys,
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
          `created user ${r.user.login} (${r.user.role}${r.user.org ? ', ' + r.user.org : ''})` + (r.password ? `\nPassword (shown once): ${r.password}` : ''),
      );
    }),
  );
user
  .command('list')
  .description('list users')
  .option('--org <name>')
  .addOption(jsonOpt())
  .action(async (o: { org?: string } & J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.users.list(sys, o.org ? { org: o.org } : {});
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
    withCore(async (i, sys) => {
      const r = await i.core.admin.users.update(sys, login, patch(o));
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
    withCore(async (i, sys) => {
      const r = await i.core.admin.mfa.enable(sys, login);
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
    withCore(async (i, sys) => {
      const r = await i.core.admin.mfa.confirm(sys, login, o.code);
      print(!!o.json, r, () => mfaLine(r));
    }),
  );
mfa
  .command('recovery-codes <login>')
  .description('make new recovery codes (printed once; unused older ones stop working); only while active')
  .addOption(jsonOpt())
  .action(async (login: string, o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.mfa.recoveryCodes(sys, login);
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
    withCore(async (i, sys) => {
      const r = await i.core.admin.mfa.disable(sys, login);
      print(!!o.json, r, () => mfaLine(r));
    }),
  );
mfa
  .command('status <login>')
  .description('off, pending or active')
  .addOption(jsonOpt())
  .action(async (login: string, o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.mfa.status(sys, login);
      print(!!o.json, r, () => mfaLine(r));
    }),
  );

// --- keys ------------------------------------------------------------------------------------
const key = program.command('key').description('SSH public keys of users');
key
  .command('add <login> <file>')
  .description('add an SSH public key (OpenSSH format, one per line; "-" for stdin)')
  .addOption(jsonOpt())
  .action(async (login: string, file: string, o: J) =>
    withCore(async (i, sys) => {
      const text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
      const lines = text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      if (lines.length === 0) throw new CoreError('INVALID_INPUT', 'no public key found in the file');
      const added: Awaited<ReturnType<Instance['core']['admin']['keys']['add']>>[] = [];
      for (const l of lines) added.push(await i.core.admin.keys.add(sys, login, l));
      print(!!o.json, added, () => added.map((k) => `added ${k.algorithm} ${k.fingerprint} to ${login}`).join('\n'));
    }),
  );
key
  .command('list <login>')
  .addOption(jsonOpt())
  .action(async (login: string, o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.keys.list(sys, login);
      print(!!o.json, r, () =>
        table(
          r.map((k) => ({ ...k, created: iso(k.createdAt) })),
          ['id', 'algorithm', 'fingerprint', 'comment', 'created'],
        ),
      );
    }),
  );
key
  .command('remove <login> <idOrFingerprint>')
  .action(async (login: string, id: string) =>
    withCore(async (i, sys) => i.core.admin.keys.remove(sys, login, id).then(() => console.log(`removed key ${id}`))),
  );

// --- folders and grants ------------------------------------------------------------------------
const folder = program.command('folder').description('folders');
folder
  .command('create <path>')
  .description('create a folder and missing parents')
  .option('--org <name>', 'owning organisation (its quota applies)')
  .addOption(jsonOpt())
  .action(async (path: string, o: { org?: string } & J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.folders.create(sys, path, o.org ? { org: o.org } : {});
      print(!!o.json, r, () => `created folder ${r.path}`);
    }),
  );
folder
  .command('list')
  .addOption(jsonOpt())
  .action(async (o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.folders.list(sys);
      print(!!o.json, r, () =>
        table(
          r.map((f) => ({ ...f, created: iso(f.createdAt) })),
          ['path', 'org', 'created'],
        ),
      );
    }),
  );

const grant = program
  .command('grant')
  .description('grant permissions on a folder: sluice grant LOGIN|org:NAME PATH list,read,write,delete,manage')
  .argument('[subject]', 'user login or org:NAME')
  .argument('[path]', 'folder path')
  .argument('[permissions]', 'comma list of list,read,write,delete,manage (or all)')
  .addOption(jsonOpt())
  .action(async (subject: string | undefined, path: string | undefined, perms: string | undefined, o: J) => {
    if (!subject || !path || !perms) {
      grant.help({ error: true });
    }
    await withCore(async (i, sys) => {
      const r = await i.core.admin.grants.set(sys, subject!, path!, perms!);
      print(!!o.json, r, () => `granted ${r.permissions} on ${r.path} to ${r.subject}`);
    });
  });
grant
  .command('list')
  .description('list grants')
  .option('--path <path>')
  .option('--subject <subject>')
  .addOption(jsonOpt())
  .action(async (o: { path?: string; subject?: string } & J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.grants.list(sys, { ...(o.path ? { path: o.path } : {}), ...(o.subject ? { subject: o.subject } : {}) });
      // `grant` has --json too, and commander hands it to the parent command.
      print(!!(o.json || grant.opts<J>().json), r, () => table(r, ['path', 'subject', 'permissions']));
    }),
  );
grant
  .command('revoke <subject> <path>')
  .description('remove a grant')
  .action(async (subject: string, path: string) =>
    withCore(async (i, sys) => i.core.admin.grants.revoke(sys, subject, path).then(() => console.log(`revoked ${subject} on ${path}`))),
  );

// --- tokens ------------------------------------------------------------------------------------
const token = program.command('token').description('API tokens');
token
  .command('create <login>')
  .description('create an API token; it is printed once')
  .option('--expires <duration>', 'lifetime, e.g. 30d or 8h', '90d')
  .option('--name <name>', 'what the token is for')
  .addOption(jsonOpt())
  .action(async (login: string, o: { expires: string; name?: string } & J) =>
    withCore(async (i, sys) => {
      const ms = parseDuration(o.expires);
      if (ms === undefined) throw new CoreError('INVALID_INPUT', `invalid --expires "${o.expires}" (e.g. 30d, 8h)`);
      const r = await i.core.admin.tokens.create(sys, login, { expiresInMs: ms, ...(o.name ? { name: o.name } : {}) });
      print(!!o.json, { token: r.token, ...r.info, expiresAt: iso(r.info.expiresAt) }, () => r.token);
    }),
  );
token
  .command('list <login>')
  .addOption(jsonOpt())
  .action(async (login: string, o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.admin.tokens.list(sys, login);
      print(!!o.json, r, () =>
        table(
          r.map((t) => ({ ...t, expires: iso(t.expiresAt), revoked: iso(t.revokedAt), lastUsed: iso(t.lastUsedAt) })),
          ['id', 'name', 'expires', 'revoked', 'lastUsed'],
        ),
      );
    }),
  );
token
  .command('revoke <id>')
  .action(async (id: string) => withCore(async (i, sys) => i.core.admin.tokens.revoke(sys, id).then(() => console.log(`revoked token ${id}`))));

// --- files -------------------------------------------------------------------------------------
const file = program.command('file').description('files, as an administrator');
file
  .command('ls [path]')
  .addOption(jsonOpt())
  .action(async (path: string | undefined, o: J) =>
    withCore(async (i, sys) => {
      const all: Awaited<ReturnType<Instance['core']['files']['list']>>['entries'][number][] = [];
      let next: string | undefined;
      do {
        const page = await i.core.files.list(sys, path ?? '/', { cursor: next });
        all.push(...page.entries);
        next = page.next;
      } while (next);
      print(!!o.json, all, () =>
        table(
          all.map((e) => ({ ...e, modified: iso(e.modified) })),
          ['type', 'name', 'size', 'modified', 'sha256'],
        ),
      );
    }),
  );
file
  .command('put <local> <path>')
  .description('upload a local file (encrypted at rest, hashed)')
  .option('--records <n>', 'number of data subjects / records in the file (for incident reports)')
  .option('--categories <list>', 'data categories in the file, comma separated (e.g. health,billing)')
  .addOption(jsonOpt())
  .action(async (local: string, path: string, o: { records?: string; categories?: string } & J) =>
    withCore(async (i, sys) => {
      const size = fs.statSync(local).size;
      const bar = progress('upload', 'bytes', !o.json);
      let done = 0;
      const src = fs.createReadStream(local, { highWaterMark: 1 << 20 });
      src.on('data', (c) => bar.update((done += c.length), size));
      try {
        const metadata = parseFileMetadata({ records: o.records, categories: o.categories });
        const r = await i.core.files.upload(sys, path, src, { expectedSize: size, metadata });
        bar.stop();
        print(!!o.json, r, () => `uploaded ${r.path} (${r.size} bytes, sha256 ${r.sha256})`);
      } finally {
        bar.stop();
      }
    }),
  );
file
  .command('get <path> <local>')
  .description('download a file ("-" for stdout)')
  .action(async (path: string, local: string) =>
    withCore(async (i, sys) => {
      const d = await i.core.files.openDownload(sys, path);
      const bar = progress('download', 'bytes', local !== '-');
      let done = 0;
      d.stream.on('data', (c: Buffer) => bar.update((done += c.length), d.length));
      await pipeline(d.stream, local === '-' ? process.stdout : fs.createWriteStream(local, { flags: 'wx' }));
      bar.stop();
      await d.finished;
    }),
  );
file.command('rm <path>').action(async (path: string) => withCore(async (i, sys) => i.core.files.remove(sys, path)));
file.command('mv <from> <to>').action(async (from: string, to: string) => withCore(async (i, sys) => i.core.files.rename(sys, from, to).then(() => undefined)));

// --- incident response -------------------------------------------------------------------------
const incident = program.command('incident').description('incident response: what left, whose data, evidence');
const collect = (v: string, prev: string[] = []) => [...prev, v];
incident
  .command('scope')
  .description(
    'what the given addresses, users, organisations or tokens did in a window: files read (fully or partly), written, deleted, per organisation, with ledger evidence',
  )
  .requiredOption('--from <time>', 'window start, ISO 8601 (e.g. 2026-11-20T00:00:00Z)')
  .option('--to <time>', 'window end, ISO 8601 (default: now)')
  .option('--ip <address>', 'remote address (repeatable)', collect)
  .option('--user <login>', 'user (repeatable)', collect)
  .option('--org <name>', 'all users of an organisation (repeatable)', collect)
  .option('--token <id>', 'API token id (repeatable)', collect)
  .addOption(new Option('--format <format>', 'output').choices(['text', 'json', 'csv']).default('text'))
  .option('--json', 'same as --format json')
  .option('--out <file>', 'write to a file instead of standard output (mode 0600)')
  .action(async (o: { from: string; to?: string; ip?: string[]; user?: string[]; org?: string[]; token?: string[]; format: string; out?: string } & J) =>
    withCore(async (i, sys) => {
      const from = Date.parse(o.from);
      const to = o.to === undefined ? Date.now() + 1 : Date.parse(o.to);
      if (!Number.isFinite(from) || !Number.isFinite(to)) throw new CoreError('INVALID_INPUT', '--from and --to must be ISO 8601 times');
      const started = Date.now();
      const scope = await i.core.incident.scope(sys, {
        from,
        to,
        ...(o.ip ? { ips: o.ip } : {}),
        ...(o.user ? { users: o.user } : {}),
        ...(o.org ? { orgs: o.org } : {}),
        ...(o.token ? { tokens: o.token } : {}),
      });
      const format = o.json ? 'json' : o.format;
      const text = format === 'json' ? JSON.stringify(scope, null, 2) + '\n' : format === 'csv' ? scopeCsv(scope) : scopeText(scope);
      if (o.out) {
        fs.writeFileSync(o.out, text, { mode: 0o600, flag: 'wx' });
        process.stderr.write(
          `wrote ${o.out}: ${scope.totals.filesRead} file(s) read, ${scope.organisations.length} organisation(s), in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
        );
      } else process.stdout.write(text);
    }),
  );

const readScope = (file: string): unknown => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CoreError('INVALID_INPUT', `could not read the scope file ${file}: ${(e as Error).message}`);
  }
};
incident
  .command('notify')
  .description('draft one message per affected partner from a scope (sluice incident scope --format json --out F); --send mails them')
  .requiredOption('--scope <file>', 'scope JSON')
  .addOption(new Option('--lang <lang>', 'template language (templates in DATA_DIR/templates/notify.LANG.txt, editable)').choices(['de', 'en']).default('de'))
  .option('--sender <text>', 'signature line', 'Ihre Krankenkasse / your health insurer')
  .option('--send', "send the messages over SMTP (SLUICE_SMTP_URL) to the partners' contacts")
  .addOption(jsonOpt())
  .action(async (o: { scope: string; lang: 'de' | 'en'; sender: string; send?: boolean } & J) =>
    withCore(async (i, sys) => {
      const r = await i.core.incident.notify(sys, readScope(o.scope), { lang: o.lang, sender: o.sender, ...(o.send ? { send: true } : {}) });
      print(!!o.json, r, () =>
        [
          ...r.drafts.map(
            (d) =>
              `=== ${d.org} → ${d.to.join(', ') || '(no contact on file)'}${d.sent === true ? '  [sent]' : d.sent === false ? `  [FAILED: ${d.error}]` : ''}\nSubject: ${d.subject}\n\n${d.text}`,
          ),
          `${r.drafts.length} message(s)${o.send ? `, ${r.drafts.filter((d) => d.sent).length} sent` : ' drafted (use --send to mail them)'}${r.withoutContact.length ? `; no contact for: ${r.withoutContact.join(', ')}` : ''}`,
        ].join('\n'),
      );
      if (r.drafts.some((d) => d.sent === false)) process.exitCode = 1;
    }),
  );
incident
  .command('report')
  .description('write a GDPR Art. 33 notification skeleton (Markdown) from a scope and the measures in the ledger')
  .requiredOption('--scope <file>', 'scope JSON')
  .option('--out <file>', 'write to a file (mode 0600)')
  .action(async (o: { scope: string; out?: string }) =>
    withCore(async (i, sys) => {
      const text = await i.core.incident.report(sys, readScope(o.scope));
      if (o.out) fs.writeFileSync(o.out, text, { mode: 0o600, flag: 'wx' });
      else process.stdout.write(text);
    }),
  );

// --- canaries and decoys ----------------------------------------------------------------------
const canary = program.command('canary').description("canary files: any read alerts at once and trips the reader's download budget");
canary
  .command('plant <path>')
  .description('upload a plausible, fictitious billing file at PATH and mark it as a canary')
  .option('--note <text>', 'what this canary is for (shown in the alert)')
  .addOption(jsonOpt())
  .action(async (path: string, o: { note?: string } & J) =>
    withCore(async (i, sys) => {
      const r = await i.core.canaries.plant(sys, path, o.note);
      print(!!o.json, r, () => `planted canary ${path} (file ${r.fileId})`);
    }),
  );
canary
  .command('mark <path>')
  .description('mark an existing file as a canary')
  .option('--note <text>')
  .action(async (path: string, o: { note?: string }) =>
    withCore(async (i, sys) => console.log(`marked ${path} as a canary (file ${(await i.core.canaries.mark(sys, path, o.note)).fileId})`)),
  );
canary
  .command('list')
  .addOption(jsonOpt())
  .action(async (o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.canaries.list(sys);
      print(!!o.json, r, () =>
        table(
          r.map((c) => ({ ...c, planted: iso(c.plantedAt), path: c.path ?? '(file replaced or removed)' })),
          ['path', 'planted', 'plantedBy', 'note'],
        ),
      );
    }),
  );
program
  .command('decoy')
  .description('decoy accounts: `sluice decoy create LOGIN [--org NAME]` — every sign-in attempt on it alerts')
  .argument('<action>', 'create')
  .argument('<login>')
  .option('--org <name>', 'organisation the decoy appears to belong to')
  .action(async (action: string, login: string, o: { org?: string }) => {
    if (action !== 'create') throw new CoreError('INVALID_INPUT', 'unknown decoy action; use: sluice decoy create LOGIN');
    await withCore(async (i, sys) => {
      const r = await i.core.admin.users.create(sys, { login, decoy: true, ...(o.org ? { org: o.org } : {}) });
      console.log(`created decoy account ${r.user.login}`);
    });
  });

// --- download budgets ---------------------------------------------------------------------------
const budget = program.command('budget').description('download budgets (circuit breakers)');
budget
  .command('list')
  .description('tripped budgets (open ones; --all for lifted ones too) and the configured limits')
  .option('--all', 'include lifted trips')
  .addOption(jsonOpt())
  .action(async (o: { all?: boolean } & J) =>
    withCore(async (i, sys) => {
      const trips = await i.core.budgets.trips(sys, { all: !!o.all });
      const limits = i.core.budgets.settings();
      print(!!o.json, { limits, trips }, () =>
        [
          `window ${limits.windowMs / 60000} min; per user ${limits.user.files} files / ${limits.user.bytes} bytes; per organisation ${limits.org.files} / ${limits.org.bytes}; global ${limits.global.files} / ${limits.global.bytes}`,
          table(
            trips.map((t) => ({ ...t, tripped: iso(t.trippedAt), lifted: iso(t.liftedAt), who: t.detail.label, by: t.detail.by, from: t.detail.remoteAddr })),
            ['id', 'who', 'tripped', 'by', 'from', 'lifted'],
          ),
        ].join('\n'),
      );
    }),
  );
budget
  .command('lift <scope>')
  .description('lift a tripped budget: user:LOGIN, org:NAME, global, or a trip id')
  .action(async (scope: string) => withCore(async (i, sys) => console.log(`lifted ${await i.core.budgets.lift(sys, scope)} trip(s) of ${scope}`)));

// --- lockdown and kill switches ----------------------------------------------------------------
const lockdownText = (s: { mode: string; reason: string | null; since: number | null; by: string | null; disabled: readonly string[] }) =>
  [
    `lockdown: ${s.mode}${s.mode !== 'off' ? ` since ${iso(s.since)} by ${s.by}${s.reason ? ` (${s.reason})` : ''}` : ''}`,
    `protocols switched off: ${s.disabled.length ? s.disabled.join(', ') : 'none'}`,
  ].join('\n');
const lockdown = program.command('lockdown').description('stop partner access at once, on every node (administrators keep access)');
lockdown
  .command('on')
  .description('lock down: closed (nothing), read-only (list and read), ingest-only (uploads, no reads)')
  .addOption(new Option('--mode <mode>', 'what partners may still do').choices(['closed', 'read-only', 'ingest-only']).default('closed'))
  .option('--reason <text>', 'why (recorded in the ledger)')
  .addOption(jsonOpt())
  .action(async (o: { mode: string; reason?: string } & J) =>
    withCore(async (i, sys) => {
      const r = await i.core.lockdown.set(sys, { mode: o.mode, ...(o.reason ? { reason: o.reason } : {}) });
      print(!!o.json, r, () => lockdownText(r) + '\nrunning sessions are refused within about a second');
    }),
  );
lockdown
  .command('off')
  .description('end the lockdown')
  .addOption(jsonOpt())
  .action(async (o: J) => withCore(async (i, sys) => print(!!o.json, await i.core.lockdown.set(sys, { mode: 'off' }), () => 'lockdown: off')));
lockdown
  .command('status')
  .addOption(jsonOpt())
  .action(async (o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.lockdown.status(sys);
      print(!!o.json, r, () => lockdownText(r));
    }),
  );
const protocol = program.command('protocol').description('per-protocol kill switches: http (REST API), web (web app), sftp');
for (const [cmd, enabled] of [
  ['disable', false],
  ['enable', true],
] as const) {
  protocol
    .command(`${cmd} <name>`)
    .description(`${cmd} a protocol for partners and staff (takes effect on running sessions within about a second)`)
    .addOption(jsonOpt())
    .action(async (name: string, o: J) =>
      withCore(async (i, sys) => {
        const r = await i.core.lockdown.setProtocol(sys, name, enabled);
        print(!!o.json, r, () => lockdownText(r));
      }),
    );
}

// --- alerts ------------------------------------------------------------------------------------
program
  .command('alert')
  .description('alerts: `sluice alert test` sends a test alert through every configured channel')
  .argument('<action>', 'test')
  .addOption(jsonOpt())
  .action(async (action: string, o: J) => {
    if (action !== 'test') throw new CoreError('INVALID_INPUT', 'unknown alert action; use: sluice alert test');
    await withCore(async (i, sys) => {
      const r = await i.core.alerts.test(sys);
      await i.core.alerts.drain();
      print(!!o.json, r, () => `test alert recorded; channels: ${r.channels.length ? r.channels.join(', ') : 'none configured (log and ledger only)'}`);
    });
  });

// --- audit -------------------------------------------------------------------------------------
const audit = program.command('audit').description('the audit ledger');
audit
  .command('verify')
  .description('check the whole ledger: hash chain, signed checkpoints, external sink; exit 0 only if intact')
  .addOption(jsonOpt())
  .action(async (o: J) =>
    withCore(async (i, sys) => {
      const bar = progress('verify', 'events', !o.json);
      const r = await i.core.audit.verify(sys, (d, t) => bar.update(d, t));
      bar.stop();
      print(!!o.json, r, () => {
        if (!r.ok) return `LEDGER BROKEN at event ${r.problem?.seq}: ${r.problem?.reason}`;
        const lines = [`ledger intact: ${r.events} events, ${r.checkpoints} signed checkpoints (signed through event ${r.signedThrough})`];
        for (const s of r.sinks) lines.push(`  sink ${s.name}: ${s.checkpoints} checkpoints, all matching`);
        for (const w of r.warnings) lines.push(`  note: ${w}`);
        return lines.join('\n');
      });
      if (!r.ok) process.exitCode = 3;
    }),
  );
audit
  .command('checkpoint')
  .description('sign the ledger head now and send it to the external sink (the server does this every minute)')
  .addOption(jsonOpt())
  .action(async (o: J) =>
    withCore(async (i, sys) => {
      const r = await i.core.audit.checkpoint(sys);
      print(
        !!o.json,
        r,
        () =>
          (r.checkpoint ? `signed checkpoint at event ${r.checkpoint.seq}` : 'nothing new to sign') +
          r.sinkErrors.map((e) => `\nsink ${e.sink} failed: ${e.error}`).join(''),
      );
      if (r.sinkErrors.length) process.exitCode = 1;
    }),
  );
audit
  .command('events')
  .description('list ledger events, oldest first')
  .option('--from <time>', 'ISO 8601 start of the window')
  .option('--to <time>', 'ISO 8601 end of the window')
  .option('--user <login>')
  .option('--ip <address>')
  .option('--action <action>', 'e.g. file.read, auth.login')
  .option('--file <id>', 'file id')
  .option('--after <seq>', 'events after this sequence number')
  .option('--limit <n>', 'at most this many', '100')
  .addOption(jsonOpt())
  .action(async (o: { from?: string; to?: string; user?: string; ip?: string; action?: string; file?: string; after?: string; limit: string } & J) =>
    withCore(async (i, sys) => {
      const time = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const t = Date.parse(v);
        if (!Number.isFinite(t)) throw new CoreError('INVALID_INPUT', `--${name} must be an ISO 8601 time`);
        return t;
      };
      const num = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        if (!/^\d{1,15}$/.test(v)) throw new CoreError('INVALID_INPUT', `--${name} must be a whole number`);
        return Number(v);
      };
      const from = time(o.from, 'from');
      const to = time(o.to, 'to');
      const afterSeq = num(o.after, 'after');
      const limit = num(o.limit, 'limit');
      const r = await i.core.audit.events(sys, {
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(o.user ? { login: o.user } : {}),
        ...(o.ip ? { remoteAddr: o.ip } : {}),
        ...(o.action ? { action: o.action } : {}),
        ...(o.file ? { fileId: o.file } : {}),
        ...(afterSeq !== undefined ? { afterSeq } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      print(!!o.json, r, () =>
        table(
          r.map((e) => ({ ...e, actor: e.login ?? e.actorType })),
          ['seq', 'time', 'actor', 'protocol', 'remoteAddr', 'action', 'outcome', 'path', 'bytes'],
        ),
      );
    }),
  );

registerBackupCommands(program, { withCore, config });

program.parseAsync(process.argv).catch(fail);
