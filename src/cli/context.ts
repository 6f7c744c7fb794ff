/**
 * What every `sluice` command receives: the program, the configuration, and `withCore`, which
 * opens the instance and hands the command the principal it acts as.
 *
 * Commands act as a named administrator: `--as LOGIN` or `SLUICE_ADMIN=LOGIN` (an active
 * administrator). The ledger records that login and, as the client, the operating-system user.
 * `--break-glass` acts as the local system instead (when no administrator can act, e.g. all are
 * disabled), recorded as `cli:break-glass:OSUSER`.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Option, type Command } from 'commander';
import { explainConfig, loadConfig, type Config, type ExplainedSetting } from '../config/config.js';
import { openInstance, type Instance } from '../app/instance.js';
import { CoreError } from '../core/errors.js';
import type { Principal } from '../core/index.js';

export interface Cli {
  readonly program: Command;
  config(): Config;
  /** The effective configuration with the source of each value (secrets masked). */
  explain(): ExplainedSetting[];
  /** Opens the instance, runs fn as the operator, delivers pending alerts, closes. */
  withCore<T>(fn: (i: Instance, operator: Principal) => Promise<T>): Promise<T>;
}

export const jsonOpt = () => new Option('--json', 'print JSON');
export type J = { json?: boolean };

/** Reads a secret from a file ("-" = standard input): the first line, without its line ending. */
export function readSecretFile(f: string): string {
  const text = f === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(f, 'utf8');
  return text.split(/\r?\n/)[0] ?? '';
}

export const quietLog = async () => (await import('pino')).pino({ level: process.env.SLUICE_LOG_LEVEL ?? 'warn' }, process.stderr);

/** How long a CLI command waits for its alerts to be delivered (first tries and the 1 s and 5 s retries). */
const ALERT_DRAIN_MS = 8_000;

interface GlobalOptions {
  dataDir?: string;
  config?: string;
  as?: string;
  breakGlass?: boolean;
}

export function createCli(program: Command): Cli {
  const opts = () => program.opts<GlobalOptions>();
  const sources = () => {
    const g = opts();
    return [{ ...process.env, ...(g.config ? { SLUICE_CONFIG: g.config } : {}) }, g.dataDir ? { dataDir: g.dataDir } : {}] as const;
  };
  const config = (): Config => loadConfig(...sources());
  const osUser = (() => {
    try {
      return os.userInfo().username;
    } catch {
      return `uid ${process.getuid?.() ?? '?'}`;
    }
  })();
  async function operatorOf(inst: Instance): Promise<Principal> {
    const g = opts();
    const ctx = { protocol: 'cli' as const, remoteAddr: 'local', client: `sluice-cli os:${osUser}` };
    const login = g.as ?? process.env.SLUICE_ADMIN;
    if (g.breakGlass) {
      if (login) throw new CoreError('INVALID_INPUT', 'give either --as (or SLUICE_ADMIN) or --break-glass, not both');
      process.stderr.write(`sluice: break-glass: acting as the local system, recorded as cli:break-glass:${osUser}\n`);
      return inst.system(ctx, `cli:break-glass:${osUser}`);
    }
    if (!login)
      throw new CoreError(
        'INVALID_INPUT',
        `say which administrator you are: --as LOGIN or SLUICE_ADMIN=LOGIN (recorded in the ledger with the operating-system user "${osUser}")`,
      );
    return inst.operator(login, ctx);
  }
  return {
    program,
    config,
    explain: () => explainConfig(...sources()),
    async withCore(fn) {
      const inst = await openInstance(config(), { log: await quietLog() });
      try {
        return await fn(inst, await operatorOf(inst));
      } finally {
        // An alert raised by the command (lockdown, budget lifted…) is delivered before we exit;
        // a channel that stays down is given its first retries, then reported.
        const undelivered = await inst.core.alerts.drain(ALERT_DRAIN_MS);
        if (undelivered > 0) process.stderr.write(`warning: ${undelivered} alert delivery(ies) still failing; the alert is in the ledger and the log\n`);
        await inst.close();
      }
    },
  };
}
