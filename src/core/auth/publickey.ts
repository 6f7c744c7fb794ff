/**
 * Public-key sign-in (SSH "publickey", RFC 4252 §7).
 *
 * SSH asks about a key in two steps: a query without signature ("would you accept this key for
 * this user?", answered with PK_OK) and the signed request. MOVEit's CVE-2024-5806 and Go's
 * CVE-2024-45337 were servers that let the first step, or a key remembered from it, decide the
 * second. Here the steps share nothing:
 *
 * Contract:
 * - A query (no signature) MUST NOT authenticate: its answer carries no Principal and says
 *   only whether this exact key is one of this login's keys (what SSH needs for PK_OK). A key
 *   that is not is a failed sign-in and recorded as one (auth/failures.ts: repeats per address
 *   and minute are counted, not written one by one); an acceptable key writes nothing. Unknown logins, disabled or expired users are not told apart from "not this key" by
 *   the answer to a query: a disabled user's own key is "acceptable" and fails at the signature.
 * - A signed request is decided from scratch: canonical login → that user's stored key with the
 *   same algorithm and key bytes → the signature over `signedData` verified with THAT stored key →
 *   the user's and organisation's status (as for passwords). Only then is a Principal minted
 *   (method "publickey"). `signedData` is what the SSH layer reconstructed from the request itself
 *   (session id, user name, service, algorithm, key), so a signature made for another session,
 *   user or service does not verify.
 * - Every failure of a signed request answers the same UNAUTHENTICATED "invalid credentials" (a
 *   lockdown, named only once the key and signature were verified, answers LOCKED) and
 *   records an auth.login failure with method publickey, the key's fingerprint, the algorithm and
 *   the real reason; a success records the fingerprint too. The client software (ctx.client) is
 *   recorded with every event.
 * - Accepted signature algorithms: ssh-ed25519, ecdsa-sha2-nistp256/384/521, rsa-sha2-256 and
 *   rsa-sha2-512. RSA signatures with SHA-1 ("ssh-rsa") are refused. Key bytes are only ever
 *   parsed as an SSH public key blob, never resolved as a name, path or URL.
 * - A password lockout does not block key sign-in (keys cannot be guessed); disabling the user
 *   does. For a user with two-factor sign-in active, a verified signature is only the first factor:
 *   the answer is a challenge for the TOTP code (auth/mfa.ts), never a Principal, and a lockout
 *   then blocks the code.
 */
import { createHash, createPublicKey, verify, constants, type KeyObject } from 'node:crypto';
import { CoreError } from '../errors.js';
import type { Principal, RequestContext } from '../principal.js';
import { writeTx } from '../tx.js';
import { failuresOf } from './failures.js';
import type { UserRow } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { principalFor, refusal, refusedError } from './authenticate.js';
import { issueChallenge, mfaActive, type MfaChallenge } from './mfa.js';

export interface PublicKeyRequest {
  /** The user name as sent by the client. */
  readonly login: unknown;
  /**
   * The public-key algorithm name of the request: ssh-ed25519, ecdsa-sha2-nistp256/384/521,
   * rsa-sha2-256, rsa-sha2-512 (ssh-rsa, i.e. SHA-1, is refused).
   */
  readonly algorithm: string;
  /** The public key blob (SSH wire format), as sent. */
  readonly keyBlob: Uint8Array;
  /**
   * The signature, without its SSH algorithm header: the raw 64 bytes for Ed25519, the PKCS#1
   * v1.5 signature for RSA, and for ECDSA the DER (ASN.1) encoding of (r, s) — the form the ssh2
   * package hands to a server.
   */
  readonly signature?: Uint8Array | undefined;
  /** The bytes the signature covers (RFC 4252 §7): session id ‖ the request up to the key blob. */
  readonly signedData?: Uint8Array | undefined;
}

export type PublicKeyAnswer =
  /** Query only: this is one of the user's keys (send PK_OK). Nobody is signed in. */
  | { readonly kind: 'acceptable' }
  /** Query only: not a key of this user (or no such user). */
  | { readonly kind: 'unknown' }
  /** Signed request, verified: the principal. */
  | { readonly kind: 'signed-in'; readonly principal: Principal }
  /** Signed request, verified, for a user with two-factor sign-in: nobody is signed in yet; the code must follow (core.auth.secondFactor). */
  | { readonly kind: 'needs-totp'; readonly challenge: MfaChallenge };

const MAX_BLOB = 16 * 1024;
const MAX_SIGNED_DATA = 64 * 1024;

/** Signature algorithm → key type in the blob and the hash the signature uses. */
const SIG_ALGOS: Readonly<Record<string, { readonly keyType: string; readonly hash: string | null }>> = Object.freeze({
  'ssh-ed25519': { keyType: 'ssh-ed25519', hash: null },
  'ecdsa-sha2-nistp256': { keyType: 'ecdsa-sha2-nistp256', hash: 'sha256' },
  'ecdsa-sha2-nistp384': { keyType: 'ecdsa-sha2-nistp384', hash: 'sha384' },
  'ecdsa-sha2-nistp521': { keyType: 'ecdsa-sha2-nistp521', hash: 'sha512' },
  'rsa-sha2-256': { keyType: 'ssh-rsa', hash: 'sha256' },
  'rsa-sha2-512': { keyType: 'ssh-rsa', hash: 'sha512' },
});

const CURVES: Readonly<Record<string, { readonly name: string; readonly jwk: string; readonly bytes: number }>> = Object.freeze({
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwk: 'P-256', bytes: 32 },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwk: 'P-384', bytes: 48 },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwk: 'P-521', bytes: 66 },
});

const bad = () => new CoreError('UNAUTHENTICATED', 'invalid credentials');

/** SHA256 fingerprint as OpenSSH prints it (the same as admin/keys.ts stores). */
export const fingerprintOf = (blob: Uint8Array): string => 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');

function canonicalLogin(login: unknown): string | undefined {
  if (typeof login !== 'string') return undefined;
  const l = login.trim().toLowerCase();
  return /^[a-z0-9._@-]{1,64}$/.test(l) ? l : undefined;
}

/** Reads the SSH strings of a key blob; undefined when malformed or trailing bytes remain. */
function sshStrings(blob: Buffer, count: number): Buffer[] | undefined {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(off);
    if (off + 4 + len > blob.length) return undefined;
    out.push(blob.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return off === blob.length ? out : undefined;
}

const b64url = (b: Buffer) => b.toString('base64url');
const unsigned = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

/** Builds a verifying key from an SSH public key blob of type `keyType`; undefined if malformed. */
export function publicKeyFromBlob(keyType: string, blob: Buffer): KeyObject | undefined {
  try {
    if (keyType === 'ssh-ed25519') {
      const s = sshStrings(blob, 2);
      if (!s || s[0]!.toString('latin1') !== keyType || s[1]!.length !== 32) return undefined;
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(s[1]!) }, format: 'jwk' });
    }
    const curve = CURVES[keyType];
    if (curve) {
      const s = sshStrings(blob, 3);
      if (!s || s[0]!.toString('latin1') !== keyType || s[1]!.toString('latin1') !== curve.name) return undefined;
      const q = s[2]!;
      if (q.length !== 1 + 2 * curve.bytes || q[0] !== 0x04) return undefined;
      return createPublicKey({
        key: { kty: 'EC', crv: curve.jwk, x: b64url(q.subarray(1, 1 + curve.bytes)), y: b64url(q.subarray(1 + curve.bytes)) },
        format: 'jwk',
      });
    }
    if (keyType === 'ssh-rsa') {
      const s = sshStrings(blob, 3);
      if (!s || s[0]!.toString('latin1') !== keyType) return undefined;
      const n = unsigned(s[2]!);
      if (n.length * 8 < 3072 - 7) return undefined;
      return createPublicKey({ key: { kty: 'RSA', e: b64url(unsigned(s[1]!)), n: b64url(n) }, format: 'jwk' });
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function verifySignature(key: KeyObject, keyType: string, hash: string | null, data: Buffer, sig: Buffer): boolean {
  try {
    if (keyType === 'ssh-ed25519') return verify(null, data, key, sig);
    if (keyType === 'ssh-rsa') return verify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
    return verify(hash, data, { key, dsaEncoding: 'der' }, sig);
  } catch {
    return false;
  }
}

export function createPublicKeyAuth(deps: CoreDeps) {
  const { db, clock } = deps;

  /** The user with this login and this exact key (type and bytes), if both exist. */
  async function findKey(login: string, keyType: string, blob: Buffer) {
    const fp = fingerprintOf(blob);
    const row = await db
      .selectFrom('ssh_keys')
      .innerJoin('users', 'users.id', 'ssh_keys.user_id')
      .selectAll('users')
      .select(['ssh_keys.public_key', 'ssh_keys.id as key_id'])
      .where('users.login', '=', login)
      .where('ssh_keys.fingerprint', '=', fp)
      .executeTakeFirst();
    if (!row || row.public_key !== `${keyType} ${blob.toString('base64')}`) return undefined;
    return row;
  }

  async function failure(
    ctx: RequestContext,
    login: string,
    reason: string,
    extra: Record<string, unknown>,
    user?: Pick<UserRow, 'id' | 'org_id'>,
  ): Promise<CoreError> {
    await failuresOf(deps).record({
      action: 'auth.login',
      outcome: 'failure',
      ctx,
      claimedLogin: login.slice(0, 64),
      claimedUserId: user?.id,
      orgId: user?.org_id ?? null,
      detail: { method: 'publickey', reason, ...extra },
    });
    return bad();
  }

  return async function publicKey(req: PublicKeyRequest, ctx: RequestContext): Promise<PublicKeyAnswer> {
    const login = canonicalLogin(req.login);
    const algo = typeof req.algorithm === 'string' ? SIG_ALGOS[req.algorithm] : undefined;
    const blob =
      req.keyBlob instanceof Uint8Array && req.keyBlob.length <= MAX_BLOB
        ? Buffer.from(req.keyBlob.buffer, req.keyBlob.byteOffset, req.keyBlob.length)
        : undefined;
    const signed = req.signature !== undefined || req.signedData !== undefined;

    const claimed =
      login ??
      String(req.login ?? '')
        .replace(/[^\x20-\x7e]/g, '?')
        .slice(0, 64);
    const fingerprint = blob ? fingerprintOf(blob) : undefined;
    const extra = {
      algorithm: String(req.algorithm)
        .replace(/[^\x20-\x7e]/g, '?')
        .slice(0, 64),
      ...(fingerprint ? { fingerprint } : {}),
    };

    if (!signed) {
      // The query: a yes/no about this key for this login, nothing more. A key that is not this
      // login's is a failed sign-in (the client will not sign with it) and is recorded as one.
      if (login && algo && blob && (await findKey(login, algo.keyType, blob))) return { kind: 'acceptable' };
      const user = login ? await db.selectFrom('users').select(['id', 'org_id']).where('login', '=', login).executeTakeFirst() : undefined;
      const why = !login
        ? 'unknown user'
        : !algo
          ? 'signature algorithm not accepted'
          : !blob
            ? 'malformed key'
            : user
              ? 'key not registered for this user'
              : 'unknown user';
      await failure(ctx, claimed, why, { ...extra, query: true }, user);
      return { kind: 'unknown' };
    }
    if (!login) throw await failure(ctx, claimed, 'unknown user', extra);
    if (!algo) throw await failure(ctx, login, 'signature algorithm not accepted', extra);
    if (!blob) throw await failure(ctx, login, 'malformed key', extra);
    const sig = req.signature;
    const data = req.signedData;
    if (
      !(sig instanceof Uint8Array) ||
      !(data instanceof Uint8Array) ||
      sig.length === 0 ||
      sig.length > MAX_BLOB ||
      data.length === 0 ||
      data.length > MAX_SIGNED_DATA
    ) {
      throw await failure(ctx, login, 'malformed signature', extra);
    }

    const row = await findKey(login, algo.keyType, blob);
    if (!row) {
      const user = await db.selectFrom('users').select(['id', 'org_id']).where('login', '=', login).executeTakeFirst();
      throw await failure(ctx, login, user ? 'key not authorized for this user' : 'unknown user', extra, user);
    }
    // Verify with the key as stored for this user (the query step is not trusted for anything).
    const [storedType, storedB64] = row.public_key.split(' ');
    const key = storedType === algo.keyType && storedB64 ? publicKeyFromBlob(storedType, Buffer.from(storedB64, 'base64')) : undefined;
    if (
      !key ||
      !verifySignature(
        key,
        algo.keyType,
        algo.hash,
        Buffer.from(data.buffer, data.byteOffset, data.length),
        Buffer.from(sig.buffer, sig.byteOffset, sig.length),
      )
    ) {
      throw await failure(ctx, login, key ? 'bad signature' : 'stored key unusable', extra, row);
    }
    const why = await refusal(deps, row, clock.now());
    if (why) {
      // As for passwords: only a lockdown is named (LOCKED), and only after the key was verified.
      await failure(ctx, login, why, extra, row);
      throw refusedError(why);
    }

    if (mfaActive(row)) {
      const { public_key: _pk, key_id: keyId, ...user } = row;
      return { kind: 'needs-totp', challenge: await issueChallenge(deps, user, 'publickey', ctx, { ...extra, key: keyId }) };
    }
    const p = principalFor(row, ctx, 'publickey', null, null, row.key_id);
    await writeTx(db, clock, async (s) => {
      await s.trx.updateTable('users').set({ last_login_at: s.now }).where('id', '=', row.id).execute();
      await s.audit({ action: 'auth.login', outcome: 'success', actor: p, detail: { ...extra, key: row.key_id } });
    });
    return { kind: 'signed-in', principal: p };
  };
}

export type PublicKeyAuth = ReturnType<typeof createPublicKeyAuth>;
