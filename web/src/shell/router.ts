/** The URL as app state: history.pushState navigation, a hook for the current location. */
import { store, useStore } from './store';

export interface Location {
  readonly path: string;
  readonly query: URLSearchParams;
}

const read = (): Location => ({ path: window.location.pathname, query: new URLSearchParams(window.location.search) });
const loc = store<Location>(read());
window.addEventListener('popstate', () => loc.set(read()));

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  loc.set(read());
}

export const useRoute = (): Location => useStore(loc);
export const currentRoute = (): Location => loc.get();

/** onClick of an in-app link: navigates without a page load (plain clicks only). */
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.currentTarget as HTMLAnchorElement;
  if (a.origin !== window.location.origin) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}
