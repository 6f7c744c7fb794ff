/**
 * Bytes of client writes held in memory by all SFTP sessions of one server together. Each session
 * and file has its own bound (maxPendingWriteBytes, maxHeldWriteBytes), but sessions multiply:
 * 64 handles × 8 MiB of out-of-order writes per session, 10 sessions per connection, many
 * connections. This is the process-wide bound on top.
 *
 * Contract (what MUST hold):
 * - `used` never exceeds `max` through tryTake; take() (bytes already read off the wire and
 *   acknowledged) may go over by less than one packet, because every session checks full() before
 *   it parses its next packet (sessions run one at a time on the event loop) and pauses its input
 *   while the budget is full.
 * - Every byte taken is released exactly once, on every path (written, failed, aborted).
 * - A session paused on a full budget registers onRoom(); it is called once when bytes are
 *   released and the budget has room again. Bytes waiting for the core drain without more input,
 *   so a full budget always empties: no session waits on another's input.
 */
export interface ByteBudget {
  readonly max: number;
  readonly used: number;
  full(): boolean;
  /** Takes `n` bytes if they fit under `max`; false (nothing taken) otherwise. */
  tryTake(n: number): boolean;
  /** Takes `n` bytes already received (the caller checked full() before reading them). */
  take(n: number): void;
  release(n: number): void;
  /** Calls `wake` once, the next time bytes are released and the budget has room. */
  onRoom(wake: () => void): void;
  /** Drops a registration of onRoom (a session that ended). */
  forget(wake: () => void): void;
}

export function createByteBudget(max: number): ByteBudget {
  if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError('a byte budget needs a positive size');
  let used = 0;
  const waiting = new Set<() => void>();
  return {
    max,
    get used() {
      return used;
    },
    full: () => used >= max,
    tryTake(n) {
      if (used + n > max) return false;
      used += n;
      return true;
    },
    take(n) {
      used += n;
    },
    release(n) {
      used = Math.max(0, used - n);
      if (used >= max || waiting.size === 0) return;
      const wake = [...waiting];
      waiting.clear();
      for (const w of wake) w();
    },
    onRoom(wake) {
      waiting.add(wake);
    },
    forget(wake) {
      waiting.delete(wake);
    },
  };
}
