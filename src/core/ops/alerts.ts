/**
 * The one alerting path, used by lockdown, ledger checks and (next) budgets, canaries and
 * decoys: a ledger event, a log line with a stable code, and delivery to every configured
 * channel (e-mail, signed webhook) in the background with a few retries.
 *
 * Contract: raise() returns once the alert is in the ledger and the log; delivery never blocks
 * or fails the operation that raised it, and a failed delivery is logged with its channel.
 */
import type { Alert, AlertChannel, AlertSeverity } from '../../ports/alert-channel.js';
import type { CoreDeps } from '../deps.js';
import { recordEvent } from '../tx.js';
import type { Principal } from '../principal.js';

export interface AlertInput {
  readonly code: string;
  readonly severity: AlertSeverity;
  readonly message: string;
  readonly detail?: Record<string, unknown>;
  readonly actor?: Principal | undefined;
}

const RETRY_DELAYS_MS = [1000, 5000, 30_000];

export function createAlerts(deps: CoreDeps) {
  const channels: readonly AlertChannel[] = deps.alertChannels ?? [];
  const inflight = new Set<Promise<void>>();

  async function deliver(ch: AlertChannel, alert: Alert): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await ch.send(alert);
        return;
      } catch (e) {
        if (attempt >= RETRY_DELAYS_MS.length) {
          deps.log.error(
            { code: 'ALERT_DELIVERY_FAILED', channel: ch.name, alert: alert.code, error: (e as Error).message },
            'an alert could not be delivered',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]).unref());
      }
    }
  }

  return {
    async raise(input: AlertInput): Promise<Alert> {
      const alert: Alert = {
        code: input.code,
        severity: input.severity,
        message: input.message,
        time: new Date(deps.clock.now()).toISOString(),
        node: deps.settings.nodeId,
        detail: input.detail ?? {},
      };
      await recordEvent(deps.db, deps.clock, {
        action: 'alert',
        outcome: 'success',
        actor: input.actor,
        ctx: { protocol: 'system' },
        detail: { code: alert.code, severity: alert.severity, message: alert.message, ...alert.detail },
      });
      const line = { code: alert.code, severity: alert.severity, ...alert.detail };
      if (alert.severity === 'critical') deps.log.error(line, alert.message);
      else deps.log.warn(line, alert.message);
      for (const ch of channels) {
        const p = deliver(ch, alert).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      return alert;
    },
    /**
     * Waits for deliveries in progress, retries included, at most `timeoutMs`; keeps the process
     * alive meanwhile (the retry timers alone do not), so a short-lived command that raised an
     * alert does not exit before it was delivered. Returns how many are still undelivered.
     */
    async drain(timeoutMs = 60_000): Promise<number> {
      if (inflight.size === 0) return 0;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
      try {
        await Promise.race([Promise.allSettled([...inflight]), timeout]);
      } finally {
        clearTimeout(timer);
      }
      return inflight.size;
    },
    channels: () => channels.map((c) => c.name),
  };
}

export type Alerts = ReturnType<typeof createAlerts>;

const perCore = new WeakMap<CoreDeps, Alerts>();
export function alertsOf(deps: CoreDeps): Alerts {
  let a = perCore.get(deps);
  if (!a) perCore.set(deps, (a = createAlerts(deps)));
  return a;
}
