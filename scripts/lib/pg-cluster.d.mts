// Types for pg-cluster.mjs (used from TypeScript by the benchmarks).
export class ClusterError extends Error {}
export function findPgBin(): string | undefined;
export interface PgClusterOptions {
  log?: (msg: string) => void;
  label?: string;
  /** postgresql.conf settings, values as written in the file (quote strings: "'1GB'"). */
  settings?: Record<string, string>;
  checkInterrupted?: () => void;
  runForeground?: (cmd: string, args: string[], opts: object) => Promise<number>;
}
export interface PgCluster {
  start(): Promise<string>;
  stopSync(): void;
  readonly dir: string | undefined;
}
export function pgCluster(opts?: PgClusterOptions): PgCluster;
