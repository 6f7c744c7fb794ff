/**
 * The Host allow-list (DNS rebinding, attack corpus §3 "HTTP protocol and web"): a browser that
 * was sent to Sluice under a name an attacker controls carries that name in Host, so a request for
 * a name that is not Sluice's own is refused before anything else happens.
 *
 * Allowed: the host of SLUICE_PUBLIC_URL, the names in SLUICE_ALLOWED_HOSTS (exact names, or
 * `*.example.org` for every name under example.org), loopback names (localhost, *.localhost) and
 * IP address literals (a rebinding attack needs a name; an address in Host is never the attacker's).
 */
import net from 'node:net';

export type HostCheck = (host: string | undefined) => boolean;

export function hostCheck(publicUrl: string | undefined, allowedHosts: string | undefined): HostCheck {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  if (publicUrl) exact.add(new URL(publicUrl).hostname.toLowerCase());
  for (const raw of (allowedHosts ?? '').split(',')) {
    const h = raw.trim().toLowerCase().replace(/\.$/, '');
    if (!h) continue;
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else exact.add(h);
  }
  return (host) => {
    if (host === undefined) return true; // HTTP/1.0 without Host: no browser sends that
    const name = hostName(host);
    if (name === undefined) return false;
    if (net.isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    return exact.has(name) || suffixes.some((s) => name.endsWith(s) && name.length > s.length);
  };
}

/** The name in a Host header value (without port, brackets or trailing dot, lower case); undefined when malformed. */
export function hostName(host: string): string | undefined {
  const v = host.trim().toLowerCase();
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return undefined;
    const rest = v.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return v.slice(1, end);
  }
  const m = /^([a-z0-9._-]+?)\.?(?::\d{1,5})?$/.exec(v);
  return m ? m[1] : undefined;
}
