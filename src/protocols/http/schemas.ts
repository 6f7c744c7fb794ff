/**
 * Shared TypeBox schemas. Every request body is a closed object (additionalProperties: false) and
 * Ajv runs without type coercion and without removing extra properties, so `"false"` is not a
 * boolean, `{"path": ["a", "../x"]}` is not a path and an unknown key is an error. The core
 * validates again; these schemas also document the API (OpenAPI).
 */
import { Type, type TSchema } from '@fastify/type-provider-typebox';

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable error code, e.g. NOT_FOUND, INVALID_PATH, PERMISSION_DENIED' }),
      message: Type.String(),
      details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    }),
  },
  { $id: 'Error', description: 'Every error has this shape' },
);

/** Error responses for the documentation; added to every route's schema. */
export const errorResponses = {
  '4xx': Type.Ref('Error'),
  '5xx': Type.Ref('Error'),
} as const;

/** A JSON-safe string with a bound on its length (paths are judged by the core). */
export const Str = (maxLength: number, description?: string) => Type.String({ maxLength, ...(description ? { description } : {}) });

export const PathString = Str(4096, 'virtual path, e.g. /acme/inbox/report.csv');

/** A value or null. */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
/** A time in ISO 8601 (UTC). */
export const Timestamp = Type.String({ format: 'date-time' });

/** One ledger event as the API shows it (admin events list, console ledger search). */
export const LedgerEventSchema = Type.Object({
  seq: Type.Integer(),
  time: Timestamp,
  actorType: Type.String(),
  actorId: Nullable(Type.String()),
  login: Nullable(Type.String()),
  orgId: Nullable(Type.String()),
  protocol: Type.String(),
  remoteAddr: Nullable(Type.String()),
  action: Type.String(),
  path: Nullable(Type.String()),
  fileId: Nullable(Type.String()),
  sha256: Nullable(Type.String()),
  bytes: Nullable(Type.Integer()),
  outcome: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
  hash: Type.String(),
});

export const EntrySchema = Type.Object(
  {
    name: Type.String(),
    path: Type.String(),
    type: Type.Union([Type.Literal('file'), Type.Literal('folder')]),
    size: Type.Integer({ minimum: 0 }),
    sha256: Type.Union([Type.String(), Type.Null()]),
    modified: Type.String({ format: 'date-time' }),
  },
  { $id: 'Entry' },
);

export const ListSchema = Type.Object({
  path: Type.String(),
  entries: Type.Array(
    Type.Object({
      name: Type.String(),
      type: Type.Union([Type.Literal('file'), Type.Literal('folder')]),
      size: Type.Integer({ minimum: 0 }),
      sha256: Type.Union([Type.String(), Type.Null()]),
      modified: Type.String({ format: 'date-time' }),
    }),
  ),
  next: Type.Optional(Type.String({ description: 'cursor of the next page; absent on the last page' })),
});

export const UploadResultSchema = Type.Object({
  path: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  sha256: Type.String(),
});

export const UserSummarySchema = Type.Object({
  login: Type.String(),
  role: Type.String(),
  org: Type.Union([Type.String(), Type.Null()]),
});

/** Whole-number query parameters arrive as strings (no coercion): digits only. */
export const DigitsQuery = (description: string) => Type.String({ pattern: '^[0-9]{1,9}$', description });

/** Attaches the documented error responses to a route's response map. */
export function withErrors<T extends Record<string, TSchema>>(responses: T): T & typeof errorResponses {
  return { ...responses, ...errorResponses };
}

// --- two-factor sign-in (own: /api/v1/me/mfa; administrators: /api/v1/admin/users/:login/mfa) ---
export const MfaStatusSchema = Type.Object({
  login: Type.String(),
  state: Type.Union([Type.Literal('off'), Type.Literal('pending'), Type.Literal('active')]),
  changedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  recoveryCodes: Type.Integer({ minimum: 0, description: 'unused recovery codes' }),
});
export const MfaEnrolmentSchema = Type.Object({
  login: Type.String(),
  state: Type.Literal('pending'),
  changedAt: Type.String({ format: 'date-time' }),
  recoveryCodes: Type.Integer({ minimum: 0 }),
  secret: Type.String({ description: 'the secret in base32 (shown once)' }),
  uri: Type.String({ description: 'otpauth:// URI for a QR code (shown once)' }),
});
export const MfaRecoveryCodesSchema = Type.Object({ login: Type.String(), codes: Type.Array(Type.String()) });
export const MfaCodeBody = Type.Object({ code: Str(16, 'the current 6-digit code') }, { additionalProperties: false });

const isoOrNull = (t: number | null) => (t === null ? null : new Date(t).toISOString());
export const mfaStatusOut = (s: { login: string; state: 'off' | 'pending' | 'active'; changedAt: number | null; recoveryCodes: number }) => ({
  login: s.login,
  state: s.state,
  changedAt: isoOrNull(s.changedAt),
  recoveryCodes: s.recoveryCodes,
});
export const mfaEnrolmentOut = (e: { login: string; changedAt: number | null; secret: string; uri: string }) => ({
  login: e.login,
  state: 'pending' as const,
  changedAt: new Date(e.changedAt ?? Date.now()).toISOString(),
  recoveryCodes: 0,
  secret: e.secret,
  uri: e.uri,
});
