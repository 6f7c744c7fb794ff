/** A progress bar on stderr for long jobs; silent when stderr is not a terminal or with --json. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function progress(label: string, unit: 'bytes' | 'events', enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const fmt =
    unit === 'bytes'
      ? `${label} [{bar}] {percentage}% | {value_mb}/{total_mb} MiB | {eta_formatted}`
      : `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {eta_formatted}`;
  const bar = new cliProgress.SingleBar({ format: fmt, stream: process.stderr, hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
  let started = false;
  const mb = (n: number) => (n / 1048576).toFixed(1);
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done, { value_mb: mb(done), total_mb: mb(total) });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { value_mb: mb(done), total_mb: mb(total) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
