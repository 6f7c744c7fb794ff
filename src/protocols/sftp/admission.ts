/**
 * Admission of SFTP connections: which TCP connections may start an SSH handshake, and when.
 *
 * It sits between the listening socket and whatever runs SSH (server.ts createSshHandler, in this
 * process or in an SFTP worker process: app/sftp-processes.ts), and it is the only place that counts
 * connections, so the limits hold for the whole server however many processes run sessions.
 * Unauthenticated connections must not be able to keep anybody else from signing in:
 * - refused at once (an SSH disconnect naming the reason, not a bare reset): beyond
 *   `maxConnections` in total, `maxConnectionsPerIp` or `maxUnauthPerIp` (not yet signed in) from
 *   one address, and from an address serving a penalty (penalties.ts, as sshd's PerSourcePenalties:
 *   failed sign-ins, connections that never try, missed deadlines);
 * - hello (hello.ts): the server's identification is sent, then the client's must arrive within
 *   `bannerTimeoutMs` and its first key-exchange packet within `kexTimeoutMs` after it. Until then
 *   the connection holds no pre-auth slot: a peer that sent nothing, or only a banner, costs a
 *   socket and a timer;
 * - then random early drop as sshd's MaxStartups start:rate:full over the connections in key
 *   exchange and authentication; a connection over its address's `maxPreAuthPerIp` waits (unread;
 *   at most `loginGraceMs`) for one of its own address's slots;
 * - an admitted connection gets the whole key-exchange deadline and, from the end of the key
 *   exchange, the whole login grace (`Admitted.kexMs`, `graceMs`), enforced by whoever runs it;
 *   time spent before admission never eats into them.
 *
 * Contract: whoever receives an admitted connection (`start`) MUST call `signedIn(id)` when it
 * authenticated and `gone(id, penalty?)` exactly once when it ended (also when it could not be
 * started), with the penalty the client earned: until then it counts toward the limits. A
 * connection that never reaches `start` is accounted for here.
 */
import { randomInt } from 'node:crypto';
import type net from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MaxStartups, PenaltyPolicy } from '../../config/preauth.js';
import { DISCONNECT_REASON, sshDisconnectPacket, sshRefusal } from './codec.js';
import { readHello, SERVER_IDENT, SERVER_IDENT_LINE } from './hello.js';
import { createPenalties, type PenaltyKind } from './penalties.js';

export interface AdmissionLimits {
  /** Time to authenticate, counted from the end of the key exchange. */
  readonly loginGraceMs: number;
  /** The client's identification line, counted from the TCP connection. */
  readonly bannerTimeoutMs: number;
  /** The key exchange: its first packet after the banner, and its end after admission. */
  readonly kexTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** Connections not yet signed in, per address (whatever their phase). */
  readonly maxUnauthPerIp: number;
  /** Random early drop over the connections in key exchange and authentication. */
  readonly maxStartups: MaxStartups;
  /** Connections in key exchange and authentication per address; more wait their turn. */
  readonly maxPreAuthPerIp: number;
  /** Penalties per source address; undefined: none. */
  readonly penalties: PenaltyPolicy | undefined;
}

/** A connection that may start its SSH handshake now. */
export interface Admitted {
  readonly id: number;
  /** The client's address (IPv4-mapped IPv6 shown as IPv4). */
  readonly ip: string;
  readonly socket: net.Socket;
  /** Bytes already read from the socket (the client's identification and KEXINIT), to be parsed first. */
  readonly head: Buffer;
  /** Time for the rest of the key exchange. */
  readonly kexMs: number;
  /** Time to authenticate once the key exchange is done. */
  readonly graceMs: number;
}

export interface Admission {
  /** A new TCP connection from the listener. */
  accept(socket: net.Socket): void;
  /** Connection `id` authenticated: its pre-auth slot is free. */
  signedIn(id: number): void;
  /** Connection `id` ended; `penalty` is what its address earned (none for a signed-in one). */
  gone(id: number, penalty?: PenaltyKind): void;
  /** From now on every new connection is refused ("shutting down"); waiting ones are closed. */
  stop(): void;
  /** Connections counted now (in hello, waiting, signing in and signed in). */
  readonly size: number;
}

interface Entry {
  readonly id: number;
  readonly ip: string;
  readonly socket: net.Socket;
  state: 'hello' | 'queued' | 'pre-auth' | 'authenticated';
  head: Buffer | undefined;
  timer: NodeJS.Timeout | undefined;
  cancel: (() => void) | undefined;
  onClose: (() => void) | undefined;
}

export const normaliseIp = (ip: string | undefined) => (ip ?? 'unknown').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

function admissionMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    connections: get(
      'sluice_sftp_connections',
      () => new Gauge({ name: 'sluice_sftp_connections', help: 'Open SFTP (SSH) connections', registers: [registry] }),
    ),
    preAuth: get(
      'sluice_sftp_preauth_connections',
      () => new Gauge({ name: 'sluice_sftp_preauth_connections', help: 'SFTP connections in key exchange or authentication', registers: [registry] }),
    ),
    refused: get(
      'sluice_sftp_refused_connections_total',
      () =>
        new Counter({
          name: 'sluice_sftp_refused_connections_total',
          help: 'SFTP connections refused or dropped before sign-in, by reason',
          labelNames: ['reason'] as const,
          registers: [registry],
        }),
    ),
  };
}

/** Ends a connection that is not served, with an SSH disconnect that says why. */
export function refuseSocket(socket: net.Socket, reason: string, shuttingDown: boolean): void {
  socket.on('error', () => undefined);
  socket.end(sshRefusal(SERVER_IDENT, shuttingDown ? DISCONNECT_REASON.BY_APPLICATION : DISCONNECT_REASON.TOO_MANY_CONNECTIONS, reason));
  setTimeout(() => socket.destroy(), 2000).unref();
}

/** Whether MaxStartups drops a new connection when `n` are in key exchange and authentication. */
export function earlyDrop(n: number, m: MaxStartups, random: (below: number) => number = randomInt): boolean {
  if (n >= m.full) return true;
  if (n < m.start) return false;
  const p = m.rate + ((100 - m.rate) * (n - m.start)) / (m.full - m.start);
  return random(100) < p;
}

export function createAdmission(opts: {
  readonly limits: AdmissionLimits;
  readonly log: Logger;
  readonly registry: Registry;
  /** Starts the SSH handshake of an admitted connection (see the contract above). */
  readonly start: (c: Admitted) => void;
  /** Random integer below its argument (tests may fix it); crypto.randomInt by default. */
  readonly random?: (below: number) => number;
}): Admission {
  const { limits, log, start } = opts;
  const m = admissionMetrics(opts.registry);
  const penalties = limits.penalties ? createPenalties(limits.penalties) : undefined;
  const entries = new Map<number, Entry>();
  const perIp = new Map<string, number>();
  const unauthPerIp = new Map<string, number>();
  const preAuthPerIp = new Map<string, number>();
  const queue: Entry[] = [];
  let preAuth = 0;
  let nextId = 1;
  let stopping = false;

  const bump = (map: Map<string, number>, key: string, d: number) => {
    const v = (map.get(key) ?? 0) + d;
    if (v <= 0) map.delete(key);
    else map.set(key, v);
  };
  const refused = (reason: string) => m.refused.inc({ reason });

  function accept(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const ip = normaliseIp(socket.remoteAddress);
    const refuse = (metric: string, reason: string) => {
      refused(metric);
      log.debug({ ip, reason }, 'sftp connection refused');
      refuseSocket(socket, reason, stopping);
    };
    if (stopping) return refuse('shutting down', 'shutting down');
    if (penalties?.refused(ip)) return refuse('penalty', 'too many failed or unfinished connections from this address; try again later');
    if (entries.size >= limits.maxConnections) return refuse('too many connections', 'too many connections');
    if ((perIp.get(ip) ?? 0) >= limits.maxConnectionsPerIp) return refuse('too many from this address', 'too many connections from this address');
    if ((unauthPerIp.get(ip) ?? 0) >= limits.maxUnauthPerIp)
      return refuse('too many unauthenticated from this address', 'too many connections from this address that have not signed in');
    const e: Entry = { id: nextId++, ip, socket, state: 'hello', head: undefined, timer: undefined, cancel: undefined, onClose: undefined };
    entries.set(e.id, e);
    bump(perIp, ip, 1);
    bump(unauthPerIp, ip, 1);
    m.connections.inc();
    socket.write(SERVER_IDENT_LINE);
    e.cancel = readHello(socket, { bannerMs: limits.bannerTimeoutMs, kexMs: limits.kexTimeoutMs }, (r) => {
      e.cancel = undefined;
      if (!entries.has(e.id)) return;
      if (!r.ok) {
        log.debug({ ip, reason: r.why }, 'sftp connection ended before its key exchange');
        socket.destroy();
        return gone(e.id, r.why === 'closed' || r.why.startsWith('invalid') ? 'noauth' : 'graceExceeded');
      }
      e.head = r.head;
      if (earlyDrop(preAuth + queue.length, limits.maxStartups, opts.random)) {
        refused('startups');
        log.debug({ ip, preAuth, waiting: queue.length }, 'sftp connection dropped: too many unauthenticated connections');
        socket.end(sshDisconnectPacket(DISCONNECT_REASON.TOO_MANY_CONNECTIONS, 'too many connections are signing in; try again shortly'));
        setTimeout(() => socket.destroy(), 2000).unref();
        return gone(e.id);
      }
      e.state = 'queued';
      // Waiting for one of its own address's slots: bounded, and the connection is ours meanwhile.
      e.timer = setTimeout(() => {
        log.debug({ ip }, 'sftp connection waited too long for a pre-auth slot');
        socket.destroy();
        gone(e.id);
      }, limits.loginGraceMs);
      e.timer.unref();
      e.onClose = () => gone(e.id);
      socket.once('close', e.onClose);
      queue.push(e);
      admit();
    });
  }

  /** Starts the handshake of waiting connections whose address has a pre-auth slot free. */
  function admit(): void {
    for (let i = 0; i < queue.length;) {
      const e = queue[i]!;
      if ((preAuthPerIp.get(e.ip) ?? 0) >= limits.maxPreAuthPerIp) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      clearTimeout(e.timer);
      if (e.onClose) e.socket.off('close', e.onClose);
      e.onClose = undefined;
      if (e.socket.destroyed) {
        forget(e);
        continue;
      }
      e.state = 'pre-auth';
      preAuth++;
      m.preAuth.inc();
      bump(preAuthPerIp, e.ip, 1);
      const head = e.head!;
      e.head = undefined;
      start({ id: e.id, ip: e.ip, socket: e.socket, head, kexMs: limits.kexTimeoutMs, graceMs: limits.loginGraceMs });
    }
  }

  function authenticated(e: Entry): void {
    if (e.state === 'authenticated') return;
    if (e.state === 'pre-auth') {
      preAuth--;
      m.preAuth.dec();
      bump(preAuthPerIp, e.ip, -1);
    }
    e.state = 'authenticated';
    bump(unauthPerIp, e.ip, -1);
  }

  function forget(e: Entry): void {
    // Out of the table first: a hello still being read reports 'closed' to nobody.
    entries.delete(e.id);
    clearTimeout(e.timer);
    e.cancel?.();
    if (e.onClose) e.socket.off('close', e.onClose);
    if (e.state === 'queued') {
      const i = queue.indexOf(e);
      if (i >= 0) queue.splice(i, 1);
    }
    authenticated(e);
    bump(perIp, e.ip, -1);
    m.connections.dec();
  }

  function gone(id: number, penalty?: PenaltyKind): void {
    const e = entries.get(id);
    if (!e) return;
    if (penalty && e.state !== 'authenticated' && !stopping) penalties?.add(e.ip, penalty);
    forget(e);
    admit();
  }

  return {
    accept,
    signedIn(id) {
      const e = entries.get(id);
      if (!e) return;
      authenticated(e);
      admit();
    },
    gone,
    stop() {
      stopping = true;
      for (const e of [...entries.values()]) {
        if (e.state !== 'hello' && e.state !== 'queued') continue;
        e.socket.destroy();
        forget(e);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
