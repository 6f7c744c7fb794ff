/**
 * The `sluice` command. Each group of commands registers itself (src/cli/commands/); every command
 * acts through the core as the administrator named by --as / SLUICE_ADMIN (see context.ts),
 * recorded in the ledger as protocol "cli".
 */
import { Command } from 'commander';
import { fail } from './output.js';
import { createCli } from './context.js';
import { registerBackupCommands } from './backup.js';
import { registerSetupCommands } from './commands/setup.js';
import { registerOrgCommands } from './commands/orgs.js';
import { registerUserCommands } from './commands/users.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerFolderCommands } from './commands/folders.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerFileCommands } from './commands/files.js';
import { registerIncidentCommands } from './commands/incident.js';
import { registerDefenceCommands } from './commands/defence.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerConfigCommands } from './commands/config.js';

const program = new Command('sluice')
  .description('Sluice managed file transfer: administration and server')
  .version('0.1.0')
  .option('--data-dir <dir>', 'data directory (default $SLUICE_DATA_DIR or ./data)')
  .option('--config <file>', 'JSON configuration file (default $SLUICE_CONFIG)')
  .option('--as <login>', 'the administrator you are (default $SLUICE_ADMIN); recorded in the ledger with your operating-system user')
  .option('--break-glass', 'act as the local system when no administrator can act (recorded as such)')
  .showHelpAfterError();

const cli = createCli(program);
for (const register of [
  registerSetupCommands,
  registerOrgCommands,
  registerUserCommands,
  registerKeyCommands,
  registerFolderCommands,
  registerTokenCommands,
  registerFileCommands,
  registerIncidentCommands,
  registerDefenceCommands,
  registerAuditCommands,
  registerConfigCommands,
])
  register(cli);
registerBackupCommands(program, cli);

program.parseAsync(process.argv).catch(fail);
