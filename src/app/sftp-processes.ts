/**
 * SFTP on several processes, so that many sessions use every core: `sluice serve` listens and
 * admits connections (protocols/sftp/admission.ts: every connection limit is counted here, for
 * the whole server), and hands each admitted connection, socket and all, to one of `count` SFTP
 * worker processes (app/sftp-worker.ts), the one with the fewest connections. A worker runs SSH
 * and the sessions with its own core instance on the same database and store; the core keeps no
 * state a second process could contradict (the ledger head, lockdown, budgets, quotas and
 * lockouts live in the database, as for several nodes).
 *
 * - Sockets are accepted paused (pauseOnConnect); the primary reads only the client's
 *   identification line and first key-exchange packet (admission.ts, hello.ts), which go to the
 *   worker with the socket.
 * - A worker that dies takes its connections with it (their clients see the connection drop;
 *   unfinished uploads stay invisible, as after any disconnect); they are released here and a new
 *   worker is started, after a pause that grows while workers keep dying.
 * - Server-wide byte bounds (written bytes held in memory) are shared out: each worker gets its
 *   part of them.
 * - /metrics merges the workers' metrics into the primary's (Metrics.peers).
 * - close() stops accepting and asks every worker to drain (as serve does in one process), then
 *   waits for them to exit; one that does not is killed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Metrics } from '../protocols/http/metrics.js';
import { createAdmission, refuseSocket, type Admitted } from '../protocols/sftp/admission.js';
import { listenOn, type SftpLimits } from '../protocols/sftp/server.js';
import type { PenaltyKind } from '../protocols/sftp/penalties.js';
import { parseFromWorker, type ToWorker } from './sftp-ipc.js';

export interface SftpProcesses {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  close(graceMs?: number): Promise<void>;
}

interface Worker {
  readonly index: number;
  readonly child: ChildProcess;
  ready: boolean;
  readonly conns: Set<number>;
}

const START_TIMEOUT_MS = 60_000;
const METRICS_TIMEOUT_MS = 2_000;
const RESPAWN_MIN_MS = 500;
const RESPAWN_MAX_MS = 30_000;

/** The worker's entry: next to this module, compiled (.js) or, run through tsx, the source (.ts). */
function workerEntry(): string {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './sftp-worker.ts' : './sftp-worker.js', here).pathname;
}

export interface SftpProcessesOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly limits: SftpLimits;
  readonly count: number;
  /**
   * Called once a worker that was serving has exited, with the owner its unfinished uploads were
   * registered under (`<nodeId>/sftp-<index>-<pid>`): serve removes them (core maintenance
   * sweepAbandoned). Not called while serve stops (the next start sweeps the node's leftovers).
   */
  readonly onWorkerGone?: (uploadOwner: string) => void;
}

export async function startSftpProcesses(opts: SftpProcessesOptions): Promise<SftpProcesses> {
  const { config, metrics, count } = opts;
  const log = opts.log.child({ component: 'sftp' });
  // Each worker holds its part of the server-wide bounds.
  const workerLimits: SftpLimits = {
    ...opts.limits,
    maxPendingWriteBytesTotal: Math.max(opts.limits.maxReadWrite, Math.floor(opts.limits.maxPendingWriteBytesTotal / count)),
    maxHeldWriteBytesTotal: Math.max(opts.limits.maxReadWrite, Math.floor(opts.limits.maxHeldWriteBytesTotal / count)),
  };
  const workers: (Worker | undefined)[] = new Array(count).fill(undefined);
  const ownerOf = new Map<number, Worker>();
  const metricsWaiting = new Map<number, (data: unknown[]) => void>();
  let nextReq = 1;
  let stopping = false;
  let deaths = 0;

  const admission = createAdmission({ limits: opts.limits, log, registry: metrics.registry, start: dispatch });

  function release(id: number, penalty?: PenaltyKind): void {
    const w = ownerOf.get(id);
    if (w) w.conns.delete(id);
    ownerOf.delete(id);
    admission.gone(id, penalty);
  }

  function dispatch(c: Admitted): void {
    let best: Worker | undefined;
    for (const w of workers) if (w?.ready && w.child.connected && (!best || w.conns.size < best.conns.size)) best = w;
    if (!best) {
      refuseSocket(c.socket, 'the SFTP service is restarting; try again shortly', false);
      admission.gone(c.id);
      return;
    }
    const w = best;
    w.conns.add(c.id);
    ownerOf.set(c.id, w);
    // What admission read (the client's identification and KEXINIT) travels with the socket.
    const msg: ToWorker = { t: 'conn', id: c.id, ip: c.ip, head: c.head.toString('base64'), kexMs: c.kexMs, graceMs: c.graceMs };
    w.child.send(msg, c.socket, { keepOpen: false }, (err) => {
      if (!err) return;
      log.warn({ err: err.message, worker: w.index }, 'could not hand a connection to an SFTP worker');
      c.socket.destroy();
      release(c.id);
    });
  }

  function spawn(index: number): Promise<Worker> {
    const child = fork(workerEntry(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.execArgv });
    const w: Worker = { index, child, ready: false, conns: new Set() };
    const uploadOwner = `${config.nodeId}/sftp-${index}-${child.pid ?? 0}`;
    workers[index] = w;
    return new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`SFTP worker ${index} did not start within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      child.on('message', (raw) => {
        const m = parseFromWorker(raw);
        if (!m) return;
        switch (m.t) {
          case 'alive': {
            const start: ToWorker = { t: 'start', index, config, limits: workerLimits, uploadOwner };
            child.send(start);
            return;
          }
          case 'ready':
            clearTimeout(timer);
            w.ready = true;
            deaths = 0;
            resolve(w);
            return;
          case 'failed':
            clearTimeout(timer);
            reject(new Error(`SFTP worker ${index} could not start: ${m.message}`));
            return;
          case 'signed-in':
            if (ownerOf.get(m.id) === w) admission.signedIn(m.id);
            return;
          case 'closed':
            if (ownerOf.get(m.id) === w) release(m.id, m.penalty);
            return;
          case 'metrics':
            metricsWaiting.get(m.req)?.(m.data);
            return;
        }
      });
      child.on('error', (e) => log.error({ err: e.message, worker: index }, 'SFTP worker error'));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`SFTP worker ${index} exited (${signal ?? code}) before it was ready`));
        if (workers[index] === w) workers[index] = undefined;
        const lost = w.conns.size;
        for (const id of [...w.conns]) release(id);
        if (stopping) return;
        // Its uploads died with it: nothing writes as its owner any more.
        opts.onWorkerGone?.(uploadOwner);
        deaths++;
        const delay = Math.min(RESPAWN_MAX_MS, RESPAWN_MIN_MS * 2 ** Math.min(deaths - 1, 6));
        log.error({ worker: index, code, signal, connections: lost, restartInMs: delay }, 'SFTP worker exited; starting a new one');
        setTimeout(() => {
          if (!stopping)
            void spawn(index).then(
              () => undefined,
              (e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e), worker: index }, 'SFTP worker did not start'),
            );
        }, delay).unref();
      });
    });
  }

  // All workers start before serve listens: a worker that cannot open the instance stops serve.
  try {
    await Promise.all(workers.map((_, i) => spawn(i)));
  } catch (e) {
    stopping = true;
    for (const w of workers) w?.child.kill('SIGKILL');
    throw e;
  }

  metrics.peers.collect = async () => {
    const live = workers.filter((w): w is Worker => !!w?.ready && w.child.connected);
    return Promise.all(
      live.map(
        (w) =>
          new Promise<unknown[]>((resolve) => {
            const req = nextReq++;
            const done = (data: unknown[]) => {
              clearTimeout(timer);
              metricsWaiting.delete(req);
              resolve(data);
            };
            const timer = setTimeout(() => done([]), METRICS_TIMEOUT_MS);
            metricsWaiting.set(req, done);
            const msg: ToWorker = { t: 'metrics', req };
            w.child.send(msg, undefined, {}, (err) => err && done([]));
          }),
      ),
    );
  };

  const tcp = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => admission.accept(socket));
  tcp.on('error', (e) => log.error({ err: e.message }, 'sftp listener error'));

  return {
    listen: (host, port) => listenOn(tcp, host, port, log),
    async close(graceMs = 30_000) {
      stopping = true;
      admission.stop();
      metrics.peers.collect = undefined;
      const stopped = new Promise<void>((r) => tcp.close(() => r()));
      await Promise.all(
        workers.map(async (w) => {
          if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
          const exited = new Promise<void>((r) => w.child.once('exit', () => r()));
          const msg: ToWorker = { t: 'stop', graceMs };
          if (w.child.connected) w.child.send(msg, undefined, {}, () => undefined);
          else w.child.kill('SIGTERM');
          const kill = setTimeout(() => w.child.kill('SIGKILL'), graceMs + 15_000);
          await exited;
          clearTimeout(kill);
        }),
      );
      await stopped;
    },
  };
}
