/** `sluice` commands: API tokens. */
import { parseDuration } from '../../config/units.js';
import { CoreError } from '../../core/errors.js';
import { iso, print, table } from '../output.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerTokenCommands(cli: Cli): void {
  const { program, withCore } = cli;
  const token = program.command('token').description('API tokens');
  token
    .command('create <login>')
    .description('create an API token; it is printed once')
    .option('--expires <duration>', 'lifetime, e.g. 30d or 8h', '90d')
    .option('--name <name>', 'what the token is for')
    .addOption(jsonOpt())
    .action(async (login: string, o: { expires: string; name?: string } & J) =>
      withCore(async (i, op) => {
        const ms = parseDuration(o.expires);
        if (ms === undefined) throw new CoreError('INVALID_INPUT', `invalid --expires "${o.expires}" (e.g. 30d, 8h)`);
        const r = await i.core.admin.tokens.create(op, login, { expiresInMs: ms, ...(o.name ? { name: o.name } : {}) });
        print(!!o.json, { token: r.token, ...r.info, expiresAt: iso(r.info.expiresAt) }, () => r.token);
      }),
    );
  token
    .command('list <login>')
    .addOption(jsonOpt())
    .action(async (login: string, o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.tokens.list(op, login);
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
    .action(async (id: string) => withCore(async (i, op) => i.core.admin.tokens.revoke(op, id).then(() => console.log(`revoked token ${id}`))));
}
