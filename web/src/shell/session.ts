/** Who is signed in. `ended` says why the app went back to the sign-in screen. */
import { get, post, whenUnauthenticated } from '../api/client';
import type { User } from '../api/types';
import { navigate } from './router';
import { store } from './store';

export type SessionState =
  | { readonly kind: 'loading' }
  | { readonly kind: 'signedOut'; readonly notice?: 'expired' | 'signedOut' | 'refused' | undefined }
  | { readonly kind: 'signedIn'; readonly user: User };

export const session = store<SessionState>({ kind: 'loading' });

whenUnauthenticated(() => {
  if (session.get().kind === 'signedIn') session.set({ kind: 'signedOut', notice: 'expired' });
});

export async function loadSession(notice?: 'refused'): Promise<void> {
  try {
    const me = await get<{ user: User }>('/api/v1/auth/me', { quiet401: true });
    session.set({ kind: 'signedIn', user: me.user });
  } catch {
    session.set({ kind: 'signedOut', notice });
  }
}

export function signedIn(user: User): void {
  session.set({ kind: 'signedIn', user });
}

export async function signOut(everywhere = false): Promise<void> {
  try {
    await post(everywhere ? '/api/v1/auth/logout-everywhere' : '/api/v1/auth/logout');
  } finally {
    signedOutHere();
  }
}

/** This browser was signed out on purpose: back to the start, so the next sign-in begins there. */
export function signedOutHere(): void {
  navigate('/', { replace: true });
  session.set({ kind: 'signedOut', notice: 'signedOut' });
}
