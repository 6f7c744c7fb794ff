/** Outgoing e-mail (alerts, partner notifications). */
export interface MailMessage {
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
}

export interface Mailer {
  readonly from: string;
  /** MUST reject when the server did not accept the message. */
  send(m: MailMessage): Promise<void>;
}
