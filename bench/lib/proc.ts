/**
 * Reading processes from /proc (Linux): RSS, CPU time, process trees; a sampler that follows a
 * server's whole process tree (nginx master + workers, a Node cluster, sshd + its session
 * children) during a run; and killing a tree by process ids.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticks: number | undefined;

/** Clock ticks per second for /proc/PID/stat times (getconf CLK_TCK; 100 on Linux x86). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resident set size of one process in bytes (VmRSS), or null if it is gone. */
export function readRssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0; // a zombie has no VmRSS line
  } catch {
    return null;
  }
}

interface Stat {
  readonly ppid: number;
  /** utime + stime in seconds. */
  readonly cpuSeconds: number;
}

/**
 * The fields of /proc/PID/stat after the command name, or null if the process is gone. "pid
 * (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
 * [0]=state [1]=ppid … [11]=utime [12]=stime [13]=cutime [14]=cstime (fields 14–17 of proc(5)).
 */
function statFields(pid: number): string[] | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function readStat(pid: number): Stat | null {
  const f = statFields(pid);
  return f ? { ppid: Number(f[1]), cpuSeconds: (Number(f[11]) + Number(f[12])) / clockTicks() } : null;
}

/** User + system CPU seconds of one process so far, or null if it is gone. */
export function readCpuSeconds(pid: number): number | null {
  return readStat(pid)?.cpuSeconds ?? null;
}

function childrenOf(pid: number): number[] | null {
  try {
    const out: number[] = [];
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    return null; // no such process, or a kernel without CONFIG_PROC_CHILDREN
  }
}

/** pid and all its descendants (pid first); [] when pid is gone. */
export function processTree(pid: number): number[] {
  if (!isAlive(pid)) return [];
  const tree = [pid];
  let viaChildren = true;
  for (let i = 0; i < tree.length && viaChildren; i++) {
    const kids = childrenOf(tree[i]!);
    if (kids === null) viaChildren = isAlive(tree[i]!) ? false : true;
    else tree.push(...kids);
  }
  if (viaChildren) return tree;
  // Fallback: scan every process's parent.
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) parent.set(Number(name), st.ppid);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  return out;
}

/** Sends a signal to pid and every descendant (children first is not needed: all get it at once). */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  for (const p of processTree(pid).reverse()) {
    try {
      process.kill(p, signal);
    } catch {}
  }
}

/**
 * Stops a process tree: SIGTERM to the root (a server that drains on SIGTERM stops its own
 * children), then SIGKILL to whatever of the tree is left after `graceMs`.
 */
export async function stopTree(pid: number, graceMs = 10_000): Promise<void> {
  const tree = processTree(pid);
  if (tree.length === 0) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  const until = Date.now() + graceMs;
  while (Date.now() < until && tree.some(isAlive)) await sleep(100);
  for (const p of tree) {
    if (isAlive(p)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
  }
}

/** Synchronous last resort (process 'exit'): SIGKILL to the tree. */
export function killTreeSync(pid: number): void {
  signalTree(pid, 'SIGKILL');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface SampleResult {
  /** Highest sum of RSS over the tree seen at one sample, in bytes. */
  readonly peakRssBytes: number;
  /** Highest RSS of any single process of the tree, in bytes. */
  readonly peakRssSingleBytes: number;
  /** CPU seconds (user + system) used by the tree while sampling. */
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
  readonly samples: number;
  /** Processes seen in the tree. */
  readonly pids: readonly number[];
}

export interface Sampler {
  stop(): SampleResult;
}

/**
 * Samples the process tree under `rootPid` every `intervalMs` (default 100 ms): VmRSS of every
 * member (peak of the sum and of any one), and CPU time from /proc/PID/stat, per process from its
 * first sighting to its last (a process that starts during the run counts from zero). The tree is
 * re-read every `treeEveryMs` (default 1 s) to see new workers without scanning /proc each tick.
 */
export function startSampler(rootPid: number, opts: { intervalMs?: number; treeEveryMs?: number } = {}): Sampler {
  const intervalMs = opts.intervalMs ?? 100;
  const treeEveryMs = opts.treeEveryMs ?? 1000;
  const t0 = process.hrtime.bigint();
  const firstCpu = new Map<number, number>();
  const lastCpu = new Map<number, number>();
  let pids = processTree(rootPid);
  let treeAt = Date.now();
  let peak = 0;
  let peakSingle = 0;
  let samples = 0;
  const started = new Set(pids);

  // CPU at the start: processes already running count from here.
  for (const p of pids) {
    const c = readCpuSeconds(p);
    if (c !== null) {
      firstCpu.set(p, c);
      lastCpu.set(p, c);
    }
  }

  const tick = () => {
    if (Date.now() - treeAt >= treeEveryMs) {
      pids = processTree(rootPid);
      treeAt = Date.now();
    }
    let sum = 0;
    for (const p of pids) {
      const rss = readRssBytes(p);
      if (rss === null) continue;
      sum += rss;
      if (rss > peakSingle) peakSingle = rss;
      const c = readCpuSeconds(p);
      if (c !== null) {
        if (!firstCpu.has(p)) firstCpu.set(p, started.has(p) ? c : 0);
        lastCpu.set(p, c);
      }
    }
    if (sum > peak) peak = sum;
    samples++;
  };
  tick();
  const timer = setInterval(tick, intervalMs);

  return {
    stop() {
      clearInterval(timer);
      tick();
      let cpu = 0;
      for (const [p, last] of lastCpu) cpu += last - (firstCpu.get(p) ?? 0);
      return {
        peakRssBytes: peak,
        peakRssSingleBytes: peakSingle,
        cpuSeconds: cpu,
        wallSeconds: Number(process.hrtime.bigint() - t0) / 1e9,
        samples,
        pids: [...lastCpu.keys()],
      };
    },
  };
}

/**
 * CPU seconds of a process plus those of its children it has waited for (utime + stime + cutime
 * + cstime), or null if it is gone. For a forking server (sshd) this counts session processes
 * too short-lived for a sampler to see, once they were reaped.
 */
export function readCpuWithReapedSeconds(pid: number): number | null {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clockTicks() : null;
}

/**
 * Counts the CPU a server's process tree spends between start and stop(): for every process of
 * the tree, its own time and that of its descendants reaped in between (stop() first waits, up to
 * `settleMs`, for the root's children that appeared during the run to exit, so that their time is
 * included). Long-lived children (Sluice's SFTP worker processes) count with their own time.
 */
export function cpuMeter(rootPid: number, settleMs = 5000): { stop(): Promise<number> } {
  const treeCpu = () => processTree(rootPid).reduce((sum, p) => sum + (readCpuWithReapedSeconds(p) ?? 0), 0);
  const before = treeCpu();
  const initial = new Set(processTree(rootPid));
  return {
    async stop() {
      const until = Date.now() + settleMs;
      while (Date.now() < until && processTree(rootPid).some((p) => !initial.has(p))) await sleep(50);
      return treeCpu() - before;
    },
  };
}
