/** Alerts by e-mail, through the SMTP mailer. */
import type { Alert, AlertChannel } from '../../ports/alert-channel.js';
import type { Mailer } from '../../ports/mailer.js';
import { validateAddresses } from '../mail/smtp.js';

export { validateAddresses };

export function createEmailChannel(mailer: Mailer, to: readonly string[]): AlertChannel {
  const recipients = validateAddresses(to);
  return {
    name: 'email',
    async send(alert: Alert) {
      await mailer.send({
        to: recipients,
        subject: `[Sluice ${alert.severity}] ${alert.code}: ${alert.message}`.slice(0, 200),
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
