/** Alerts by e-mail over SMTP (nodemailer). Recipients are validated one by one at start. */
import nodemailer from 'nodemailer';
import type { Alert, AlertChannel } from '../../ports/alert-channel.js';
import { CoreError } from '../../core/errors.js';

const ADDRESS_RE = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Checks a list of e-mail addresses; CR/LF and display-name tricks cannot pass. */
export function validateAddresses(list: readonly string[]): string[] {
  return list.map((a) => {
    const t = a.trim();
    if (!ADDRESS_RE.test(t) || t.length > 254) throw new CoreError('INVALID_INPUT', `not a plain e-mail address: "${t.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')}"`);
    return t;
  });
}

export function createEmailChannel(opts: { smtpUrl: string; from: string; to: readonly string[] }): AlertChannel {
  const to = validateAddresses(opts.to);
  const [from] = validateAddresses([opts.from]);
  const transport = nodemailer.createTransport(opts.smtpUrl);
  return {
    name: 'email',
    async send(alert: Alert) {
      await transport.sendMail({
        from,
        to,
        subject: `[Sluice ${alert.severity}] ${alert.code}: ${alert.message}`.replace(/[\r\n]+/g, ' ').slice(0, 200),
        text: [
          alert.message,
          '',
          `code:     ${alert.code}`,
          `severity: ${alert.severity}`,
          `time:     ${alert.time}`,
          `node:     ${alert.node}`,
          '',
          JSON.stringify(alert.detail, null, 2),
        ].join('\n'),
      });
    },
  };
}
