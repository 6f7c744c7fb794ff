/** Output helpers: aligned tables for people, JSON for scripts, one-line errors on stderr. */
import { CoreError } from '../core/errors.js';

export function table(rows: readonly object[], columns: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v)).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell((r as Record<string, unknown>)[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell((r as Record<string, unknown>)[c]))))].join('\n');
}

export function print(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(data, null, 2) : human()) + '\n');
}

export const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** One line on stderr, never a stack trace; exit code 1 (2 for usage errors). */
export function fail(e: unknown): never {
  const msg = e instanceof CoreError ? e.message : e instanceof Error ? e.message : String(e);
  process.stderr.write(`sluice: ${msg.split('\n').join('\n  ')}\n`);
  if (process.env.SLUICE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n${(e as { cause?: unknown }).cause ?? ''}\n`);
  process.exit(e instanceof CoreError && e.code === 'INVALID_INPUT' ? 2 : 1);
}
