/**
 * SMTP mailer (nodemailer). Addresses are validated one by one; subjects lose line breaks, so
 * nothing a partner or attacker typed can add a header.
 */
import type { Transporter } from 'nodemailer';
import type { Mailer, MailMessage } from '../../ports/mailer.js';
import { CoreError } from '../../ports/errors.js';

const ADDRESS_RE = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Checks a list of e-mail addresses; CR/LF and display-name tricks cannot pass. */
export function validateAddresses(list: readonly string[]): string[] {
  return list.map((a) => {
    const t = a.trim();
    if (!ADDRESS_RE.test(t) || t.length > 254)
      throw new CoreError('INVALID_INPUT', `not a plain e-mail address: "${t.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')}"`);
    return t;
  });
}

export function createSmtpMailer(opts: { smtpUrl: string; from: string }): Mailer {
  const [from] = validateAddresses([opts.from]);
  // nodemailer is loaded at the first message: most instances send mail rarely or never.
  let transport: Promise<Transporter> | undefined;
  const transportOf = () => (transport ??= import('nodemailer').then((m) => m.default.createTransport(opts.smtpUrl)));
  return {
    from: from!,
    async send(m: MailMessage) {
      await (await transportOf()).sendMail({ from, to: validateAddresses(m.to), subject: m.subject.replace(/[\r\n]+/g, ' ').slice(0, 250), text: m.text });
    },
  };
}
