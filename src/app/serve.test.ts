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
        SLUICE_SFTP_BANNER_TIMEOUT: '3s',
        SLUICE_SFTP_KEX_TIMEOUT: '4s',
        SLUICE_SFTP_MAX_STARTUPS: '5:50:9',
        SLUICE_SFTP_MAX_UNAUTH_PER_IP: '7',
        SLUICE_SFTP_PENALTIES: 'authfail:2s min:6s',
        SLUICE_SFTP_PENALTY_EXEMPT: '192.0.2.0/24',
      }),
    );
    assert.deepEqual([l.maxConnections, l.maxConnectionsPerIp, l.maxPreAuthPerIp, l.loginGraceMs], [10, 2, 1, 5000]);
    assert.deepEqual([l.bannerTimeoutMs, l.kexTimeoutMs, l.maxUnauthPerIp], [3000, 4000, 7]);
    assert.deepEqual(l.maxStartups, { start: 5, rate: 50, full: 9 });
    assert.deepEqual([l.penalties?.authfail, l.penalties?.min, l.penalties?.noauth, l.penalties?.exempt], [2000, 6000, 1000, ['192.0.2.0/24']]);
    assert.equal(sftpLimits(loadConfig({ SLUICE_SFTP_PENALTIES: 'off' })).penalties, undefined);
    assert.ok(sftpLimits(loadConfig({})).penalties, 'penalties are on by default');
    for (const [k, v] of [
      ['SLUICE_SFTP_MAX_STARTUPS', '9:50:5'],
      ['SLUICE_SFTP_PENALTIES', 'authfail:forever'],
      ['SLUICE_SFTP_PENALTY_EXEMPT', 'not-an-address'],
      ['SLUICE_SFTP_BANNER_TIMEOUT', 'soon'],
    ] as const)
      assert.throws(() => loadConfig({ [k]: v }), new RegExp(k));
  });
});
