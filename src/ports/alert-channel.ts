/** Where alerts go besides the log and the ledger: e-mail, webhooks. */
export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface Alert {
  /** Stable machine-readable code, e.g. BUDGET_TRIPPED, CANARY_READ, LOCKDOWN_CHANGED. */
  readonly code: string;
  readonly severity: AlertSeverity;
  /** One line for people; no secrets. */
  readonly message: string;
  readonly time: string;
  readonly node: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface AlertChannel {
  readonly name: string;
  /** MUST reject when the alert was not delivered (the caller logs it). */
  send(alert: Alert): Promise<void>;
}
