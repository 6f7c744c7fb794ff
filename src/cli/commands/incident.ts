/** `sluice` commands: incident response: scope, partner notifications, Art. 33 report. */
import fs from 'node:fs';
import { Option } from 'commander';
import { CoreError } from '../../core/errors.js';
import { scopeCsv, scopeText } from '../../core/index.js';
import { print } from '../output.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerIncidentCommands(cli: Cli): void {
  const { program, withCore } = cli;
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
      withCore(async (i, op) => {
        const from = Date.parse(o.from);
        const to = o.to === undefined ? Date.now() + 1 : Date.parse(o.to);
        if (!Number.isFinite(from) || !Number.isFinite(to)) throw new CoreError('INVALID_INPUT', '--from and --to must be ISO 8601 times');
        const started = Date.now();
        const scope = await i.core.incident.scope(op, {
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
      withCore(async (i, op) => {
        const r = await i.core.incident.notify(op, readScope(o.scope), { lang: o.lang, sender: o.sender, ...(o.send ? { send: true } : {}) });
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
    .description(
      'write a GDPR Art. 33 notification skeleton (Markdown) from a scope and the measures in the ledger, in one language, times in SLUICE_TIME_ZONE',
    )
    .requiredOption('--scope <file>', 'scope JSON')
    .addOption(new Option('--lang <lang>', 'language of the whole report').choices(['de', 'en']).default('de'))
    .option('--out <file>', 'write to a file (mode 0600)')
    .action(async (o: { scope: string; lang: 'de' | 'en'; out?: string }) =>
      withCore(async (i, op) => {
        const text = await i.core.incident.report(op, readScope(o.scope), { lang: o.lang });
        if (o.out) fs.writeFileSync(o.out, text, { mode: 0o600, flag: 'wx' });
        else process.stdout.write(text);
      }),
    );
}
