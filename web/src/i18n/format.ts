/** Dates, numbers and sizes in the user's locale (Intl), never hand-formatted. */
import { locale } from './index';

export const formatNumber = (n: number): string => new Intl.NumberFormat(locale()).format(n);

const UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/** A size in bytes as people read it (decimal units: 1 MB = 1,000,000 bytes), e.g. "1,5 MB". */
export function formatSize(bytes: number): string {
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return new Intl.NumberFormat(locale(), { style: 'unit', unit: UNITS[i], unitDisplay: 'short', maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
}

/** A point in time (ISO string or ms since the epoch): date and time, in the browser's time zone. */
export function formatDateTime(t: string | number): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** A fraction 0..1 as a percentage. */
export const formatPercent = (f: number): string => new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 0 }).format(f);
