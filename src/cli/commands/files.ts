/** `sluice` commands: files, as an administrator. */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Instance } from '../../app/instance.js';
import { parseFileMetadata } from '../../core/index.js';
import { iso, print, table } from '../output.js';
import { progress } from '../progress.js';
import { jsonOpt, type Cli, type J } from '../context.js';

export function registerFileCommands(cli: Cli): void {
  const { program, withCore } = cli;
  const file = program.command('file').description('files, as an administrator');
  file
    .command('ls [path]')
    .addOption(jsonOpt())
    .action(async (path: string | undefined, o: J) =>
      withCore(async (i, op) => {
        const all: Awaited<ReturnType<Instance['core']['files']['list']>>['entries'][number][] = [];
        let next: string | undefined;
        do {
          const page = await i.core.files.list(op, path ?? '/', { cursor: next });
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
      withCore(async (i, op) => {
        const size = fs.statSync(local).size;
        const bar = progress('upload', 'bytes', !o.json);
        let done = 0;
        const src = fs.createReadStream(local, { highWaterMark: 1 << 20 });
        src.on('data', (c) => bar.update((done += c.length), size));
        try {
          const metadata = parseFileMetadata({ records: o.records, categories: o.categories });
          const r = await i.core.files.upload(op, path, src, { expectedSize: size, metadata });
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
      withCore(async (i, op) => {
        const d = await i.core.files.openDownload(op, path);
        const bar = progress('download', 'bytes', local !== '-');
        let done = 0;
        d.stream.on('data', (c: Buffer) => bar.update((done += c.length), d.length));
        await pipeline(d.stream, local === '-' ? process.stdout : fs.createWriteStream(local, { flags: 'wx' }));
        bar.stop();
        await d.finished;
      }),
    );
  file.command('rm <path>').action(async (path: string) => withCore(async (i, op) => i.core.files.remove(op, path)));
  file.command('mv <from> <to>').action(async (from: string, to: string) => withCore(async (i, op) => i.core.files.rename(op, from, to).then(() => undefined)));
}
