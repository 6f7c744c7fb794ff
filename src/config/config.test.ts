import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { explainConfig, loadConfig } from './config.js';
import { closest } from './suggest.js';
import { parseDuration, parseListen, parseSize } from './units.js';

describe('configuration', () => {
  it('has embedded defaults that listen on loopback only', () => {
    const c = loadConfig({});
    assert.deepEqual(c.httpListen, { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(c.sftpListen, { host: '127.0.0.1', port: 2222 });
    assert.equal(c.storage, 'local');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.ok(Object.isFrozen(c));
  });

  it('reads a JSON file and lets the environment win over it', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cfg-')), 'c.json');
    fs.writeFileSync(f, JSON.stringify({ dataDir: '/srv/sluice', maxUploadBytes: '2G', logLevel: 'warn' }));
    const c = loadConfig({ SLUICE_CONFIG: f, SLUICE_LOG_LEVEL: 'debug' });
    assert.equal(c.dataDir, '/srv/sluice');
    assert.equal(c.maxUploadBytes, 2 * 1024 ** 3);
    assert.equal(c.logLevel, 'debug');
    fs.writeFileSync(f, JSON.stringify({ unknownSetting: 1 }));
    assert.throws(() => loadConfig({ SLUICE_CONFIG: f }), /unknown setting "unknownSetting"/);
    fs.writeFileSync(f, JSON.stringify({ maxUploadByte: '1G' }));
    assert.throws(() => loadConfig({ SLUICE_CONFIG: f }), /unknown setting "maxUploadByte" \(did you mean maxUploadBytes\?\)/);
    fs.writeFileSync(f, '{ not json');
    assert.throws(() => loadConfig({ SLUICE_CONFIG: f }), /could not be read as JSON/);
  });

  it('names every wrong value, with the variable that holds it', () => {
    assert.throws(
      () => loadConfig({ SLUICE_HTTP_LISTEN: 'nope', SLUICE_MAX_UPLOAD_BYTES: 'lots', SLUICE_LOCKOUT_THRESHOLD: '-1', SLUICE_LOG_LEVEL: 'loud' }),
      (e: Error) =>
        /SLUICE_HTTP_LISTEN/.test(e.message) &&
        /SLUICE_MAX_UPLOAD_BYTES/.test(e.message) &&
        /SLUICE_LOCKOUT_THRESHOLD/.test(e.message) &&
        /SLUICE_LOG_LEVEL/.test(e.message),
    );
  });

  it('refuses plain HTTP on a non-loopback address unless a TLS proxy is declared', () => {
    assert.throws(() => loadConfig({ SLUICE_HTTP_LISTEN: '0.0.0.0:8080' }), /not a loopback address/);
    assert.equal(loadConfig({ SLUICE_HTTP_LISTEN: '0.0.0.0:8080', SLUICE_HTTP_TLS_PROXY: 'true' }).httpTlsProxy, true);
    assert.throws(() => loadConfig({ SLUICE_TLS_CERT: '/x.pem' }), /must be set together/);
    assert.throws(() => loadConfig({ SLUICE_DATABASE_URL: 'mysql://x' }), /SLUICE_DATABASE_URL.*postgres:\/\//);
  });

  it('refuses storage backends this version does not have', () => {
    assert.throws(() => loadConfig({ SLUICE_STORAGE: 's3' }), /not available/);
  });

  it('keeps at most one encrypted segment (64K) of a small file in the database', () => {
    assert.equal(loadConfig({}).inlineMaxBytes, 65536);
    assert.equal(loadConfig({ SLUICE_INLINE_MAX_BYTES: '0' }).inlineMaxBytes, 0);
    assert.equal(loadConfig({ SLUICE_INLINE_MAX_BYTES: '16K' }).inlineMaxBytes, 16384);
    assert.throws(() => loadConfig({ SLUICE_INLINE_MAX_BYTES: '65537' }), /SLUICE_INLINE_MAX_BYTES[\s\S]*at most 64K/);
  });

  it('parses sizes, durations and listen addresses', () => {
    assert.equal(parseSize('10K'), 10240);
    assert.equal(parseSize('1.5M'), 1572864);
    assert.equal(parseSize('2GiB'), 2 * 1024 ** 3);
    assert.equal(parseSize('x'), undefined);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration('0s'), undefined);
    assert.deepEqual(parseListen('[::1]:22'), { host: '::1', port: 22 });
    assert.equal(parseListen('host:99999'), undefined);
  });

  it('refuses an unknown SLUICE_* variable, with the nearest known name', () => {
    assert.throws(
      () => loadConfig({ SLUICE_HTTP_LISTN: '127.0.0.1:9000', SLUICE_SESION_IDLE: '5m' }),
      (e: Error) =>
        /unknown setting SLUICE_HTTP_LISTN \(did you mean SLUICE_HTTP_LISTEN\?\)/.test(e.message) &&
        /unknown setting SLUICE_SESION_IDLE \(did you mean SLUICE_SESSION_IDLE\?\)/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ SLUICE_WHATEVER_ELSE_ENTIRELY: '1' }),
      (e: Error) => /unknown setting SLUICE_WHATEVER_ELSE_ENTIRELY$/m.test(e.message),
    );
    // The CLI's and the test harness's own variables are not settings, and not refused.
    assert.doesNotThrow(() => loadConfig({ SLUICE_ADMIN: 'root', SLUICE_DEBUG: '1', SLUICE_TEST_PG_URL: 'postgres://x' }));
    // Other programs' variables are none of our business.
    assert.doesNotThrow(() => loadConfig({ RCLONE_CONFIG_SLUICE_HOST: 'x', MY_SLUICE_THING: 'y' }));
  });

  it('explains every setting: effective value, source, secrets masked', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cfg-')), 'c.json');
    fs.writeFileSync(f, JSON.stringify({ maxUploadBytes: '2G', sessionIdle: '10m' }));
    const rows = explainConfig(
      {
        SLUICE_CONFIG: f,
        SLUICE_SESSION_IDLE: '45m',
        SLUICE_DATABASE_URL: 'postgres://sluice:hunter2-secret@db.internal/sluice',
        SLUICE_ALERT_WEBHOOK_URL: 'https://hooks.example/x',
        SLUICE_ALERT_WEBHOOK_SECRET: 'a-very-secret-webhook-key',
      },
      { dataDir: '/srv/sluice' },
    );
    const by = Object.fromEntries(rows.map((r) => [r.env, r]));
    assert.deepEqual([by.SLUICE_MAX_UPLOAD_BYTES!.value, by.SLUICE_MAX_UPLOAD_BYTES!.source], [2 * 1024 ** 3, 'file']);
    assert.deepEqual([by.SLUICE_SESSION_IDLE!.value, by.SLUICE_SESSION_IDLE!.source], [45 * 60_000, 'environment']);
    assert.deepEqual([by.SLUICE_DATA_DIR!.value, by.SLUICE_DATA_DIR!.source], ['/srv/sluice', 'option']);
    assert.deepEqual([by.SLUICE_LOCKOUT_THRESHOLD!.value, by.SLUICE_LOCKOUT_THRESHOLD!.source], [5, 'default']);
    assert.equal(by.SLUICE_DATABASE_URL!.value, 'postgres://sluice:***@db.internal/sluice');
    assert.equal(by.SLUICE_ALERT_WEBHOOK_SECRET!.value, '***');
    assert.doesNotMatch(JSON.stringify(rows), /hunter2|very-secret/);
    assert.equal(rows.length, new Set(rows.map((r) => r.env)).size);
  });

  it('suggests only names that are close', () => {
    assert.equal(closest('SLUICE_LOG_LEVL', ['SLUICE_LOG_LEVEL', 'SLUICE_NODE_ID']), 'SLUICE_LOG_LEVEL');
    assert.equal(closest('SLUICE_FOO', ['SLUICE_LOG_LEVEL', 'SLUICE_NODE_ID']), undefined);
  });
});
