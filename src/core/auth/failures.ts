/**
 * Failed sign-ins in the ledger, every method (password, key — a key that is not registered
 * included —, code, token, passkey, OpenID), without letting a flood of them crowd out the rest.
 *
 * Contract:
 * - The first WRITE_EACH failures of a kind (action, protocol, method, reason, claimed login,
 *   key) from one address in a minute are recorded at once, in full, each durable when record()
 *   returns: a few retries look as they are.
 * - Further repeats in the same minute are counted, not written; when the minute is over (or at
 *   flush(), e.g. before shutdown) one event per kind records how many more there were
 *   (`detail.repeated`, with the time of the first and last repeat): no count is lost.
 * - At most MAX_KINDS kinds per address and minute: further kinds from that address are counted
 *   as one kind "various"; at most MAX_ADDRESSES addresses (and MAX_TOTAL_KINDS kinds) per minute:
 *   further ones as one address "various". Memory and ledger rows per minute are bounded whatever
 *   the flood.
 * Failures that change state (a wrong password or code counting toward the lockout,
 * auth/lockout.ts) are written one by one in their own transaction; they are bounded by the
 * lockout threshold per user.
 */
import type { AuditInput } from '../audit/ledger.js';
import type { CoreDeps } from '../deps.js';
import { recordEvent } from '../tx.js';

const WINDOW_MS = 60_000;
const WRITE_EACH = 5;
const MAX_KINDS = 64;
const MAX_ADDRESSES = 4096;
const MAX_TOTAL_KINDS = 20_000;
const VARIOUS = 'various';

interface Kind {
  readonly first: AuditInput;
  written: number;
  repeated: number;
  firstRepeat: number;
  lastRepeat: number;
}

export interface FailureLog {
  /** Records a failed sign-in (see the contract above). */
  record(event: AuditInput): Promise<void>;
  /** Writes the counts of the current minute now (and starts counting afresh). */
  flush(): Promise<void>;
}

const kindOf = (e: AuditInput) => {
  const d = e.detail ?? {};
  return JSON.stringify([e.action, e.ctx?.protocol ?? null, d.method ?? null, d.reason ?? null, e.claimedLogin ?? null, d.fingerprint ?? null]);
};

export function createFailureLog(deps: CoreDeps): FailureLog {
  let window = -1;
  let byAddress = new Map<string, Map<string, Kind>>();
  let kindCount = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  /** Writes the repeat counts of the minute that ended and forgets it. */
  function close(): Promise<void> {
    const ended = byAddress;
    byAddress = new Map();
    kindCount = 0;
    clearTimeout(timer);
    timer = undefined;
    const events: AuditInput[] = [];
    for (const [address, kinds] of ended)
      for (const [key, k] of kinds) {
        if (k.repeated === 0) continue;
        const variousKinds = key === VARIOUS;
        events.push({
          ...k.first,
          ...(variousKinds ? { claimedLogin: undefined, claimedUserId: undefined, orgId: null } : {}),
          detail: {
            ...(variousKinds ? { method: k.first.detail?.method ?? null } : k.first.detail),
            ...(variousKinds ? { reason: 'various' } : {}),
            ...(address === VARIOUS ? { addresses: 'various' } : {}),
            repeated: k.repeated,
            firstRepeat: new Date(k.firstRepeat).toISOString(),
            lastRepeat: new Date(k.lastRepeat).toISOString(),
          },
        });
      }
    if (events.length === 0) return writing;
    writing = writing.then(async () => {
      for (const e of events) {
        try {
          await recordEvent(deps.db, deps.clock, e);
        } catch (err) {
          deps.log.error({ err, code: 'LEDGER_WRITE_FAILED' }, 'could not record the count of repeated failed sign-ins');
        }
      }
    });
    return writing;
  }

  return {
    async record(event) {
      const now = deps.clock.now();
      const w = Math.floor(now / WINDOW_MS);
      if (w !== window) {
        void close();
        window = w;
        timer = setTimeout(() => void close(), (w + 1) * WINDOW_MS - now + 50);
        timer.unref();
      }
      let address = event.ctx?.remoteAddr ?? '-';
      if (!byAddress.has(address) && (byAddress.size >= MAX_ADDRESSES || kindCount >= MAX_TOTAL_KINDS)) address = VARIOUS;
      let kinds = byAddress.get(address);
      if (!kinds) byAddress.set(address, (kinds = new Map()));
      let key = address === VARIOUS ? VARIOUS : kindOf(event);
      if (!kinds.has(key) && (kinds.size >= MAX_KINDS || kindCount >= MAX_TOTAL_KINDS)) key = VARIOUS;
      let k = kinds.get(key);
      if (!k) {
        kinds.set(key, (k = { first: event, written: 0, repeated: 0, firstRepeat: now, lastRepeat: now }));
        kindCount++;
      }
      if (k.written >= WRITE_EACH) {
        if (k.repeated === 0) k.firstRepeat = now;
        k.repeated++;
        k.lastRepeat = now;
        return;
      }
      k.written++;
      await recordEvent(deps.db, deps.clock, event);
    },
    async flush() {
      window = -1;
      await close();
    },
  };
}

const perCore = new WeakMap<CoreDeps, FailureLog>();

/** The failure log of this core instance. */
export function failuresOf(deps: CoreDeps): FailureLog {
  let f = perCore.get(deps);
  if (!f) perCore.set(deps, (f = createFailureLog(deps)));
  return f;
}
