/**
 * A software WebAuthn authenticator for tests without a browser: one P-256 credential per
 * instance, "none" attestation, a signature counter, user presence and verification flags. It
 * builds what navigator.credentials.create/get would hand @simplewebauthn/browser (the JSON form).
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

export interface SoftAuthenticatorOptions {
  readonly origin: string;
  readonly rpId: string;
}

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  private readonly key: { privateKey: KeyObject; publicKey: KeyObject };
  counter = 0;
  userHandle: string | undefined;

  constructor(private readonly opts: SoftAuthenticatorOptions) {
    this.key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  }

  get id(): string {
    return b64u(this.credentialId);
  }

  private cose(): Uint8Array {
    const jwk = this.key.publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const m = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x, 'base64url')],
      [-3, Buffer.from(jwk.y, 'base64url')],
    ]);
    return isoCBOR.encode(m);
  }

  private authData(rpId: string, flags: number, attested: boolean): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(this.counter);
    const parts = [sha256(rpId), Buffer.from([flags]), c];
    if (attested) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(this.credentialId.length);
      parts.push(Buffer.alloc(16), len, this.credentialId, Buffer.from(this.cose()));
    }
    return Buffer.concat(parts);
  }

  private clientData(type: string, challenge: string, origin = this.opts.origin): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create: `options` as the server sent them. */
  create(options: { challenge: string; rp: { id?: string }; user: { id: string } }, over: { origin?: string } = {}) {
    this.userHandle = options.user.id;
    const authData = this.authData(options.rp.id ?? this.opts.rpId, 0x01 | 0x04 | 0x40, true);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as never,
    );
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(this.clientData('webauthn.create', options.challenge, over.origin)),
        attestationObject: b64u(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get: signs the challenge; the counter grows by one unless `counter` is given. */
  get(options: { challenge: string; rpId?: string }, over: { origin?: string; counter?: number; flags?: number } = {}) {
    this.counter = over.counter ?? this.counter + 1;
    const authData = this.authData(options.rpId ?? this.opts.rpId, over.flags ?? 0x01 | 0x04, false);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, over.origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.key.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(this.userHandle ? { userHandle: this.userHandle } : {}),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}

export { isoBase64URL };
