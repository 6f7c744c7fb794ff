/** Passkey ceremonies through @simplewebauthn/browser against the REST API. */
import {
  browserSupportsWebAuthn,
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import { post } from '../api/client';
import type { Ceremony, PasskeyInfo, User } from '../api/types';

export const passkeysSupported = (): boolean => browserSupportsWebAuthn();

/** A sign-in with a passkey: without a password (`second` absent) or as the step after it. */
export async function passkeySignIn(second?: { login: string; password: string }): Promise<User> {
  const c = second
    ? await post<Ceremony<PublicKeyCredentialRequestOptionsJSON>>('/api/v1/auth/passkey/second-options', second, { quiet401: true })
    : await post<Ceremony<PublicKeyCredentialRequestOptionsJSON>>('/api/v1/auth/passkey/options', undefined, { quiet401: true });
  const response = await startAuthentication({ optionsJSON: c.options });
  const r = await post<{ user: User }>('/api/v1/auth/passkey', { ceremonyId: c.ceremonyId, response }, { quiet401: true });
  return r.user;
}

/** Registers a new passkey for the signed-in user. */
export async function registerPasskey(name: string | undefined): Promise<PasskeyInfo> {
  const c = await post<Ceremony<PublicKeyCredentialCreationOptionsJSON>>('/api/v1/me/passkeys/options');
  const response = await startRegistration({ optionsJSON: c.options });
  return post<PasskeyInfo>('/api/v1/me/passkeys', { ceremonyId: c.ceremonyId, response, ...(name ? { name } : {}) });
}

/** The browser's own refusal (cancelled, timed out, not allowed) as opposed to the server's. */
export const isCeremonyCancelled = (e: unknown): boolean =>
  e instanceof Error && (e.name === 'NotAllowedError' || e.name === 'AbortError' || e.name === 'InvalidStateError' || /cancel|abort/i.test(e.name));
