/**
 * Who is acting. A Principal can only be created by the core's authentication code (mintPrincipal
 * is not exported from the core's public face); every core operation takes one.
 */
export type Role = 'partner' | 'staff' | 'admin';
export const ROLES: readonly Role[] = ['partner', 'staff', 'admin'];
export type Protocol = 'http' | 'web' | 'sftp' | 'cli' | 'system';

/** Where a request comes from; supplied by the front end, recorded in the ledger. */
export interface RequestContext {
  readonly protocol: Protocol;
  readonly remoteAddr?: string | undefined;
  /** Client software (SFTP version string, HTTP user agent), truncated. */
  readonly client?: string | undefined;
}

declare const principalBrand: unique symbol;

export interface PrincipalData {
  readonly kind: 'user' | 'system';
  readonly userId: string | null;
  readonly login: string;
  readonly orgId: string | null;
  readonly role: Role;
  readonly protocol: Protocol;
  readonly remoteAddr: string | null;
  readonly client: string | null;
  /** How the principal authenticated: password, token, session, publickey, system. */
  readonly method: string;
  readonly tokenId: string | null;
  /** The public id of the web session this principal came from (method 'session'). */
  readonly sessionId?: string | null;
  /** The SSH key this principal signed in with (method 'publickey'). */
  readonly keyId?: string | null;
}

export type Principal = PrincipalData & { readonly [principalBrand]: true };

/** Each minted principal and when its credential was last found valid (Date.now()). */
const minted = new WeakMap<object, number>();

/** MUST only be called by core/auth after the credential was verified (which counts as its first validity check). */
export function mintPrincipal(data: PrincipalData): Principal {
  const p = Object.freeze({ ...data }) as Principal;
  minted.set(p, Date.now());
  return p;
}

/** When the principal was last found valid (auth/validity.ts); undefined for one not minted here. */
export const validAt = (p: Principal): number | undefined => minted.get(p);
/** Records that the principal was found valid just now (auth/validity.ts only). */
export function markValid(p: Principal, at: number): void {
  if (minted.has(p)) minted.set(p, at);
}

/**
 * True only for principals created by mintPrincipal in this process. The brand makes forging a
 * Principal a type error; this check makes it a runtime error too (e.g. a plain object cast).
 */
export function isMinted(p: unknown): p is Principal {
  return typeof p === 'object' && p !== null && minted.has(p);
}

export const isAdmin = (p: Principal) => p.kind === 'system' || p.role === 'admin';
