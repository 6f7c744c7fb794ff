/** `sluice` commands: init, serve, status. */
import { CoreError } from '../../core/errors.js';
import { openInstance, prepareDataDir, isInitialised, paths } from '../../app/instance.js';
import { loadHostKeys } from '../../app/host-keys.js';
import type { Config } from '../../config/config.js';
import { print } from '../output.js';
import { jsonOpt, quietLog, readSecretFile, type Cli, type J } from '../context.js';

/** Creates the data directory, keys, database and first administrator. Idempotent. */
export async function initialise(cfg: Config, login: string, passwordFile?: string): Promise<{ created: boolean; login: string; password?: string }> {
  const already = isInitialised(cfg);
  prepareDataDir(cfg);
  const inst = await openInstance(cfg, { log: await quietLog() });
  try {
    const op = inst.system({ protocol: 'cli', remoteAddr: 'local' }, 'cli:init');
    const r = await inst.core.setup.createFirstAdmin(op, login, passwordFile ? readSecretFile(passwordFile) : undefined);
    await inst.core.maintenance.checkpoint();
    return { created: r.created || !already, login, ...(r.password ? { password: r.password } : {}) };
  } finally {
    await inst.close();
  }
}

export function registerSetupCommands(cli: Cli): void {
  const { program, withCore } = cli;
  program
    .command('init')
    .description('create the data directory, keys, database and first administrator (once)')
    .option('--admin <login>', 'login of the first administrator', 'admin')
    .option('--admin-password-file <file>', 'read the administrator password from a file ("-" for stdin); otherwise one is generated and printed once')
    .addOption(jsonOpt())
    .action(async (o: { admin: string; adminPasswordFile?: string } & J) => {
      const cfg = cli.config();
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
      const cfg = cli.config();
      if (o.init && !isInitialised(cfg)) {
        const r = await initialise(cfg, 'admin');
        process.stderr.write(
          `Initialised Sluice in ${cfg.dataDir}\nAdministrator: admin\n${r.password ? `Password (shown once, store it now): ${r.password}\n` : ''}`,
        );
      }
      const { runServer } = await import('../../app/serve.js');
      await runServer(cfg);
    });

  program
    .command('status')
    .description('show configuration and state of this instance')
    .addOption(jsonOpt())
    .action(async (o: J) =>
      withCore(async (i, op) => {
        const orgs = await i.core.admin.orgs.list(op);
        const users = await i.core.admin.users.list(op);
        const ledger = await i.core.audit.verify(op);
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
}
