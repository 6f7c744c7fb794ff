/**
 * Penalties per source address, as OpenSSH's PerSourcePenalties: a connection that fails to sign
 * in, ends without trying, or misses a deadline adds time to its address's penalty (capped at
 * `max`); once the accumulated penalty reaches `min`, new connections from that address are
 * refused until it has run out. IPv4 addresses count one by one, IPv6 by /64 (one site's block).
 * Exempt blocks are never penalised. At most `maxSources` addresses are tracked; beyond that, new
 * penalties are dropped (sshd's "permissive" overflow) rather than evicting the worst offenders.
 */
import net from 'node:net';
import { parseCidr, type PenaltyPolicy } from '../../config/preauth.js';

export type PenaltyKind = 'authfail' | 'noauth' | 'graceExceeded';

export interface Penalties {
  /** Adds the penalty of `kind` to `ip`'s address. */
  add(ip: string, kind: PenaltyKind): void;
  /** Whether new connections from `ip` are refused now. */
  refused(ip: string): boolean;
  /** Addresses tracked now (for tests and metrics). */
  readonly size: number;
}

/** The expanded form of an IPv6 address's first 64 bits, or undefined if it is not one. */
function v6Prefix64(ip: string): string | undefined {
  const addr = ip.split('%')[0]!;
  if (!addr.includes(':')) return undefined;
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  // An embedded IPv4 tail counts as two groups; only the first four groups matter here.
  const groups = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? '0' : g).toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':');
}

function sourceOf(ip: string): string {
  const p = v6Prefix64(ip);
  return p === undefined ? ip : `${p}::/64`;
}

export function createPenalties(policy: PenaltyPolicy, now: () => number = Date.now): Penalties {
  const exempt = new net.BlockList();
  for (const b of policy.exempt) {
    const c = parseCidr(b)!;
    exempt.addSubnet(c.address, c.prefix, c.family);
  }
  const isExempt = (ip: string) => {
    try {
      return exempt.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
  };
  /** Source → when its penalty runs out, and whether it is refusing now. */
  const table = new Map<string, { until: number; active: boolean }>();

  const prune = (t: number) => {
    for (const [k, v] of table) if (v.until <= t) table.delete(k);
  };

  return {
    add(ip, kind) {
      if (isExempt(ip)) return;
      const t = now();
      const key = sourceOf(ip);
      let e = table.get(key);
      if (e && e.until <= t) {
        table.delete(key);
        e = undefined;
      }
      if (!e) {
        if (table.size >= policy.maxSources) prune(t);
        if (table.size >= policy.maxSources) return;
        e = { until: t, active: false };
        table.set(key, e);
      }
      e.until = Math.min(t + policy.max, e.until + policy[kind]);
      if (e.until - t >= policy.min) e.active = true;
    },
    refused(ip) {
      const key = sourceOf(ip);
      const e = table.get(key);
      if (!e) return false;
      if (e.until <= now()) {
        table.delete(key);
        return false;
      }
      return e.active;
    },
    get size() {
      return table.size;
    },
  };
}
