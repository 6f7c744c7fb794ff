/**
 * Web sign-in:
 *   POST /api/v1/auth/login  { login, password, otp? } → 200 { user: { login, role, org } } + session cookie
 *        (a user with two-factor sign-in needs `otp`; without it, and only after the password was
 *        verified, the answer is 401 MFA_REQUIRED)
 *   POST /api/v1/auth/logout → 204 (ends the session, clears the cookie)
 *   GET  /api/v1/auth/me     → 200 { user: { login, role, org }, method }
 *   GET/POST/DELETE /api/v1/me/mfa, POST /api/v1/me/mfa/confirm, POST /api/v1/me/mfa/recovery-codes
 *        → one's own two-factor sign-in
 *        (changes need a web session; turning it off needs a current code)
 *
 * The cookie is HttpOnly, SameSite=Strict, Path=/, and Secure with the __Host- prefix whenever
 * the browser talks HTTPS (TLS here or at a proxy). A new session id is issued at every login,
 * so a value planted before login never becomes a session (fixation).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf, requestContext, sameOrigin, type CookieSettings } from './auth.js';
import {
  MfaCodeBody as CodeBody,
  MfaEnrolmentSchema,
  MfaStatusSchema,
  mfaEnrolmentOut,
  mfaStatusOut as statusOut,
  Str,
  UserSummarySchema,
  withErrors,
} from './schemas.js';

export interface AuthRouteDeps {
  readonly core: Core;
  readonly cookie: CookieSettings;
  readonly publicUrl: string | undefined;
}

export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  const { core, cookie } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  const clear = (reply: FastifyReply) => reply.clearCookie(cookie.name, { path: '/', httpOnly: true, sameSite: 'strict', secure: cookie.secure });

  r.route({
    method: 'POST',
    url: '/api/v1/auth/login',
    config: { auth: 'none' },
    schema: {
      summary: 'Sign in (web app): sets the session cookie',
      description:
        'Wrong login, wrong password, wrong verification code, disabled, expired or locked-out users all answer the same 401 UNAUTHENTICATED. ' +
        'A user with two-factor sign-in needs `otp` (the 6-digit code of the authenticator app); when it is missing, and only when the password ' +
        'was right, the answer is 401 with code MFA_REQUIRED: ask for the code and send login, password and otp again.',
      tags: ['auth'],
      security: [],
      body: Type.Object(
        { login: Str(256), password: Str(1024), otp: Type.Optional(Str(16, 'TOTP code, for users with two-factor sign-in')) },
        { additionalProperties: false },
      ),
      response: withErrors({ 200: Type.Object({ user: UserSummarySchema }) }),
    },
    handler: async (request, reply) => {
      // Login CSRF: a browser on another site must not sign the victim into our site.
      if (request.headers.origin !== undefined && !sameOrigin(request, deps.publicUrl)) {
        throw new CoreError('PERMISSION_DENIED', 'cross-site sign-in refused');
      }
      const p = await core.auth.password(request.body.login, request.body.password, requestContext(request, 'web'), { otp: request.body.otp });
      const s = await core.auth.startSession(p);
      reply.setCookie(cookie.name, s.sessionId, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: cookie.secure,
        expires: new Date(s.expiresAt),
      });
      return { user: await core.account.me(p) };
    },
  });

  r.route({
    method: 'POST',
    url: '/api/v1/auth/logout',
    config: { auth: 'optional' },
    schema: {
      summary: 'Sign out: ends the session and clears the cookie',
      tags: ['auth'],
      response: withErrors({ 204: Type.Null() }),
    },
    handler: async (request, reply) => {
      const sid = request.cookies[cookie.name];
      if (request.principal && request.principal.method === 'session' && sid !== undefined) {
        await core.auth.endSession(sid, request.principal);
      }
      clear(reply);
      return reply.code(204).send(null);
    },
  });

  r.route({
    method: 'GET',
    url: '/api/v1/auth/me',
    schema: {
      summary: 'Who am I',
      tags: ['auth'],
      response: withErrors({ 200: Type.Object({ user: UserSummarySchema, method: Type.String({ description: 'token or session' }) }) }),
    },
    handler: async (request) => {
      const p = principalOf(request);
      return { user: await core.account.me(p), method: p.method };
    },
  });

  r.route({
    method: 'GET',
    url: '/api/v1/me/mfa',
    schema: { summary: 'My two-factor sign-in: off, pending or active', tags: ['auth'], response: withErrors({ 200: MfaStatusSchema }) },
    handler: async (request) => statusOut(await core.account.mfa.status(principalOf(request))),
  });

  r.route({
    method: 'POST',
    url: '/api/v1/me/mfa',
    schema: {
      summary: 'Start two-factor enrolment: a new TOTP secret, shown once',
      description:
        'Needs a web session. Refused (409) while two-factor sign-in is active. The state is pending — sign-in is unchanged — until POST /api/v1/me/mfa/confirm with a first code. Starting again replaces a pending secret.',
      tags: ['auth'],
      response: withErrors({ 201: MfaEnrolmentSchema }),
    },
    handler: async (request, reply) => {
      const e = await core.account.mfa.start(principalOf(request));
      reply.header('cache-control', 'no-store');
      return reply.code(201).send(mfaEnrolmentOut(e));
    },
  });

  r.route({
    method: 'POST',
    url: '/api/v1/me/mfa/confirm',
    schema: {
      summary: 'Confirm two-factor enrolment with a first code: from now on sign-in needs a code',
      description: 'Needs a web session. A wrong code answers 400 INVALID_INPUT and leaves the enrolment pending.',
      tags: ['auth'],
      body: CodeBody,
      response: withErrors({ 200: MfaStatusSchema }),
    },
    handler: async (request) => statusOut(await core.account.mfa.confirm(principalOf(request), request.body.code)),
  });

  r.route({
    method: 'POST',
    url: '/api/v1/me/mfa/recovery-codes',
    schema: {
      summary: 'New recovery codes (shown once; unused older ones stop working)',
      description:
        'Needs a web session and active two-factor sign-in (409 otherwise). Each code works once in place of a verification code ' +
        '(login `otp`, the SFTP "Verification code:" prompt, DELETE /api/v1/me/mfa). Turning two-factor sign-in off wipes them.',
      tags: ['auth'],
      response: withErrors({ 201: Type.Object({ login: Type.String(), codes: Type.Array(Type.String()) }) }),
    },
    handler: async (request, reply) => {
      const r = await core.account.mfa.recoveryCodes(principalOf(request));
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ login: r.login, codes: [...r.codes] });
    },
  });

  r.route({
    method: 'DELETE',
    url: '/api/v1/me/mfa',
    schema: {
      summary: 'Turn two-factor sign-in off (needs a current code or a recovery code)',
      description:
        'Needs a web session and a current code in the JSON body; a wrong code counts toward the sign-in lockout. An administrator can turn it off without a code (sluice user mfa disable).',
      tags: ['auth'],
      body: CodeBody,
      response: withErrors({ 200: MfaStatusSchema }),
    },
    handler: async (request) => statusOut(await core.account.mfa.disable(principalOf(request), request.body.code)),
  });
}
