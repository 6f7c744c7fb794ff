/** An OpenID Connect provider as the core sees it (adapters/oidc.ts implements it with openid-client). */
export interface OidcChecks {
  readonly state: string;
  readonly nonce: string;
  /** PKCE code verifier. */
  readonly verifier: string;
}

export interface OidcBegin extends OidcChecks {
  /** Where to send the browser. */
  readonly url: string;
}

export interface OidcIdentity {
  readonly issuer: string;
  readonly subject: string;
  /** ID token claims, completed from the userinfo endpoint when the role claim is not in the ID token. */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface OidcPort {
  readonly issuer: string;
  begin(): Promise<OidcBegin>;
  /** Exchanges the code of `callbackUrl` (state, nonce and PKCE checked); throws when anything is off. */
  complete(callbackUrl: string, checks: OidcChecks): Promise<OidcIdentity>;
}
