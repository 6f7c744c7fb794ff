/** Small statistics and unit helpers for the benchmarks. MB = 10^6 bytes throughout, as curl and openssl count. */

export const MB = 1e6;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Median of the numbers (mean of the two middle ones for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function max(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : Math.max(...xs);
}

export function min(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : Math.min(...xs);
}

/**
 * Parses a size such as "1G", "256M", "512K", "1GiB", "1048576" into bytes. Suffixes are binary
 * (K = 1024). Returns undefined for anything else.
 */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const exp = ['', 'k', 'm', 'g', 't'].indexOf((m[2] ?? '').toLowerCase());
  const bytes = Math.round(n * 1024 ** exp);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined;
}

/** "1 GiB", "256 MiB", "1.5 MiB", "100 B". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** Number formatting for tables: fixed decimals, "n/a" for null/NaN. */
export function fmt(n: number | null | undefined, decimals = 0): string {
  return n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(decimals);
}

/** Reads a positive integer from the environment, or the default. */
export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got "${v}"`);
  return n;
}

/** Reads a size (see parseSize) from the environment, or the default. */
export function envSize(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = parseSize(v);
  if (n === undefined) throw new Error(`${name} must be a size like 1G, 256M or 64K, got "${v}"`);
  return n;
}
