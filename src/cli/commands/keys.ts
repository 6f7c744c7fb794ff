/** `sluice` commands: SSH public keys of users. */
import fs from 'node:fs';
import type { Instance } from '../../app/instance.js';
import { CoreError } from '../../core/errors.js';
import { iso, print, table } from '../output.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerKeyCommands(cli: Cli): void {
  const { program, withCore } = cli;
  const key = program.command('key').description('SSH public keys of users');
  key
    .command('add <login> <file>')
    .description('add an SSH public key (OpenSSH format, one per line; "-" for stdin)')
    .addOption(jsonOpt())
    .action(async (login: string, file: string, o: J) =>
      withCore(async (i, op) => {
        const text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
        const lines = text
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('#'));
        if (lines.length === 0) throw new CoreError('INVALID_INPUT', 'no public key found in the file');
        const added: Awaited<ReturnType<Instance['core']['admin']['keys']['add']>>[] = [];
        for (const l of lines) added.push(await i.core.admin.keys.add(op, login, l));
        print(!!o.json, added, () => added.map((k) => `added ${k.algorithm} ${k.fingerprint} to ${login}`).join('\n'));
      }),
    );
  key
    .command('list <login>')
    .addOption(jsonOpt())
    .action(async (login: string, o: J) =>
      withCore(async (i, op) => {
        const r = await i.core.admin.keys.list(op, login);
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
      withCore(async (i, op) => i.core.admin.keys.remove(op, login, id).then(() => console.log(`removed key ${id}`))),
    );
}
