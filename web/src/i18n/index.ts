/**
 * Languages: German and English. German when the browser asks for it first (navigator.languages,
 * which follows Accept-Language), English otherwise; the choice made in the app is kept in
 * localStorage. Every string people see comes from a catalogue: messages.en.ts / messages.de.ts
 * here, and further pairs an area of the app adds with addMessages() (e.g. web/src/console/).
 * test/web/i18n.test.ts fails when a key is missing in either language or a t('…') key in the
 * sources has no entry.
 *
 * Messages may hold {name} placeholders; plurals are keys ending in .one / .other (Intl.PluralRules).
 */
import { en } from './messages.en';
import { de } from './messages.de';

export type Lang = 'de' | 'en';
export const LANGS: readonly Lang[] = ['de', 'en'];
export type Catalogue = Readonly<Record<string, string>>;

const catalogues: Record<Lang, Record<string, string>> = { en: { ...en }, de: { ...de } };
const STORE_KEY = 'sluice.lang';

/** Adds the messages of an area of the app (both languages, the same keys). */
export function addMessages(m: { readonly en: Catalogue; readonly de: Catalogue }): void {
  Object.assign(catalogues.en, m.en);
  Object.assign(catalogues.de, m.de);
}

function stored(): Lang | undefined {
  try {
    const v = localStorage.getItem(STORE_KEY);
    return v === 'de' || v === 'en' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The language the browser asks for first among ours. */
export function browserLang(languages: readonly string[] = navigator.languages?.length ? navigator.languages : [navigator.language]): Lang {
  for (const l of languages) {
    const p = l.toLowerCase().slice(0, 2);
    if (p === 'de' || p === 'en') return p;
  }
  return 'en';
}

let lang: Lang = stored() ?? browserLang();
const listeners = new Set<() => void>();

export const currentLang = (): Lang => lang;

/** The BCP 47 locale for Intl: the browser's own variant of the language when it has one (de-AT, en-GB). */
export function locale(): string {
  const own = (navigator.languages ?? []).find((l) => l.toLowerCase().slice(0, 2) === lang);
  return own ?? (lang === 'de' ? 'de-DE' : 'en-GB');
}

export function setLang(l: Lang): void {
  lang = l;
  try {
    localStorage.setItem(STORE_KEY, l);
  } catch {}
  document.documentElement.lang = l;
  for (const f of listeners) f();
}

export function onLangChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export type Vars = Readonly<Record<string, string | number>>;

function fill(msg: string, vars: Vars | undefined): string {
  if (!vars) return msg;
  return msg.replace(/\{(\w+)\}/g, (m, k: string) => {
    const v = vars[k];
    return v === undefined ? m : typeof v === 'number' ? new Intl.NumberFormat(locale()).format(v) : v;
  });
}

/** The message `key` in the current language (English when a key is missing; the key itself as the last resort). */
export function t(key: string, vars?: Vars): string {
  const msg = catalogues[lang][key] ?? catalogues.en[key];
  if (msg === undefined) {
    console.warn(`missing message: ${key}`);
    return key;
  }
  return fill(msg, vars);
}

/** A counted message: `${key}.one` or `${key}.other` by the language's plural rules; {n} is the count. */
export function tn(key: string, n: number, vars?: Vars): string {
  const rule = new Intl.PluralRules(locale()).select(n);
  const k = `${key}.${rule}` in catalogues.en ? `${key}.${rule}` : `${key}.other`;
  return t(k, { n, ...vars });
}

/** Whether a message exists (for optional, code-derived keys such as error codes). */
export const hasMessage = (key: string): boolean => key in catalogues.en;
