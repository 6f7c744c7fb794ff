/** Parses sizes like "512", "10K", "5M", "2G", "1T" (binary units) into bytes. */
export function parseSize(v: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$/i.exec(v);
  if (!m || m[1] === undefined) return undefined;
  const unit = (m[2] ?? 'B').toUpperCase()[0] ?? 'B';
  const mult = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit];
  if (mult === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses durations like "90s", "15m", "8h", "30d" or a plain number of seconds into milliseconds. */
export function parseDuration(v: string): number | undefined {
  const m = /^\s*(\d+)\s*(ms|s|m|h|d|w)?\s*$/i.exec(v);
  if (!m || m[1] === undefined) return undefined;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[(m[2] ?? 's').toLowerCase() as 'ms'];
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Parses "host:port" or "[v6]:port". */
export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^\s*(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})\s*$/.exec(v);
  if (!m || m[3] === undefined) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True if Intl knows the IANA time zone (SLUICE_TIME_ZONE). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
