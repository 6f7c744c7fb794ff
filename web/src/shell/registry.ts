/**
 * The screens of the app. Each area registers its own in a `screens.ts` of its folder
 * (web/src/partner/screens.ts, web/src/console/screens.ts, …), which main.tsx picks up by itself:
 * an area adds screens without touching the shell.
 *
 *   registerScreen({ path: '/console/users', title: 'console.users.title', nav: { group: 'console', order: 10 },
 *                    roles: ['admin'], load: () => import('./users') });
 *
 * `load` is a dynamic import, so each screen is its own chunk, loaded when first opened (the
 * partner bundle does not carry the console). `path` matches the URL path exactly or as a prefix
 * followed by "/" (a screen reads the rest from useRoute()).
 */
import type { ComponentType } from 'preact';
import type { User } from '../api/types';

export interface ScreenProps {
  readonly user: User;
}

export interface ScreenDef {
  /** URL path, e.g. '/files'; unique. */
  readonly path: string;
  /** Message key of the screen's title (navigation, document title). */
  readonly title: string;
  /** Roles that see it; every signed-in user when absent. */
  readonly roles?: readonly string[];
  /** In the navigation: its group and place; not listed when absent. */
  readonly nav?: { readonly group: 'main' | 'console' | 'account'; readonly order: number };
  readonly load: () => Promise<{ default: ComponentType<ScreenProps> }>;
}

const screens: ScreenDef[] = [];

export function registerScreen(s: ScreenDef): void {
  if (screens.some((x) => x.path === s.path)) throw new Error(`screen registered twice: ${s.path}`);
  screens.push(s);
}

export const allowed = (s: ScreenDef, user: User): boolean => !s.roles || s.roles.includes(user.role);

/** The screens a user may open, in navigation order. */
export function screensFor(user: User): ScreenDef[] {
  return screens.filter((s) => allowed(s, user)).sort((a, b) => (a.nav?.order ?? 1e9) - (b.nav?.order ?? 1e9));
}

/** The screen for a URL path (the longest registered path that matches). */
export function screenAt(pathname: string, user: User): ScreenDef | undefined {
  let best: ScreenDef | undefined;
  for (const s of screensFor(user)) {
    if (pathname === s.path || pathname.startsWith(`${s.path}/`)) {
      if (!best || s.path.length > best.path.length) best = s;
    }
  }
  return best;
}

/** Where a user lands after sign-in: the first screen in the main navigation. */
export function homeFor(user: User): string {
  return screensFor(user).find((s) => s.nav?.group === 'main')?.path ?? screensFor(user)[0]?.path ?? '/';
}
