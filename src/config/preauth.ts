/**
 * The settings that protect sign-in from unauthenticated connections, in OpenSSH's notation:
 * `SLUICE_SFTP_MAX_STARTUPS` as sshd's MaxStartups (start:rate:full) and `SLUICE_SFTP_PENALTIES`
 * as sshd's PerSourcePenalties (kind:duration …, or "off").
 */
import { parseDuration } from './units.js';

/** Random early drop of unauthenticated connections (sshd's MaxStartups). */
export interface MaxStartups {
  /** From this many unauthenticated connections on, a new one is dropped with probability `rate` %… */
  readonly start: number;
  /** …rising linearly to 100 % at `full`. */
  readonly rate: number;
  readonly full: number;
}

/** Penalties per source address (sshd's PerSourcePenalties); durations in milliseconds. */
export interface PenaltyPolicy {
  /** A connection that failed to sign in (wrong key, password or code) and ended without success. */
  readonly authfail: number;
  /** A connection that ended without trying to sign in. */
  readonly noauth: number;
  /** A connection cut because it missed a deadline (banner, key exchange, login grace). */
  readonly graceExceeded: number;
  /** Longest penalty an address can accumulate. */
  readonly max: number;
  /** An address is refused once its accumulated penalty reaches this. */
  readonly min: number;
  /** Addresses tracked at most; beyond, new penalties are not recorded (sshd's "permissive" overflow). */
  readonly maxSources: number;
  /** CIDR blocks never penalised (e.g. a monitoring host, a partner's gateway). */
  readonly exempt: readonly string[];
}

export const DEFAULT_MAX_STARTUPS = '64:30:256';
export const DEFAULT_PENALTIES = 'authfail:5s noauth:1s grace-exceeded:10s max:10m min:15s';

/** "start:rate:full" (or just "full", as sshd allows) → MaxStartups, or an error message. */
export function parseMaxStartups(v: string): MaxStartups | string {
  const m = /^\s*(\d+)(?::(\d+):(\d+))?\s*$/.exec(v);
  if (!m) return `expected start:rate:full like ${DEFAULT_MAX_STARTUPS}, got "${v}"`;
  const full = Number(m[3] ?? m[1]);
  const start = m[3] === undefined ? full : Number(m[1]);
  const rate = m[3] === undefined ? 100 : Number(m[2]);
  if (start < 1 || full < start || rate < 1 || rate > 100 || full > 100_000) return `expected 1 ≤ start ≤ full ≤ 100000 and a rate of 1–100 (%), got "${v}"`;
  return { start, rate, full };
}

const KINDS: Record<string, keyof PenaltyPolicy> = {
  authfail: 'authfail',
  noauth: 'noauth',
  'grace-exceeded': 'graceExceeded',
  max: 'max',
  min: 'min',
};

/**
 * "authfail:5s noauth:1s grace-exceeded:10s max:10m min:15s max-sources:65536" (space or comma
 * separated; omitted kinds take the default) → PenaltyPolicy; "off" → undefined; else an error message.
 */
export function parsePenalties(v: string, exempt = ''): PenaltyPolicy | undefined | string {
  if (/^\s*(off|none|no|false|0)\s*$/i.test(v)) return undefined;
  const out: Record<string, number> = { authfail: 5000, noauth: 1000, graceExceeded: 10_000, max: 600_000, min: 15_000, maxSources: 65_536 };
  for (const part of v.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([a-z-]+):(.+)$/.exec(part);
    if (m?.[1] === 'max-sources' && /^\d+$/.test(m[2]!) && Number(m[2]) >= 1) {
      out.maxSources = Number(m[2]);
      continue;
    }
    const key = m ? KINDS[m[1]!] : undefined;
    const ms = m ? parseDuration(m[2]!) : undefined;
    if (!key || ms === undefined)
      return `expected kind:duration pairs of authfail, noauth, grace-exceeded, max, min (and max-sources:N), or "off"; got "${part}"`;
    out[key] = ms;
  }
  const blocks = exempt.split(/[\s,]+/).filter(Boolean);
  for (const b of blocks) if (!parseCidr(b)) return `SLUICE_SFTP_PENALTY_EXEMPT: "${b}" is not an address or CIDR block`;
  return { ...(out as unknown as Omit<PenaltyPolicy, 'exempt'>), exempt: blocks };
}

/** "10.0.0.0/8", "2001:db8::/32" or a single address → its parts, or undefined. */
export function parseCidr(v: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([0-9a-fA-F:.]+)(?:\/(\d{1,3}))?$/.exec(v.trim());
  if (!m) return undefined;
  const address = m[1]!;
  const family = /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ? 'ipv4' : address.includes(':') ? 'ipv6' : undefined;
  if (!family) return undefined;
  if (family === 'ipv4' && address.split('.').some((o) => Number(o) > 255)) return undefined;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return undefined;
  return { address, prefix, family };
}
