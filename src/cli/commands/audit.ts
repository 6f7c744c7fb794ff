/** `sluice` commands: the audit ledger: verify, checkpoint, events. */
import { CoreError } from '../../core/errors.js';
import { print, table } from '../output.js';
import { progress } from '../progress.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerAuditCommands(cli: Cli): void {
  const { program, withCore } = cli;
  const audit = program.command('audit').description('the audit ledger');
  audit
    .command('verify')
    .description('check the whole ledger: hash chain, signed checkpoints, external sink; exit 0 only if intact')
    .addOption(jsonOpt())
    .action(async (o: J) =>
      withCore(async (i, op) => {
        const bar = progress('verify', 'events', !o.json);
        const r = await i.core.audit.verify(op, (d, t) => bar.update(d, t));
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
      withCore(async (i, op) => {
        const r = await i.core.audit.checkpoint(op);
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
      withCore(async (i, op) => {
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
        const r = await i.core.audit.events(op, {
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
}
