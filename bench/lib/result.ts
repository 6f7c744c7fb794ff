/**
 * What a benchmark hands to scripts/bench.mjs: one line on stdout,
 *
 *   BENCH_RESULT {"results":[WorkloadResult, …]}
 *
 * printed last. The runner (plain JavaScript) looks for the same prefix; keep the two in step.
 */

export const RESULT_PREFIX = 'BENCH_RESULT ';

export interface WorkloadResult {
  /** Workload id from shared/design/performance.md, e.g. "w5"; a suffix for a second row ("w10-decrypt"). */
  readonly id: string;
  readonly title: string;
  /** Unit of `sluice` and `peer`, e.g. "MB/s" (10^6 bytes per second). */
  readonly unit: string;
  readonly sluice: number | null;
  /** The reference the ratio is taken against, e.g. "nginx 1.22.1 PUT". */
  readonly peerName: string;
  readonly peer: number | null;
  /** sluice / peer, or null when either is missing. */
  readonly ratio: number | null;
  /** Lowest passing ratio, e.g. 0.8. */
  readonly targetRatio: number | null;
  /** Human-readable target, e.g. "≥ 0.8×, RSS < 200 MB". */
  readonly target: string;
  /** Peak RSS of the Sluice process tree in MB (10^6), where measured. */
  readonly sluicePeakRssMB?: number | null;
  /** Limit for sluicePeakRssMB, e.g. 200. */
  readonly rssLimitMB?: number;
  /** true/false when measured; null when a side is missing. */
  readonly pass: boolean | null;
  /** Why a figure is missing, when one is. */
  readonly error?: string;
  /** Everything else measured (runs, CPU, sizes, versions). */
  readonly details?: Record<string, unknown>;
}

export function emitResults(results: readonly WorkloadResult[]): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ results })}\n`);
}
