/**
 * A real OpenID provider for tests (oidc-provider 9) on loopback. Interactions are answered by the
 * test itself: the login prompt signs in `op.account` (set by the test), the consent prompt grants
 * what was asked. Accounts and their claims are in `op.accounts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// oidc-provider ships no types.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import Provider from 'oidc-provider';

export interface TestOp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Who the login prompt signs in next. */
  account: string;
  readonly accounts: Record<string, Record<string, unknown>>;
  close(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access */
export async function startOp(redirectUri: string): Promise<TestOp> {
  const ref: { provider?: any } = {};
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      void (async () => {
        try {
          const provider = ref.provider;
          const d = await provider.interactionDetails(req, res);
          let result: Record<string, unknown>;
          if (d.prompt.name === 'login') result = { login: { accountId: op.account } };
          else {
            const grant = d.grantId
              ? await provider.Grant.find(d.grantId)
              : new provider.Grant({ accountId: d.session.accountId, clientId: d.params.client_id });
            grant.addOIDCScope(String(d.params.scope));
            result = { consent: { grantId: await grant.save() } };
          }
          await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
        } catch (e) {
          res.statusCode = 500;
          res.end(String(e));
        }
      })();
      return;
    }
    ref.provider.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const op: TestOp = {
    issuer,
    clientId: 'sluice',
    clientSecret: 'a-test-client-secret-of-some-length',
    account: '',
    accounts: {},
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: op.clientId,
        client_secret: op.clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    findAccount: (_ctx: unknown, id: string) => (op.accounts[id] ? { accountId: id, claims: () => ({ sub: id, ...op.accounts[id] }) } : undefined),
    // groups travel with the profile scope, in userinfo only (the relying party must fetch it).
    claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'groups'], email: ['email', 'email_verified'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    pkce: { required: () => true },
  });
  provider.on('server_error', () => {});
  ref.provider = provider;
  return op;
}
