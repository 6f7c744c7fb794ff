/**
 * Admission of SFTP connections: which TCP connections may start an SSH handshake, and when.
 *
 * It sits between the listening socket and whatever runs SSH (server.ts createSshHandler, in this
 * process or in an SFTP worker process: app/sftp-processes.ts), and it is the only place that counts
 * connections, so the limits hold for the whole server however many processes run sessions:
 * - at most `maxConnections` in total and `maxConnectionsPerIp` from one address (further ones
 *   are refused with an SSH disconnect naming the reason, not a bare reset);
 * - at most `maxPreAuth` (and `maxPreAuthPerIp` from one address) in the key exchange /
 *   authentication phase at once; further ones wait in a bounded queue (`maxQueued`), unread, so
 *   they cost no CPU;
 * - each must authenticate within `loginGraceMs` of connecting: a queued one is dropped here, a
 *   started one is given what is left of its grace (`Admitted.graceMs`) by whoever runs it.
 *
 * Contract: whoever receives an admitted connection (`start`) MUST call `signedIn(id)` when it
 * authenticated and `gone(id)` exactly once when it ended (also when it could not be started):
 * until then it counts toward the limits. A connection that never reaches `start` (refused,
 * queued and closed, grace over while queued) is accounted for here.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DISCONNECT_REASON, sshRefusal } from './codec.js';

export interface AdmissionLimits {
  readonly loginGraceMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxPreAuth: number;
  readonly maxPreAuthPerIp: number;
  /** Connections waiting for a pre-auth slot (in total; per address it is maxConnectionsPerIp). */
  readonly maxQueued: number;
}

/** A connection that may start its SSH handshake now. */
export interface Admitted {
  readonly id: number;
  /** The client's address (IPv4-mapped IPv6 shown as IPv4). */
  readonly ip: string;
  readonly socket: net.Socket;
  /** What is left of its login grace time, in milliseconds (at least 1). */
  readonly graceMs: number;
}

export interface Admission {
  /** A new TCP connection from the listener. */
  accept(socket: net.Socket): void;
  /** Connection `id` authenticated: its pre-auth slot is free. */
  signedIn(id: number): void;
  /** Connection `id` ended. */
  gone(id: number): void;
  /** From now on every new connection is refused ("shutting down"); queued ones are closed. */
  stop(): void;
  /** Connections counted now (queued, signing in and signed in). */
  readonly size: number;
}

interface Entry {
  readonly id: number;
  readonly ip: string;
  readonly socket: net.Socket;
  readonly at: number;
  state: 'queued' | 'pre-auth' | 'authenticated';
  grace: NodeJS.Timeout | undefined;
  onClose: (() => void) | undefined;
}

const normaliseIp = (ip: string | undefined) => (ip ?? 'unknown').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

function admissionMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    connections: get(
      'sluice_sftp_connections',
      () => new Gauge({ name: 'sluice_sftp_connections', help: 'Open SFTP (SSH) connections', registers: [registry] }),
    ),
    refused: get(
      'sluice_sftp_refused_connections_total',
      () =>
        new Counter({
          name: 'sluice_sftp_refused_connections_total',
          help: 'SFTP connections refused by the connection limits, by reason',
          labelNames: ['reason'] as const,
          registers: [registry],
        }),
    ),
  };
}

/** Ends a connection that is not served, with an SSH disconnect that says why. */
export function refuseSocket(socket: net.Socket, reason: string, shuttingDown: boolean): void {
  socket.on('error', () => undefined);
  socket.end(sshRefusal('Sluice', shuttingDown ? DISCONNECT_REASON.BY_APPLICATION : DISCONNECT_REASON.TOO_MANY_CONNECTIONS, reason));
  setTimeout(() => socket.destroy(), 2000).unref();
}

export function createAdmission(opts: {
  readonly limits: AdmissionLimits;
  readonly log: Logger;
  readonly registry: Registry;
  /** Starts the SSH handshake of an admitted connection (see the contract above). */
  readonly start: (c: Admitted) => void;
}): Admission {
  const { limits, log, start } = opts;
  const m = admissionMetrics(opts.registry);
  const entries = new Map<number, Entry>();
  const perIp = new Map<string, number>();
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

  function accept(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const ip = normaliseIp(socket.remoteAddress);
    const refuse = (reason: string) => {
      m.refused.inc({ reason });
      log.debug({ ip, reason }, 'sftp connection refused');
      refuseSocket(socket, reason, stopping);
    };
    if (stopping) return refuse('shutting down');
    if (entries.size >= limits.maxConnections) return refuse('too many connections');
    if ((perIp.get(ip) ?? 0) >= limits.maxConnectionsPerIp) return refuse('too many connections from this address');
    if (queue.length >= limits.maxQueued) return refuse('too many connections waiting');
    const e: Entry = { id: nextId++, ip, socket, at: Date.now(), state: 'queued', grace: undefined, onClose: undefined };
    entries.set(e.id, e);
    bump(perIp, ip, 1);
    m.connections.inc();
    e.grace = setTimeout(() => {
      log.debug({ ip }, 'sftp login grace time over while waiting');
      socket.destroy();
      gone(e.id);
    }, limits.loginGraceMs);
    e.grace.unref();
    // While it waits here the connection is ours: a client that gives up leaves the queue.
    e.onClose = () => gone(e.id);
    socket.once('close', e.onClose);
    queue.push(e);
    admit();
  }

  /** Starts the handshake of waiting connections while pre-auth slots are free. */
  function admit(): void {
    for (let i = 0; i < queue.length && preAuth < limits.maxPreAuth;) {
      const e = queue[i]!;
      if ((preAuthPerIp.get(e.ip) ?? 0) >= limits.maxPreAuthPerIp) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      clearTimeout(e.grace);
      if (e.onClose) e.socket.off('close', e.onClose);
      e.onClose = undefined;
      if (e.socket.destroyed) {
        forget(e);
        continue;
      }
      e.state = 'pre-auth';
      preAuth++;
      bump(preAuthPerIp, e.ip, 1);
      start({ id: e.id, ip: e.ip, socket: e.socket, graceMs: Math.max(1, limits.loginGraceMs - (Date.now() - e.at)) });
    }
  }

  function leavePreAuth(e: Entry): void {
    if (e.state !== 'pre-auth') return;
    e.state = 'authenticated';
    preAuth--;
    bump(preAuthPerIp, e.ip, -1);
  }

  function forget(e: Entry): void {
    clearTimeout(e.grace);
    if (e.onClose) e.socket.off('close', e.onClose);
    if (e.state === 'queued') {
      const i = queue.indexOf(e);
      if (i >= 0) queue.splice(i, 1);
    }
    leavePreAuth(e);
    entries.delete(e.id);
    bump(perIp, e.ip, -1);
    m.connections.dec();
  }

  function gone(id: number): void {
    const e = entries.get(id);
    if (!e) return;
    forget(e);
    admit();
  }

  return {
    accept,
    signedIn(id) {
      const e = entries.get(id);
      if (!e) return;
      leavePreAuth(e);
      admit();
    },
    gone,
    stop() {
      stopping = true;
      for (const e of queue.splice(0)) {
        e.socket.destroy();
        forget(e);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
