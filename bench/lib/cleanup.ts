/**
 * Cleanup that happens whatever way a benchmark ends: normal return, exception, Ctrl-C (SIGINT),
 * SIGTERM/SIGHUP, or its overall deadline. Register each thing to undo with `onCleanup` (an
 * async way, and a synchronous last resort for process 'exit'); `runCleanup` undoes them in
 * reverse order, once.
 */
import fs from 'node:fs';
import { killTreeSync, stopTree } from './proc.js';

interface Entry {
  readonly name: string;
  readonly run: () => Promise<void>;
  readonly runSync: () => void;
  done: boolean;
}

const entries: Entry[] = [];
let installed = false;
let cleaning: Promise<void> | undefined;

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Registers something to undo; returns a function that undoes it now (and unregisters it). */
export function onCleanup(name: string, run: () => Promise<void>, runSync: () => void): () => Promise<void> {
  install();
  const e: Entry = { name, run, runSync, done: false };
  entries.push(e);
  return async () => {
    if (e.done) return;
    e.done = true;
    await run();
  };
}

/** A temporary directory removed at cleanup. */
export function cleanupDir(dir: string): void {
  const rm = () => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  onCleanup(`remove ${dir}`, async () => rm(), rm);
}

/** A process (tree) stopped at cleanup: SIGTERM, then SIGKILL after graceMs. Returns the stopper. */
export function cleanupProcess(name: string, pid: number, graceMs = 10_000): () => Promise<void> {
  return onCleanup(
    `stop ${name} (pid ${pid})`,
    () => stopTree(pid, graceMs),
    () => killTreeSync(pid),
  );
}

/** Undoes everything registered, newest first; bounded by `timeoutMs`, then the sync fallbacks. */
export function runCleanup(timeoutMs = 30_000): Promise<void> {
  cleaning ??= (async () => {
    const work = (async () => {
      for (const e of [...entries].reverse()) {
        if (e.done) continue;
        e.done = true;
        try {
          await e.run();
        } catch (err) {
          process.stderr.write(`[bench] cleanup "${e.name}" failed: ${(err as Error).message}\n`);
          try {
            e.runSync();
          } catch {}
        }
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const r = await Promise.race([work.then(() => 'ok' as const), timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      process.stderr.write('[bench] cleanup timed out: killing what is left\n');
      runCleanupSync(true);
    }
  })();
  return cleaning;
}

function runCleanupSync(all = false): void {
  for (const e of [...entries].reverse()) {
    if (e.done && !all) continue;
    e.done = true;
    try {
      e.runSync();
    } catch {}
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => runCleanupSync());
  for (const sig of Object.keys(SIGNAL_EXIT)) {
    process.on(sig, () => {
      if (cleaning) {
        process.stderr.write(`[bench] ${sig} again: killing what is left\n`);
        runCleanupSync(true);
        process.exit(SIGNAL_EXIT[sig]);
      }
      process.stderr.write(`[bench] ${sig}: cleaning up\n`);
      void runCleanup().finally(() => process.exit(SIGNAL_EXIT[sig]));
    });
  }
}

/**
 * Ends the process after `ms` whatever it is doing (cleaning up first): the overall bound of a
 * benchmark. The timer does not keep the process alive.
 */
export function deadline(ms: number, what: string): void {
  install();
  setTimeout(() => {
    process.stderr.write(`[bench] ${what} did not finish within ${Math.round(ms / 1000)} s: stopping\n`);
    void runCleanup().finally(() => process.exit(124));
  }, ms).unref();
}
