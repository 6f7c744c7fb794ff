/**
 * An SFTP worker process, started by `sluice serve` (app/sftp-processes.ts) and by nothing else.
 *
 * It opens its own instance (database connection, keyring, encrypted store, core) from the
 * configuration the primary sends, and runs the SSH side of the SFTP front end
 * (protocols/sftp/server.ts createSshHandler) on connections the primary accepted and admitted and
 * hands over with their sockets. It never listens itself and runs none of the periodic jobs
 * (ledger checkpoints, sweeps): those are the primary's. It reports each connection's sign-in and
 * end, so the primary's connection limits stay exact, and its metrics on request.
 *
 * It stops when the primary says so (draining open transfers as serve does) or, at once, when the
 * primary is gone (the IPC channel closes). SIGINT and SIGTERM are left to the primary: a Ctrl-C in a
 * terminal reaches the whole process group, and the primary then stops its workers in order.
 */
import type net from 'node:net';
import { pino } from 'pino';
import { openInstance, paths, type Instance } from './instance.js';
import { loadHostKeys } from './host-keys.js';
import { createMetrics } from '../protocols/http/metrics.js';
import { createSshHandler, type SshHandler } from '../protocols/sftp/server.js';
import { parseToWorker, type FromWorker, type ToWorker } from './sftp-ipc.js';

/**
 * Without its primary a worker ends every session at once (unfinished uploads are aborted, as a
 * kill of serve would abort them): a new serve sweeps this node's unfinished uploads at its start,
 * which MUST NOT find one still being written by a worker of the old serve.
 */
const DISCONNECTED_GRACE_MS = 0;

function send(m: FromWorker): void {
  if (process.connected) process.send!(m, undefined, {}, () => undefined);
}

async function main(): Promise<void> {
  if (!process.send) {
    process.stderr.write('sftp-worker: this process is started by `sluice serve`\n');
    process.exit(2);
  }
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);

  let inst: Instance | undefined;
  let handler: SshHandler | undefined;
  let stopping = false;
  const metrics = createMetrics();

  const stop = async (graceMs: number) => {
    if (stopping) return;
    stopping = true;
    try {
      await handler?.close(graceMs);
      await inst?.core.alerts.drain(10_000);
      await inst?.close();
    } finally {
      process.exit(0);
    }
  };

  const onMessage = (raw: unknown, socket: unknown) => {
    const m = parseToWorker(raw);
    if (!m) return;
    switch (m.t) {
      case 'start':
        if (inst || stopping) return;
        void start(m).catch((e: unknown) => {
          send({ t: 'failed', message: e instanceof Error ? e.message : String(e) });
          process.exit(1);
        });
        return;
      case 'conn': {
        const s = socket as net.Socket | undefined;
        if (!s) return send({ t: 'closed', id: m.id });
        if (!handler || stopping) {
          s.destroy();
          return send({ t: 'closed', id: m.id });
        }
        handler.handle(
          s,
          { ip: m.ip, head: Buffer.from(m.head, 'base64'), kexMs: m.kexMs, graceMs: m.graceMs },
          {
            signedIn: () => send({ t: 'signed-in', id: m.id }),
            closed: (penalty) => send(penalty ? { t: 'closed', id: m.id, penalty } : { t: 'closed', id: m.id }),
          },
        );
        return;
      }
      case 'metrics':
        void metrics.registry
          .getMetricsAsJSON()
          .then((data) => send({ t: 'metrics', req: m.req, data }))
          .catch(() => send({ t: 'metrics', req: m.req, data: [] }));
        return;
      case 'stop':
        void stop(m.graceMs);
        return;
    }
  };

  async function start(m: Extract<ToWorker, { t: 'start' }>): Promise<void> {
    const log = pino({ level: m.config.logLevel }).child({ sftpWorker: m.index });
    inst = await openInstance(m.config, { log, uploadOwner: m.uploadOwner });
    handler = createSshHandler({ core: inst.core, log, metrics, hostKeys: loadHostKeys(paths(m.config).keys).map((k) => k.privateKey), limits: m.limits });
    send({ t: 'ready' });
  }

  process.on('message', onMessage);
  // A message sent before this listener existed would be lost: the primary waits for this one.
  send({ t: 'alive' });
  // The primary is gone (it crashed or was killed): leave at once (see DISCONNECTED_GRACE_MS).
  process.on('disconnect', () => void stop(DISCONNECTED_GRACE_MS));
}

void main();
