/**
 * Connections per client address on the HTTP listener: beyond `maxPerIp` open connections from one
 * address, a new one is answered `503` with the JSON error shape and closed at once, before Node
 * parses a byte of it. Together with the listener's total (`server.maxConnections`) and Node's
 * timeouts (headers, keep-alive, idle; server.ts) this keeps idle and slow (slowloris) connections
 * from one place from taking the sockets a signed-in user needs. Addresses of trusted proxies
 * (SLUICE_TRUST_PROXY: addresses or CIDR blocks) are not limited: every client behind them shares them.
 */
import net from 'node:net';
import type { Counter } from 'prom-client';
import { parseCidr } from '../../config/preauth.js';
import { errorBody } from './errors.js';
import { rawHeaderLines } from './security-headers.js';

const normaliseIp = (ip: string | undefined) => (ip ?? 'unknown').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

/** A BlockList of the entries of `list` that are addresses or CIDR blocks (names such as "loopback" are skipped). */
export function addressList(list: readonly string[]): net.BlockList {
  const b = new net.BlockList();
  for (const entry of list) {
    const c = parseCidr(entry);
    if (c) b.addSubnet(c.address, c.prefix, c.family);
  }
  return b;
}

export function limitConnectionsPerIp(
  server: net.Server,
  opts: {
    readonly maxPerIp: number;
    readonly exempt: net.BlockList;
    /** The listener speaks TLS: a refused socket is closed without a plain-text answer. */
    readonly tls: boolean;
    readonly headers: Readonly<Record<string, string>>;
    readonly refused?: Counter<'reason'> | undefined;
  },
): void {
  const open = new Map<string, number>();
  const body = JSON.stringify(errorBody({ status: 503, code: 'UNAVAILABLE', message: 'too many connections from this address' }));
  const answer =
    'HTTP/1.1 503 Service Unavailable\r\n' +
    'content-type: application/json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n' +
    'retry-after: 5\r\n' +
    rawHeaderLines(opts.headers) +
    '\r\n' +
    body;
  server.prependListener('connection', (socket: net.Socket) => {
    const ip = normaliseIp(socket.remoteAddress);
    let exempt = false;
    try {
      exempt = opts.exempt.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
    } catch {}
    if (exempt) return;
    const n = (open.get(ip) ?? 0) + 1;
    if (n > opts.maxPerIp) {
      opts.refused?.inc({ reason: 'too many from this address' });
      socket.on('error', () => undefined);
      // Before TLS a plain answer would be garbage: a TLS socket is just closed.
      if (opts.tls) socket.destroy();
      else socket.end(answer);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    open.set(ip, n);
    socket.once('close', () => {
      const v = (open.get(ip) ?? 1) - 1;
      if (v <= 0) open.delete(ip);
      else open.set(ip, v);
    });
  });
}
