#!/usr/bin/env node
// `npm run drill [-- --dialect sqlite|pg] [--url POSTGRES_URL] [--keep]`: the incident drill of
// issue 4 against a fresh temporary data directory, with a step-by-step report — every measured
// time and PASS/FAIL per expectation. Exit code 0 only if every expectation holds, 1 otherwise,
// 2 for a usage error or when the drill could not be set up.
//
// The scenario is test/e2e/drill-scenario.ts, the same code the e2e test (test/e2e/drill.test.ts)
// runs. It starts `sluice serve` (HTTP and SFTP on free loopback ports), an SMTP server and a
// webhook receiver for the alerts, and needs the OpenSSH client (sftp, ssh-keygen). PostgreSQL:
// --url names a role that may create databases; the drill creates two and drops them afterwards.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const usage = `usage: npm run drill [-- --dialect sqlite|pg] [--url postgres://…] [--keep]
  --dialect   sqlite (default) or pg (postgres)
  --url       PostgreSQL URL of a role that may create databases (default $SLUICE_DRILL_PG_URL)
  --keep      keep the working directory (data, backup, scope.json, art33.md, server.log) and databases`;

let args;
try {
  args = parseArgs({
    options: {
      dialect: { type: 'string', default: 'sqlite' },
      url: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  console.error(`${e.message}\n${usage}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}
const dialect = { sqlite: 'sqlite', pg: 'postgres', postgres: 'postgres', postgresql: 'postgres' }[args.dialect];
const pgUrl = args.url ?? process.env.SLUICE_DRILL_PG_URL;
if (!dialect || (dialect === 'postgres' && !pgUrl)) {
  console.error(`${!dialect ? `unknown --dialect ${args.dialect}` : '--dialect pg needs --url'}\n${usage}`);
  process.exit(2);
}

register();
const { runDrill, DRILL } = await import(path.join(ROOT, 'test/e2e/drill-scenario.ts'));

const started = Date.now();
console.log(
  `Sluice incident drill (${dialect}): ${DRILL.partners} partners × ${DRILL.filesPerPartner} files; a stolen credential of one partner, able to read ${DRILL.attackerPartners.length} partners' folders, downloads from ${DRILL.attackerAddress}\n`,
);
let report;
try {
  report = await runDrill({ dialect, pgUrl, keep: args.keep, log: (line) => console.log(line) });
} catch (e) {
  console.error(`\nthe drill could not run: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
}

const failed = report.checks.filter((c) => !c.pass);
const ms = (n) => (Number.isFinite(n) ? (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${n} ms`) : 'n/a');
console.log('\nMeasured');
const labels = {
  seed: 'seed 1,000 files',
  attack: 'attack (SFTP + HTTP at once)',
  alertEmail: 'trip → alert e-mail received',
  alertWebhook: 'trip → alert webhook received',
  scope: 'sluice incident scope (whole command)',
  notifyDrafts: 'sluice incident notify (drafts)',
  notifySend: 'sluice incident notify --send',
  lockdownSftpSession: 'lockdown → running SFTP session refused',
  lockdownHttp: 'lockdown → HTTP requests refused',
  lockdownRunningDownload: 'lockdown → HTTP download in progress cut',
  backup: 'sluice backup (server running)',
  restore: 'sluice restore',
  verify: 'sluice verify (restored)',
  auditVerify: 'sluice audit verify (restored)',
};
for (const [k, v] of Object.entries(report.timings)) console.log(`  ${(labels[k] ?? k).padEnd(42)} ${ms(v)}`);
console.log(
  `\n${report.checks.length - failed.length} of ${report.checks.length} expectations hold (${((Date.now() - started) / 1000).toFixed(0)} s)${failed.length ? '; FAILED:' : ''}`,
);
for (const c of failed) console.log(`  FAIL [${c.step}] ${c.expectation} — ${c.measured}`);
if (report.kept) console.log(`\nkept: ${report.dir}`);
process.exit(report.ok ? 0 : 1);
