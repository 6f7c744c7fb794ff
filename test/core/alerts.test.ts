import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { testInstance, type TestInstance } from '../helpers/instance.js';
import { createWebhookChannel, isPrivateAddress } from '../../src/adapters/alerts/webhook.js';
import { validateAddresses } from '../../src/adapters/alerts/email.js';
import type { Alert } from '../../src/ports/alert-channel.js';

const SECRET = 'a-webhook-secret-of-some-length';
const sample: Alert = { code: 'ALERT_TEST', severity: 'info', message: 'x', time: new Date().toISOString(), node: 'n', detail: {} };

describe('alerts', () => {
  let t: TestInstance;
  let smtp: TestSmtp;
  let hook: http.Server;
  const mails = () => smtp.mails;
  const hooks: { headers: http.IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    smtp = await startSmtp();
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookPort = (hook.address() as AddressInfo).port;
    t = await testInstance('sqlite', {
      SLUICE_SMTP_URL: smtp.url,
      SLUICE_MAIL_FROM: 'sluice@insurer.example',
      SLUICE_ALERT_EMAIL: 'security@insurer.example,dpo@insurer.example',
      SLUICE_ALERT_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/hooks/sluice`,
      SLUICE_ALERT_WEBHOOK_SECRET: SECRET,
      SLUICE_ALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
  });
  after(async () => {
    await t.cleanup();
    await smtp.close();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  it('a lockdown raises one alert: ledger, e-mail over real SMTP, signed webhook', async () => {
    await t.core.lockdown.set(t.system, { mode: 'closed', reason: 'stolen credential' });
    await t.core.alerts.drain();
    assert.equal(mails().length, 1);
    assert.deepEqual(mails()[0]!.to.sort(), ['dpo@insurer.example', 'security@insurer.example']);
    assert.match(mails()[0]!.data, /Subject: \[Sluice critical\] LOCKDOWN_CHANGED: lockdown closed/);
    assert.equal(hooks.length, 1);
    const sig = String(hooks[0]!.headers['x-sluice-signature']);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
    assert.ok(m, sig);
    assert.equal(m[2], createHmac('sha256', SECRET).update(`${m[1]}.${hooks[0]!.body}`).digest('hex'), 'signature verifies with the shared secret');
    const body = JSON.parse(hooks[0]!.body) as { type: string; code: string; detail: { reason: string } };
    assert.equal(body.type, 'sluice.alert');
    assert.equal(body.code, 'LOCKDOWN_CHANGED');
    assert.equal(body.detail.reason, 'stolen credential');
    const ev = await t.core.audit.events(t.system, { action: 'alert' });
    assert.equal(ev.at(-1)!.detail.code, 'LOCKDOWN_CHANGED');
    await t.core.lockdown.set(t.system, { mode: 'off' });
  });

  it('webhooks refuse private, loopback and metadata destinations unless allowed', async () => {
    for (const url of [
      'https://127.0.0.1/x',
      'https://[::1]/x',
      'https://169.254.169.254/latest/meta-data/',
      'https://2130706433/',
      'https://0x7f.1/',
      'https://10.0.0.1/',
      'https://[::ffff:127.0.0.1]/',
      'https://localhost/',
    ]) {
      const ch = createWebhookChannel({ url, secret: SECRET });
      await assert.rejects(ch.send(sample), { code: 'PERMISSION_DENIED' }, url);
    }
    for (const url of ['http://example.org/', 'file:///etc/passwd', 'gopher://127.0.0.1:6379/_x', 'https://user:pw@example.org/', 'not a url']) {
      assert.throws(() => createWebhookChannel({ url, secret: SECRET }), { code: 'INVALID_INPUT' }, url);
    }
    assert.throws(() => createWebhookChannel({ url: 'https://example.org/', secret: 'short' }), { code: 'INVALID_INPUT' });
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:10.0.0.1',
    ])
      assert.equal(isPrivateAddress(ip), true, ip);
    for (const ip of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']) assert.equal(isPrivateAddress(ip), false, ip);
  });

  it('e-mail recipients are validated one by one; header injection cannot pass', () => {
    assert.deepEqual(validateAddresses([' a@b.example ']), ['a@b.example']);
    for (const bad of ['a@x.test\r\nBcc: all@corp.test', '"evil" <a@x.test>', 'a@x.test, b@y.test', 'no-at-sign']) {
      assert.throws(() => validateAddresses([bad]), { code: 'INVALID_INPUT' }, bad);
    }
  });
});
