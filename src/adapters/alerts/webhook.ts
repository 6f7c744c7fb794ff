/**
 * Alerts as signed webhooks, with SSRF-safe destinations.
 *
 * Contract:
 * - Only https URLs (http only when private destinations are explicitly allowed, for tests and
 *   closed networks); no userinfo in the URL.
 * - The host is resolved once; every resolved address must be public (not loopback, private,
 *   link-local, CGNAT, multicast, unspecified, or the cloud metadata address) unless private
 *   destinations are allowed; the connection is pinned to the checked address, so DNS rebinding
 *   cannot redirect it.
 * - Redirects are not followed; the answer is capped in time (5 s) and size (64 KiB, discarded).
 * - The body is signed: header `X-Sluice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 *   "<t>.<body>">` with the shared secret, so the receiver can check origin and freshness.
 */
import { createHmac } from 'node:crypto';
import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Alert, AlertChannel } from '../../ports/alert-channel.js';
import { CoreError } from '../../ports/errors.js';

/** True for addresses a webhook must never reach unless private destinations are allowed. */
export function isPrivateAddress(ip: string): boolean {
  const v = net.isIP(ip);
  if (v === 4) {
    const p = ip.split('.').map(Number) as [number, number, number, number];
    const [a, b] = p;
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0 && p[2] === 0) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  if (v === 6) {
    const x = ip.toLowerCase();
    if (x === '::' || x === '::1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(x);
    if (mapped) return isPrivateAddress(mapped[1]!);
    if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(x)) return true; // mapped, hex form: refuse rather than decode
    return /^(fc|fd|fe8|fe9|fea|feb|ff)/.test(x) || x.startsWith('64:ff9b:') || x.startsWith('2001:db8');
  }
  return true; // not an address at all: refuse
}

export interface WebhookOptions {
  readonly url: string;
  readonly secret: string;
  /** Allow loopback/private destinations and plain http (tests, closed networks). */
  readonly allowPrivate?: boolean;
  readonly timeoutMs?: number;
}

export function checkWebhookUrl(raw: string, allowPrivate = false): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CoreError('INVALID_INPUT', 'webhook URL is not a valid URL');
  }
  if (u.protocol !== 'https:' && !(allowPrivate && u.protocol === 'http:')) throw new CoreError('INVALID_INPUT', 'webhook URL must use https');
  if (u.username || u.password) throw new CoreError('INVALID_INPUT', 'webhook URL must not carry credentials');
  return u;
}

async function resolvePublic(host: string, allowPrivate: boolean): Promise<{ address: string; family: number }> {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const addrs = net.isIP(bare) ? [{ address: bare, family: net.isIP(bare) }] : await dns.lookup(bare, { all: true, verbatim: true });
  if (addrs.length === 0) throw new CoreError('UNAVAILABLE', 'webhook host does not resolve');
  if (!allowPrivate)
    for (const a of addrs) if (isPrivateAddress(a.address)) throw new CoreError('PERMISSION_DENIED', 'webhook destination is not a public address');
  return addrs[0]!;
}

export function createWebhookChannel(opts: WebhookOptions): AlertChannel {
  const url = checkWebhookUrl(opts.url, opts.allowPrivate);
  if (opts.secret.length < 16) throw new CoreError('INVALID_INPUT', 'webhook secret must be at least 16 characters');
  const timeout = opts.timeoutMs ?? 5000;
  return {
    name: `webhook:${url.host}`,
    async send(alert: Alert) {
      const target = await resolvePublic(url.hostname, !!opts.allowPrivate);
      const body = JSON.stringify({ type: 'sluice.alert', ...alert });
      const t = Math.floor(Date.now() / 1000);
      const sig = createHmac('sha256', opts.secret).update(`${t}.${body}`).digest('hex');
      const mod = url.protocol === 'https:' ? https : http;
      await new Promise<void>((resolve, reject) => {
        const req = mod.request(
          {
            method: 'POST',
            host: url.hostname,
            port: url.port || (url.protocol === 'https:' ? 443 : 80),
            path: url.pathname + url.search,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'x-sluice-signature': `t=${t},v1=${sig}`,
              'user-agent': 'sluice-alerts',
            },
            // Pin the connection to the address that was checked (no second DNS lookup).
            lookup: ((_h: string, o: { all?: boolean | undefined }, cb: (...a: unknown[]) => void) =>
              o?.all ? cb(null, [target]) : cb(null, target.address, target.family)) as unknown as net.LookupFunction,
            timeout,
          },
          (res) => {
            let seen = 0;
            res.on('data', (c: Buffer) => {
              seen += c.length;
              if (seen > 65_536) res.destroy();
            });
            res.on('end', () =>
              (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`webhook answered ${res.statusCode}`)),
            );
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error('webhook timed out')));
        req.on('error', reject);
        req.end(body);
      });
    },
  };
}
