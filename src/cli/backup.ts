/**
 * `sluice backup`, `sluice restore`, `sluice verify`: registered on the main program by
 * registerBackupCommands. Backup and verify act through the core (as the operator, recorded in
 * the ledger); restore builds a new instance through the composition root and then records itself
 * through the restored instance's core.
 */
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import type { Config } from '../config/config.js';
import { restoreInstance, type Instance } from '../app/instance.js';
import { CoreError } from '../core/errors.js';
import { MIN_PASSPHRASE, type Principal } from '../core/index.js';
import { print } from './output.js';
import { progress } from './progress.js';

export interface BackupCliDeps {
  withCore<T>(fn: (i: Instance, op: Principal) => Promise<T>): Promise<T>;
  config(): Config;
}

type J = { json?: boolean };
const jsonOpt = () => new Option('--json', 'print a JSON summary');
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The passphrase: the first line of a file ("-" = standard input), or asked for on a terminal. */
async function passphrase(file: string | undefined, confirm: boolean): Promise<string> {
  if (file !== undefined) {
    const text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
    return text.split(/\r?\n/)[0] ?? '';
  }
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new CoreError('INVALID_INPUT', 'give the passphrase with --passphrase-file FILE (or run on a terminal to be asked)');
  const first = await askHidden(confirm ? `Backup passphrase (at least ${MIN_PASSPHRASE} characters): ` : 'Backup passphrase: ');
  if (confirm) {
    if ([...first].length < MIN_PASSPHRASE) throw new CoreError('INVALID_INPUT', `the backup passphrase must have at least ${MIN_PASSPHRASE} characters`);
    if ((await askHidden('Repeat the passphrase: ')) !== first) throw new CoreError('INVALID_INPUT', 'the passphrases differ');
  }
  return first;
}

/** Reads one line from the terminal without echoing it. */
function askHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let buf = '';
    const end = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') {
          end();
          resolve(buf);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          end();
          reject(new CoreError('ABORTED', 'cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') buf = [...buf].slice(0, -1).join('');
        else if (ch >= ' ') buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

const note = (json: boolean | undefined, text: string) => {
  if (!json && process.stderr.isTTY) process.stderr.write(text + '\n');
};

export function registerBackupCommands(program: Command, deps: BackupCliDeps): void {
  program
    .command('backup')
    .description('write a consistent backup of this instance (database, blobs, passphrase-encrypted keys) while it runs')
    .requiredOption('--to <dir>', 'new or empty directory to write the backup into')
    .option(
      '--passphrase-file <file>',
      `file whose first line is the passphrase for keys.enc (at least ${MIN_PASSPHRASE} characters; "-" for stdin); asked for on a terminal otherwise`,
    )
    .addOption(jsonOpt())
    .action(async (o: { to: string; passphraseFile?: string } & J) => {
      const pass = await passphrase(o.passphraseFile, true);
      await deps.withCore(async (i, op) => {
        const bar = progress('backup', 'bytes', !o.json);
        const r = await i.core.backup
          .create(op, {
            to: o.to,
            passphrase: pass,
            onProgress: (d, t) => bar.update(d, t),
            onStage: (s) => {
              if (s === 'database') note(o.json, 'exporting the database (one consistent snapshot)…');
              if (s === 'keys') bar.stop();
            },
          })
          .finally(() => bar.stop());
        const rows = r.tables.reduce((n, t) => n + t.rows, 0);
        print(!!o.json, r, () =>
          [
            `backup written to ${r.dir} in ${secs(r.durationMs)}`,
            `  database  ${rows} rows in ${r.tables.length} tables; ledger head at event ${r.ledger.headSeq}`,
            `  blobs     ${r.blobs.count} (${mib(r.blobs.bytes)} stored, ${mib(r.blobs.plaintextBytes)} of files), copied as ciphertext`,
            `  keys      ${r.keyFiles} key files in keys.enc, encrypted with the passphrase`,
            'Without keys.enc and its passphrase the backup cannot be restored; keep the passphrase apart from it.',
          ].join('\n'),
        );
      });
    });

  program
    .command('restore')
    .description('build an instance from a backup in an EMPTY data directory (and empty database: SQLite in the data directory, or SLUICE_DATABASE_URL)')
    .requiredOption('--from <dir>', 'backup directory (written by sluice backup)')
    .option('--passphrase-file <file>', 'file whose first line is the backup passphrase ("-" for stdin); asked for on a terminal otherwise')
    .addOption(jsonOpt())
    .action(async (o: { from: string; passphraseFile?: string } & J) => {
      const pass = await passphrase(o.passphraseFile, false);
      const cfg = deps.config();
      const log = (await import('pino')).pino({ level: process.env.SLUICE_LOG_LEVEL ?? 'warn' }, process.stderr);
      const bar = progress('restore', 'bytes', !o.json);
      const r = await restoreInstance(cfg, { from: o.from, passphrase: pass, log, onProgress: (d, t) => bar.update(d, t) }).finally(() => bar.stop());
      const s = r.summary;
      print(
        !!o.json,
        { ...s, dataDir: cfg.dataDir, ok: r.check.ok, ledger: r.check.ledger, headMatches: r.check.headMatches, warnings: r.check.warnings },
        () =>
          [
            `restored the backup of ${s.createdAt} (${s.sourceDialect}) into ${cfg.dataDir} (${s.targetDialect}) in ${secs(s.durationMs)}`,
            `  database  ${s.tables.reduce((n, t) => n + t.rows, 0)} rows in ${s.tables.length} tables, row counts and file hashes match the manifest`,
            `  blobs     ${s.blobs.count} (${mib(s.blobs.bytes)}), each checked against the backup's SHA-256`,
            `  keys      ${s.keyFiles} key files (0600)${s.anchorRestored ? '; ledger anchor file restored' : ''}`,
            r.check.ok
              ? `  ledger    intact: ${r.check.ledger.events} events, ${r.check.ledger.checkpoints} signed checkpoints, head as in the backup`
              : `  LEDGER BROKEN: ${r.check.ledger.problem ? `at event ${r.check.ledger.problem.seq}: ${r.check.ledger.problem.reason}` : "the head differs from the backup's"}`,
            ...r.check.warnings.map((w) => `  note: ${w}`),
            r.check.ok ? 'Run "sluice verify" to read back every file.' : '',
          ]
            .filter(Boolean)
            .join('\n'),
      );
      if (!r.check.ok) process.exitCode = 3;
    });

  program
    .command('verify')
    .description('read back every file (decrypt, size, SHA-256), find missing, damaged and orphan blobs, and check the ledger; exit 0 only if all holds')
    .addOption(jsonOpt())
    .action(async (o: J) =>
      deps.withCore(async (i, op) => {
        const blobs = progress('verify', 'bytes', !o.json);
        const ledger = progress('ledger', 'events', !o.json);
        let phase: 'blobs' | 'ledger' = 'blobs';
        const r = await i.core.backup
          .verify(op, {
            onProgress: (ph, d, t) => {
              if (ph !== phase) {
                blobs.stop();
                phase = ph;
              }
              (ph === 'blobs' ? blobs : ledger).update(d, t);
            },
          })
          .finally(() => {
            blobs.stop();
            ledger.stop();
          });
        print(!!o.json, r, () => {
          const lines = [`${r.ok ? 'verified' : 'VERIFICATION FAILED'}: ${r.files} files, ${mib(r.bytes)} read back in ${secs(r.durationMs)}`];
          lines.push(`  storage   ${r.counts.missing} missing, ${r.counts.corrupt} damaged, ${r.counts.orphans} orphan blob(s)`);
          for (const x of r.missing.slice(0, 50)) lines.push(`    missing  ${x.path} (file ${x.fileId}, blob ${x.blobKey})`);
          for (const x of r.corrupt.slice(0, 50)) lines.push(`    damaged  ${x.path} (file ${x.fileId}): ${x.reason}`);
          for (const k of r.orphans.slice(0, 50)) lines.push(`    orphan   blob ${k}`);
          lines.push(
            r.ledger.ok
              ? `  ledger    intact: ${r.ledger.events} events, ${r.ledger.checkpoints} signed checkpoints`
              : `  LEDGER BROKEN at event ${r.ledger.problem?.seq}: ${r.ledger.problem?.reason}`,
          );
          for (const w of r.ledger.warnings) lines.push(`  note: ${w}`);
          return lines.join('\n');
        });
        if (!r.ledger.ok) process.exitCode = 3;
        else if (!r.ok) process.exitCode = 1;
      }),
    );
}
