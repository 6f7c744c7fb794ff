import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/config.js';
import { sftpLimits, sftpProcessCount } from './serve.js';

describe('serve: SFTP processes and limits from the configuration', () => {
  it('"auto" runs SFTP in worker processes only on PostgreSQL and with more than one core', () => {
    const sqlite = loadConfig({});
    const pg = loadConfig({ SLUICE_DATABASE_URL: 'postgres://sluice@db/sluice' });
    assert.equal(sqlite.sftpProcesses, 'auto');
    assert.equal(sftpProcessCount(sqlite, 8), 0);
    assert.equal(sftpProcessCount(pg, 8), 8);
    assert.equal(sftpProcessCount(pg, 1), 0);
    assert.equal(sftpProcessCount(loadConfig({ SLUICE_SFTP_PROCESSES: '3' }), 8), 3);
    assert.equal(sftpProcessCount(loadConfig({ SLUICE_DATABASE_URL: 'postgres://sluice@db/sluice', SLUICE_SFTP_PROCESSES: '0' }), 8), 0);
  });

  it('refuses a process count that is not "auto" or 0–64', () => {
    for (const bad of ['many', '-1', '65', '1.5']) assert.throws(() => loadConfig({ SLUICE_SFTP_PROCESSES: bad }), /SLUICE_SFTP_PROCESSES/);
  });

  it('takes the connection limits from the configuration', () => {
    const l = sftpLimits(
      loadConfig({
        SLUICE_SFTP_MAX_CONNECTIONS: '10',
        SLUICE_SFTP_MAX_CONNECTIONS_PER_IP: '2',
        SLUICE_SFTP_MAX_PREAUTH_PER_IP: '1',
        SLUICE_SFTP_LOGIN_GRACE: '5s',
      }),
    );
    assert.deepEqual([l.maxConnections, l.maxConnectionsPerIp, l.maxPreAuthPerIp, l.loginGraceMs], [10, 2, 1, 5000]);
  });
});
