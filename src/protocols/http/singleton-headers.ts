/**
 * Headers that must appear at most once (attack corpus MOV-1a, CVE-2023-34362: a front check and
 * the backend read different copies of a header). Node keeps the first of a duplicated
 * Authorization, Host or Content-Type and joins duplicated Cookie headers; a proxy or WAF in front
 * may read the last. A request carrying two of any of these is refused with 400 before it is
 * authenticated, so every layer sees the same credentials, host and origin.
 */
const SINGLETONS = new Set(['authorization', 'proxy-authorization', 'cookie', 'host', 'origin', 'content-type', 'x-forwarded-host']);

/** The first header name (lower case) that occurs more than once in `rawHeaders`, if any. */
export function duplicatedSingleton(rawHeaders: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!SINGLETONS.has(name)) continue;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}
