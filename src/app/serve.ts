/**
 * `sluice serve`: opens the instance, recovers interrupted uploads, starts the front ends, and
 * on SIGTERM/SIGINT stops accepting, lets running transfers drain (bounded), then closes.
 */
import os from 'node:os';
import { publicOrigin, type Config } from '../config/config.js';
import { openInstance, paths } from './instance.js';
import { initHostKeys, loadHostKeys } from './host-keys.js';
import { buildHttpServer, createMetrics } from '../protocols/http/server.js';
import { createSftpServer, DEFAULT_LIMITS, type SftpLimits } from '../protocols/sftp/server.js';
import { startSftpProcesses } from './sftp-processes.js';
import { parsePenalties } from '../config/preauth.js';

/** The SFTP limits the configuration sets (the rest are the server's defaults). */
export function sftpLimits(config: Config): SftpLimits {
  const penalties = parsePenalties(config.sftpPenalties, config.sftpPenaltyExempt);
  if (typeof penalties === 'string') throw new Error(penalties); // loadConfig checked it already
  return {
    ...DEFAULT_LIMITS,
    maxConnections: config.sftpMaxConnections,
    maxConnectionsPerIp: config.sftpMaxConnectionsPerIp,
    maxUnauthPerIp: config.sftpMaxUnauthPerIp,
    maxPreAuthPerIp: config.sftpMaxPreauthPerIp,
    maxStartups: config.sftpMaxStartups,
    loginGraceMs: config.sftpLoginGrace,
    bannerTimeoutMs: config.sftpBannerTimeout,
    kexTimeoutMs: config.sftpKexTimeout,
    penalties,
  };
}

/**
 * SFTP worker processes to start: SLUICE_SFTP_PROCESSES, or for "auto" one per core on PostgreSQL
 * and none (SFTP in this process) on SQLite or a single core. SQLite lets one process write at a
 * time and a process that waits for another's lock sleeps with its whole event loop, and within
 * one process writers share commits (core/tx.ts): measured on 2 cores (W4, 200 sessions), SQLite
 * with two SFTP processes gave 0.81× OpenSSH against 1.00× in one; PostgreSQL 0.81× against 0.77×.
 */
export function sftpProcessCount(config: Config, cores = os.availableParallelism()): number {
  if (config.sftpProcesses !== 'auto') return config.sftpProcesses;
  return config.databaseUrl && cores > 1 ? cores : 0;
}

export async function runServer(config: Config): Promise<void> {
  const inst = await openInstance(config);
  const { log } = inst;
  // Data directories made before SFTP existed get their SSH host keys at their first serve.
  const madeHostKeys = initHostKeys(paths(config).keys).created;
  if (madeHostKeys.length) log.info({ created: madeHostKeys }, 'generated SSH host keys');
  const swept = await inst.core.maintenance.sweep();
  if (swept.removed || swept.temp) log.info(swept, 'removed leftovers of interrupted uploads');
  // Resumable uploads past their expiry, with their parts (also every checkpoint interval below).
  const sweepUploads = () =>
    inst.core.maintenance.sweepUploads().then(
      (n) => (n ? log.info({ uploads: n }, 'removed expired resumable uploads') : undefined),
      (e: unknown) => log.error({ err: e }, 'could not remove expired resumable uploads (the next sweep will)'),
    );
  await sweepUploads();
  // One metrics registry for both front ends (HTTP serves it at /metrics).
  const metrics = createMetrics();
  const http = await buildHttpServer({ core: inst.core, config, log, metrics });
  const limits = sftpLimits(config);
  const processes = sftpProcessCount(config);
  const sftp =
    processes > 0
      ? await startSftpProcesses({
          config,
          log,
          metrics,
          limits,
          count: processes,
          onWorkerGone: (owner) =>
            void inst.core.maintenance.sweepAbandoned(owner).then(
              (r) => (r.removed || r.temp ? log.info({ owner, ...r }, 'removed the unfinished uploads of an SFTP worker that exited') : undefined),
              (e: unknown) => log.error({ err: e, owner }, 'could not remove the unfinished uploads of an SFTP worker (the next start will)'),
            ),
        })
      : createSftpServer({ core: inst.core, log, metrics, hostKeys: loadHostKeys(paths(config).keys).map((k) => k.privateKey), limits });
  await http.listen({ host: config.httpListen.host, port: config.httpListen.port });
  const sftpAt = await sftp.listen(config.sftpListen.host, config.sftpListen.port);
  const scheme = config.tlsCert ? 'https' : 'http';
  log.info(
    {
      url: `${scheme}://${config.httpListen.host}:${config.httpListen.port}`,
      sftp: `${sftpAt.host}:${sftpAt.port}`,
      sftpProcesses: processes,
      dataDir: config.dataDir,
      database: inst.dialect,
    },
    'sluice is serving',
  );
  // Sign the ledger head periodically (and once more at shutdown), sending it to the sinks.
  const checkpoint = () =>
    inst.core.maintenance.checkpoint().catch((e: unknown) => log.error({ err: e, code: 'LEDGER_CHECKPOINT_FAILED' }, 'ledger checkpoint failed'));
  const ticker = setInterval(() => {
    void checkpoint();
    void sweepUploads();
  }, config.auditCheckpointInterval);
  ticker.unref();
  if (process.stderr.isTTY)
    process.stderr.write(
      `Sluice is serving on ${scheme}://${config.httpListen.host}:${config.httpListen.port} and sftp://${sftpAt.host}:${sftpAt.port} (data in ${config.dataDir})\n` +
        `The web app: ${publicOrigin(config)}/\n`,
    );

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping: draining open requests');
      const hard = setTimeout(() => {
        log.warn('drain timed out; closing remaining connections');
        http.server.closeAllConnections?.();
      }, 30_000);
      hard.unref();
      Promise.all([
        http.close().catch((e: unknown) => log.error({ err: e }, 'error while closing HTTP')),
        // Idle SFTP connections end at once; open transfers get the same 30 s as HTTP requests.
        sftp.close(30_000).catch((e: unknown) => log.error({ err: e }, 'error while closing SFTP')),
      ])
        .then(async () => {
          clearInterval(ticker);
          // The last lazy ledger events first, so the final checkpoint signs them too.
          await inst.core.maintenance.flush().catch((e: unknown) => log.error({ err: e }, 'could not commit the last ledger events'));
          return checkpoint();
        })
        .then(() => inst.core.alerts.drain(10_000))
        .then(() => inst.close())
        .finally(() => {
          log.info('stopped');
          resolve();
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
