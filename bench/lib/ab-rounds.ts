/**
 * The A/B skeleton shared by the bulk-transfer benchmarks (W1/W2 against sshd, W5/W6 against
 * nginx): rounds of "Sluice, then the peer", one line per transfer, and the medians, ratio,
 * CPU per GiB and peak RSS that each benchmark's summary reports under its own names.
 */
import { isAlive } from './proc.js';
import { fmt, GiB, max, median } from './stats.js';

/** One timed transfer by one server. */
export interface TransferRun<S extends string = string> {
  readonly server: S;
  readonly round: number;
  readonly mbps: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly peakRssMB: number;
}

export function logTransfer(log: (msg: string) => void, w: string, r: TransferRun): void {
  log(
    `${w} round ${r.round} ${r.server.padEnd(6)} ${fmt(r.mbps, 1).padStart(7)} MB/s  ${fmt(r.seconds, 2)} s  cpu ${fmt(r.cpuSeconds, 2)} s  peak RSS ${fmt(r.peakRssMB, 0)} MB`,
  );
}

/**
 * For each workload, `rounds` rounds over `servers` in order (A B A B …). A failed transfer ends
 * that workload (its error is kept, and Sluice's log tail shown if it died); the next one still runs.
 */
export async function runRounds<W extends string, S extends { readonly name: string }, R extends TransferRun>(
  workloads: readonly W[],
  rounds: number,
  servers: readonly S[],
  transfer: (srv: S, w: W, round: number) => Promise<R>,
  opts: {
    readonly log: (msg: string) => void;
    readonly sluice: { readonly pid: number; logTail(): string } | undefined;
    readonly sluiceError: string | undefined;
  },
): Promise<{ readonly w: W; readonly runs: R[]; readonly error: string | undefined }[]> {
  const out: { w: W; runs: R[]; error: string | undefined }[] = [];
  for (const w of workloads) {
    const runs: R[] = [];
    let error = opts.sluiceError;
    try {
      for (let round = 1; round <= rounds; round++) for (const srv of servers) runs.push(await transfer(srv, w, round));
    } catch (e) {
      error = (e as Error).message;
      opts.log(`${w} failed: ${error}`);
      if (opts.sluice && !isAlive(opts.sluice.pid)) opts.log(`Sluice exited; its log:\n${opts.sluice.logTail()}`);
    }
    out.push({ w, runs, error });
  }
  return out;
}

/** Medians (null unless every round completed), the ratio Sluice / peer, and the peaks. */
export function transferFigures(runs: readonly TransferRun[], rounds: number, size: number, peer: string) {
  const sl = runs.filter((r) => r.server === 'sluice');
  const pe = runs.filter((r) => r.server === peer);
  const med = (rs: readonly TransferRun[], f: (r: TransferRun) => number) => (rs.length === rounds ? median(rs.map(f)) : null);
  const gib = size / GiB;
  const sluice = med(sl, (r) => r.mbps);
  const peerMbps = med(pe, (r) => r.mbps);
  return {
    sluice,
    peer: peerMbps,
    ratio: sluice !== null && peerMbps !== null ? sluice / peerMbps : null,
    sluicePeakRssMB: sl.length ? max(sl.map((r) => r.peakRssMB)) : null,
    peerPeakRssMB: pe.length ? max(pe.map((r) => r.peakRssMB)) : null,
    sluiceCpuSecondsPerGiB: med(sl, (r) => r.cpuSeconds / gib),
    peerCpuSecondsPerGiB: med(pe, (r) => r.cpuSeconds / gib),
    sluiceSecondsMedian: med(sl, (r) => r.seconds),
    peerSecondsMedian: med(pe, (r) => r.seconds),
  };
}
