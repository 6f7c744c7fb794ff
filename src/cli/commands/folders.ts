/** `sluice` commands: folders and grants. */
import { iso, print, table } from '../output.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerFolderCommands(cli: Cli): void {
  const { program, withCore } = cli;
  const folder = program.command('folder').description('folders');
  folder
    .command('create <path>')
    .description('create a folder and missing parents')
    .option('--org <name>', 'owning organisation (its quota applies)')
    .addOption(jsonOpt())
    .action(async (path: string, o: { org?: string } & J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.folders.create(op, path, o.org ? { org: o.org } : {});
        print(!!o.json, r, () => `created folder ${r.path}`);
      }),
    );
  folder
    .command('list')
    .addOption(jsonOpt())
    .action(async (o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.folders.list(op);
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
      await withCore(async (i, op) => {
        const r = await i.core.admin.grants.set(op, subject!, path!, perms!);
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
      withCore(async (i, op) => {
        const r = await i.core.admin.grants.list(op, { ...(o.path ? { path: o.path } : {}), ...(o.subject ? { subject: o.subject } : {}) });
        // `grant` has --json too, and commander hands it to the parent command.
        print(!!(o.json || grant.opts<J>().json), r, () => table(r, ['path', 'subject', 'permissions']));
      }),
    );
  grant
    .command('revoke <subject> <path>')
    .description('remove a grant')
    .action(async (subject: string, path: string) =>
      withCore(async (i, op) => i.core.admin.grants.revoke(op, subject, path).then(() => console.log(`revoked ${subject} on ${path}`))),
    );
}
