/**
 * OpenID Connect relying party with openid-client 6: authorization code flow with PKCE (S256),
 * state and nonce. Discovery runs at first use and is retried after a failure. Plain-HTTP issuers
 * are accepted only on loopback (tests, a provider on the same machine).
 */
import * as client from 'openid-client';
import type { OidcPort } from '../ports/oidc.js';
import { isLoopbackHost } from '../config/units.js';

export interface OidcClientOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly redirectUri: string;
  readonly roleClaim: string;
  readonly scope?: string;
}

export function createOidcClient(o: OidcClientOptions): OidcPort {
  let config: Promise<client.Configuration> | undefined;
  const configuration = () => {
    if (!config) {
      const url = new URL(o.issuer);
      const insecure = url.protocol === 'http:' && isLoopbackHost(url.hostname);
      config = client
        .discovery(
          url,
          o.clientId,
          o.clientSecret ? { client_secret: o.clientSecret } : { token_endpoint_auth_method: 'none' },
          o.clientSecret ? client.ClientSecretPost(o.clientSecret) : client.None(),
          insecure ? { execute: [client.allowInsecureRequests] } : undefined,
        )
        .catch((e: unknown) => {
          config = undefined;
          throw e;
        });
    }
    return config;
  };
  return {
    issuer: o.issuer,
    async begin() {
      const c = await configuration();
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(c, {
        redirect_uri: o.redirectUri,
        scope: o.scope ?? 'openid profile email',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url: url.href, state, nonce, verifier };
    },
    async complete(callbackUrl, checks) {
      const c = await configuration();
      const tokens = await client.authorizationCodeGrant(c, new URL(callbackUrl), {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw new Error('no ID token');
      let claims: Record<string, unknown> = { ...idClaims };
      if (claims[o.roleClaim] === undefined) {
        const info = await client.fetchUserInfo(c, tokens.access_token, idClaims.sub);
        claims = { ...info, ...claims };
      }
      return { issuer: idClaims.iss, subject: idClaims.sub, claims };
    },
  };
}
