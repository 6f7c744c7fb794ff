// A CLI command that raises an alert (here `sluice lockdown on`) does not exit before the alert is
// delivered: a webhook that fails the first time gets the retry before the process ends.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir, type TempDir } from '../helpers/dialects.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe('CLI alert delivery', () => {
  let dir: TempDir;
  let hook: http.Server;
  let env: NodeJS.ProcessEnv;
  const received: { status: number; code: string }[] = [];
  let failNext = 0;

  const sluice = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, env, timeout: 60_000 });

  before(async () => {
    dir = tempDir('cli-alerts');
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const status = failNext > 0 ? 503 : 200;
        if (failNext > 0) failNext--;
        received.push({ status, code: (JSON.parse(body) as { code: string }).code });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      SLUICE_DATA_DIR: path.join(dir.path, 'data'),
      SLUICE_LOG_LEVEL: 'error',
      SLUICE_ADMIN: 'root',
      SLUICE_ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      SLUICE_ALERT_WEBHOOK_SECRET: 'a-webhook-secret-of-some-length',
      SLUICE_ALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
    };
    await sluice(['init', '--admin', 'root']);
  });
  after(async () => {
    await new Promise<void>((r) => hook.close(() => r()));
    await dir.cleanup();
  });

  it('a webhook that fails once still gets the lockdown alert before the command exits', async () => {
    received.length = 0;
    failNext = 1;
    await sluice(['lockdown', 'on', '--mode', 'closed', '--reason', 'drill']);
    const lockdown = received.filter((r) => r.code === 'LOCKDOWN_CHANGED');
    assert.deepEqual(
      lockdown.map((r) => r.status),
      [503, 200],
      'the failed try, then the retry, both before exit',
    );
    await sluice(['lockdown', 'off']);
  });

  it('a channel that stays down is reported on stderr, and the command still succeeds', async () => {
    received.length = 0;
    failNext = 100;
    const r = await sluice(['lockdown', 'on', '--mode', 'read-only', '--reason', 'drill']);
    assert.match(r.stderr, /alert delivery\(ies\) still failing; the alert is in the ledger and the log/);
    assert.ok(received.length >= 2, 'the first retries were tried');
    failNext = 0;
    await sluice(['lockdown', 'off']);
  });
});
