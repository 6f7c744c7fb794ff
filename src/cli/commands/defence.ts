/** `sluice` commands: canaries, decoys, download budgets, lockdown, protocol switches, alerts. */
import { Option } from 'commander';
import { CoreError } from '../../core/errors.js';
import { iso, print, table } from '../output.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerDefenceCommands(cli: Cli): void {
  const { program, withCore } = cli;
  const canary = program.command('canary').description("canary files: any read alerts at once and trips the reader's download budget");
  canary
    .command('plant <path>')
    .description('upload a plausible, fictitious billing file at PATH and mark it as a canary')
    .option('--note <text>', 'what this canary is for (shown in the alert)')
    .addOption(jsonOpt())
    .action(async (path: string, o: { note?: string } & J) =>
      withCore(async (i, op) => {
        const r = await i.core.canaries.plant(op, path, o.note);
        print(!!o.json, r, () => `planted canary ${path} (file ${r.fileId})`);
      }),
    );
  canary
    .command('mark <path>')
    .description('mark an existing file as a canary')
    .option('--note <text>')
    .action(async (path: string, o: { note?: string }) =>
      withCore(async (i, op) => console.log(`marked ${path} as a canary (file ${(await i.core.canaries.mark(op, path, o.note)).fileId})`)),
    );
  canary
    .command('list')
    .addOption(jsonOpt())
    .action(async (o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.canaries.list(op);
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
      await withCore(async (i, op) => {
        const r = await i.core.admin.users.create(op, { login, decoy: true, ...(o.org ? { org: o.org } : {}) });
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
      withCore(async (i, op) => {
        const trips = await i.core.budgets.trips(op, { all: !!o.all });
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
    .action(async (scope: string) => withCore(async (i, op) => console.log(`lifted ${await i.core.budgets.lift(op, scope)} trip(s) of ${scope}`)));

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
      withCore(async (i, op) => {
        const r = await i.core.lockdown.set(op, { mode: o.mode, ...(o.reason ? { reason: o.reason } : {}) });
        print(!!o.json, r, () => lockdownText(r) + '\nrunning sessions are refused within about a second');
      }),
    );
  lockdown
    .command('off')
    .description('end the lockdown')
    .addOption(jsonOpt())
    .action(async (o: J) => withCore(async (i, op) => print(!!o.json, await i.core.lockdown.set(op, { mode: 'off' }), () => 'lockdown: off')));
  lockdown
    .command('status')
    .addOption(jsonOpt())
    .action(async (o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.lockdown.status(op);
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
        withCore(async (i, op) => {
          const r = await i.core.lockdown.setProtocol(op, name, enabled);
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
      await withCore(async (i, op) => {
        const r = await i.core.alerts.test(op);
        await i.core.alerts.drain();
        print(!!o.json, r, () => `test alert recorded; channels: ${r.channels.length ? r.channels.join(', ') : 'none configured (log and ledger only)'}`);
      });
    });
}
