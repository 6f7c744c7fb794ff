/**
 * How incident outputs speak to their reader: times in the configured time zone with the zone
 * named, numbers and sizes in the reader's language (German: 1.234,5 MiB), lists that were cut
 * saying so. One place, so the drafts, the report and the tables agree.
 */
export type Lang = 'de' | 'en';

export interface ReaderFormat {
  readonly lang: Lang;
  readonly timeZone: string;
  /** A date and time in the zone, with the zone's short name (MEZ, CET, UTC). */
  time(t: string | number): string;
  /** ISO 8601 with the zone's offset, for machine-readable cells: 2026-12-07T23:15:02+01:00. */
  isoLocal(t: string | number): string;
  number(n: number): string;
  size(bytes: number): string;
  /** "… and 12 more (list cut at 50)" in the reader's language. */
  cut(shown: number, total: number): string;
}

const LOCALE: Record<Lang, string> = { de: 'de-DE', en: 'en-GB' };

/** Throws RangeError for a zone that Intl does not know (config validates it first). */
export function readerFormat(lang: Lang, timeZone = 'UTC'): ReaderFormat {
  const locale = LOCALE[lang];
  const dt = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'medium', timeStyle: 'long' });
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  });
  const num = new Intl.NumberFormat(locale);
  const dec = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const date = (t: string | number) => new Date(typeof t === 'number' ? t : Date.parse(t));
  return {
    lang,
    timeZone,
    time: (t) => (Number.isFinite(date(t).getTime()) ? dt.format(date(t)) : String(t)),
    isoLocal(t) {
      const d = date(t);
      if (!Number.isFinite(d.getTime())) return String(t);
      const p = Object.fromEntries(parts.formatToParts(d).map((x) => [x.type, x.value]));
      const off = (p.timeZoneName ?? 'GMT').replace(/^GMT$/, 'GMT+00:00').replace('GMT', '');
      return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${off === '+00:00' ? 'Z' : off}`;
    },
    number: (n) => num.format(n),
    size: (b) => (b < 1024 ? `${num.format(b)} B` : b < 1048576 ? `${dec.format(b / 1024)} KiB` : `${dec.format(b / 1048576)} MiB`),
    cut: (shown, total) =>
      lang === 'de'
        ? `… und ${num.format(total - shown)} weitere (Liste nach ${num.format(shown)} Einträgen gekürzt)`
        : `… and ${num.format(total - shown)} more (list cut at ${num.format(shown)} entries)`,
  };
}
