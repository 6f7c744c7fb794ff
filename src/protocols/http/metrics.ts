/**
 * Prometheus metrics in a Registry of our own (never prom-client's global one), so several
 * servers in one process (tests, HTTP + SFTP) do not collide. Pass one Metrics object to every
 * front end that should report into the same /metrics.
 */
import { AggregatorRegistry, Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly bytesIn: Counter<'protocol'>;
  readonly bytesOut: Counter<'protocol'>;
  readonly transfers: Counter<'direction' | 'outcome'>;
  readonly errors: Counter<'code'>;
  /**
   * Metrics of other processes of this server (SFTP worker processes: app/sftp-processes.ts), as
   * Registry.getMetricsAsJSON() gives them; renderMetrics merges them into this registry's.
   */
  readonly peers: { collect: (() => Promise<unknown[][]>) | undefined };
}

/**
 * The text /metrics serves: this registry's metrics, merged with the peers' when there are any
 * (counters and histograms are summed; prom-client's aggregators decide for the process metrics).
 */
export async function renderMetrics(m: Metrics): Promise<string> {
  const peers = m.peers.collect ? await m.peers.collect() : [];
  if (peers.length === 0) return m.registry.metrics();
  const own = await m.registry.getMetricsAsJSON();
  return AggregatorRegistry.aggregate([own, ...(peers as (typeof own)[])]).metrics();
}

export function createMetrics(opts: { registry?: Registry; defaultMetrics?: boolean } = {}): Metrics {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds (until the response is finished)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    bytesIn: new Counter({ name: 'sluice_bytes_in_total', help: 'File bytes received (uploads) by protocol', labelNames: ['protocol'], registers }),
    bytesOut: new Counter({ name: 'sluice_bytes_out_total', help: 'File bytes sent (downloads) by protocol', labelNames: ['protocol'], registers }),
    transfers: new Counter({
      name: 'sluice_transfers_total',
      help: 'File transfers by direction (upload, download) and outcome (success, failure, aborted)',
      labelNames: ['direction', 'outcome'],
      registers,
    }),
    errors: new Counter({ name: 'sluice_errors_total', help: 'Error responses by error code', labelNames: ['code'], registers }),
    peers: { collect: undefined },
  };
}
