/**
 * TOTP (RFC 6238) for two-factor sign-in: SHA-1, 6 digits, 30-second steps, one step of clock
 * drift either way — what every authenticator app does by default. The code arithmetic is the
 * otpauth library's; this module adds the secret's protection at rest and the step bookkeeping.
 *
 * Contract:
 * - newTotpSecret() returns 160 random bits (RFC 4226 §4 recommends 160).
 * - sealTotpSecret() encrypts a secret with AES-256-GCM under a key derived (HKDF-SHA256) from the
 *   current key-encryption key, with the user id in the associated data. The stored text names
 *   the KEK id, so keys can rotate; it never contains the secret in any encoding. A sealed secret
 *   copied to another user's row, or altered in any byte, does not open (openTotpSecret returns
 *   undefined).
 * - checkTotp() accepts a code only for a time step strictly greater than `lastStep` (the last
 *   accepted one), so every code works once; it tells "replayed" apart only for the ledger.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Kek, Keyring } from '../../ports/keyring.js';

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
export const TOTP_WINDOW = 1;
export const TOTP_ISSUER = 'Sluice';
const SECRET_BYTES = 20;
const VERSION = 'v1';
const NONCE = 12;
const TAG = 16;

export const newTotpSecret = (): Buffer => randomBytes(SECRET_BYTES);

export const base32Of = (secret: Buffer): string => new Secret({ buffer: toArrayBuffer(secret) }).base32;

/** The otpauth:// URI authenticator apps read (usually from a QR code). */
export function totpUri(secret: Buffer, login: string): string {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: login,
    secret: new Secret({ buffer: toArrayBuffer(secret) }),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_S,
  }).toString();
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(b.length);
  new Uint8Array(out).set(b);
  return out;
}

/** A key used only for TOTP secrets, so these ciphertexts and blob key wrapping never share a key. */
const subkey = (kek: Kek) => Buffer.from(hkdfSync('sha256', kek.key, Buffer.alloc(0), 'sluice totp-secret v1', 32));
const aad = (userId: string) => Buffer.from(`sluice totp-secret v1\0${userId}`, 'utf8');

/** "v1.<kek id>.<base64url(nonce ‖ ciphertext ‖ tag)>" */
export function sealTotpSecret(keyring: Keyring, userId: string, secret: Buffer): string {
  const kek = keyring.current();
  const nonce = randomBytes(NONCE);
  const c = createCipheriv('aes-256-gcm', subkey(kek), nonce);
  c.setAAD(aad(userId));
  const body = Buffer.concat([nonce, c.update(secret), c.final(), c.getAuthTag()]);
  return `${VERSION}.${kek.id}.${body.toString('base64url')}`;
}

/** The secret, or undefined when the text is malformed, its KEK unknown, or it belongs to another user. */
export function openTotpSecret(keyring: Keyring, userId: string, sealed: string): Buffer | undefined {
  const parts = sealed.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
  const kek = keyring.get(parts[1]!);
  if (!kek) return undefined;
  const body = Buffer.from(parts[2]!, 'base64url');
  if (body.length !== NONCE + SECRET_BYTES + TAG) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', subkey(kek), body.subarray(0, NONCE));
    d.setAAD(aad(userId));
    d.setAuthTag(body.subarray(body.length - TAG));
    return Buffer.concat([d.update(body.subarray(NONCE, body.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}

export type TotpCheck =
  { readonly ok: true; readonly step: number } | { readonly ok: false; readonly reason: 'malformed code' | 'wrong code' | 'replayed code' };

/** Normalises what a person types ("123 456", " 123456 ") to six digits, or undefined. */
export function normaliseCode(code: unknown): string | undefined {
  if (typeof code !== 'string' || code.length > 16) return undefined;
  const c = code.replace(/[\s-]/g, '');
  return /^[0-9]{6}$/.test(c) ? c : undefined;
}

/** Checks a code at `nowMs` against the secret, refusing steps at or before `lastStep`. */
export function checkTotp(secret: Buffer, code: unknown, nowMs: number, lastStep: number | null): TotpCheck {
  const token = normaliseCode(code);
  if (!token) return { ok: false, reason: 'malformed code' };
  const delta = TOTP.validate({
    token,
    secret: new Secret({ buffer: toArrayBuffer(secret) }),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_S,
    timestamp: nowMs,
    window: TOTP_WINDOW,
  });
  if (delta === null) return { ok: false, reason: 'wrong code' };
  const step = Math.floor(nowMs / 1000 / TOTP_PERIOD_S) + delta;
  if (lastStep !== null && step <= lastStep) return { ok: false, reason: 'replayed code' };
  return { ok: true, step };
}

/**
 * Recovery codes (for a lost phone): RECOVERY_CODES codes of 10 base32 characters (50 random
 * bits each), shown once as "xxxxx-xxxxx". Only hashes are stored: SHA-256 over the user id and
 * the normalised code, so a hash list copied to another user matches nothing.
 */
export const RECOVERY_CODES = 10;
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function newRecoveryCodes(): string[] {
  const out: string[] = [];
  for (let i = 0; i < RECOVERY_CODES; i++) {
    const b = randomBytes(10);
    let s = '';
    for (const x of b) s += RECOVERY_ALPHABET[x & 31];
    out.push(`${s.slice(0, 5)}-${s.slice(5)}`);
  }
  return out;
}

/** The normalised recovery code ("ABCDE-fghij" → "abcdefghij"), or undefined if it is not one. */
export function normaliseRecoveryCode(code: unknown): string | undefined {
  if (typeof code !== 'string' || code.length > 32) return undefined;
  const c = code.replace(/[\s-]/g, '').toLowerCase();
  return /^[a-z2-7]{10}$/.test(c) ? c : undefined;
}

export const recoveryHash = (userId: string, normalised: string): string =>
  createHash('sha256').update(`sluice recovery v1\0${userId}\0${normalised}`).digest('hex');
