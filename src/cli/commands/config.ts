/** `sluice` commands: the effective configuration. */
import { print, table } from '../output.js';
import { jsonOpt, type Cli, type J } from '../context.js';

const UNITS: [number, string][] = [
  [1024 ** 4, 'T'],
  [1024 ** 3, 'G'],
  [1024 ** 2, 'M'],
  [1024, 'K'],
];
const SPANS: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1000, 's'],
];
/** 5368709120 → 5G, 90000 → 90s: the largest unit that divides the value, as the settings are written. */
const unit = (n: number, units: [number, string][], base: string) => {
  for (const [size, name] of units) if (n >= size && n % size === 0) return `${n / size}${name}`;
  return `${n}${base}`;
};
const isSize = (key: string) => /Bytes$|Size$/.test(key);
const isDuration = (key: string) => /Timeout$|Ttl$|Idle$|Grace$|Interval$|Window$|Duration$|^sessionMax$/.test(key);

const shown = (key: string, v: unknown): string => {
  if (v === undefined) return '(unset)';
  if (typeof v === 'number' && isSize(key)) return unit(v, UNITS, '');
  if (typeof v === 'number' && isDuration(key)) return v === 0 ? '0 (none)' : unit(v, SPANS, 'ms');
  if (v && typeof v === 'object' && 'host' in v && 'port' in v) return `${String(v.host)}:${String(v.port)}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
};

export function registerConfigCommands(cli: Cli): void {
  const config = cli.program.command('config').description('the configuration this instance runs with');
  config
    .command('show')
    .description('print every setting with its effective value and where it came from (default, file, environment, option); secrets masked')
    .addOption(jsonOpt())
    .action((o: J) => {
      const rows = cli.explain();
      print(!!o.json, rows, () =>
        table(
          rows.map((r) => ({ setting: r.env, value: shown(r.key, r.value), source: r.source })),
          ['setting', 'value', 'source'],
        ),
      );
    });
}
