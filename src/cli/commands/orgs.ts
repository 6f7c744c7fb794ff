/** `sluice` commands: organisations: create, list, update. */
import { parseSize } from '../../config/units.js';
import { CoreError } from '../../core/errors.js';
import { print, table } from '../output.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerOrgCommands(cli: Cli): void {
  const { program, withCore } = cli;
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
      withCore(async (i, op) => {
        const quota = o.quota === undefined ? undefined : parseSize(o.quota);
        if (o.quota !== undefined && quota === undefined) throw new CoreError('INVALID_INPUT', `invalid --quota "${o.quota}"`);
        const r = await i.core.admin.orgs.create(op, {
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
      withCore(async (i, op) => {
        const r = await i.core.admin.orgs.list(op, { q: o.search });
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
        withCore(async (i, op) => {
          const bf =
            o.budgetFiles === undefined ? undefined : o.budgetFiles === 'default' ? null : /^\d{1,12}$/.test(o.budgetFiles) ? Number(o.budgetFiles) : NaN;
          const bb = o.budgetBytes === undefined ? undefined : o.budgetBytes === 'default' ? null : (parseSize(o.budgetBytes) ?? NaN);
          if (Number.isNaN(bf) || Number.isNaN(bb)) throw new CoreError('INVALID_INPUT', 'invalid --budget-files or --budget-bytes');
          const quota = o.quota === undefined ? undefined : o.quota === 'none' ? null : parseSize(o.quota);
          if (quota === undefined && o.quota !== undefined) throw new CoreError('INVALID_INPUT', `invalid --quota "${o.quota}"`);
          const r = await i.core.admin.orgs.update(op, name, {
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
}
