/**
 * SSH user keys for tests, made with node:crypto: the public key as an OpenSSH line and as the
 * SSH wire blob, and a signer producing signatures in the form the ssh2 server hands to the core
 * (Ed25519 raw, RSA PKCS#1 v1.5, ECDSA DER).
 */
import { generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';

export type TestKeyType = 'ed25519' | 'ecdsa' | 'rsa';

export interface TestKey {
  readonly type: TestKeyType;
  /** Key type in the blob: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa. */
  readonly keyType: string;
  /** Signature algorithm to use in requests: ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-256. */
  readonly algorithm: string;
  readonly blob: Buffer;
  /** "algo base64 comment", for `sluice key add` / core.admin.keys.add. */
  readonly line: string;
  readonly privateKey: KeyObject;
  sign(data: Buffer, hash?: string): Buffer;
}

const str = (b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
};
const mpint = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return str(v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
};

export function makeKey(type: TestKeyType, comment = 'test'): TestKey {
  if (type === 'ed25519') {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const x = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const blob = Buffer.concat([str('ssh-ed25519'), str(x)]);
    return {
      type,
      keyType: 'ssh-ed25519',
      algorithm: 'ssh-ed25519',
      blob,
      line: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
      privateKey,
      sign: (d) => sign(null, d, privateKey),
    };
  }
  if (type === 'ecdsa') {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const j = publicKey.export({ format: 'jwk' });
    const q = Buffer.concat([Buffer.from([4]), Buffer.from(j.x!, 'base64url'), Buffer.from(j.y!, 'base64url')]);
    const blob = Buffer.concat([str('ecdsa-sha2-nistp256'), str('nistp256'), str(q)]);
    return {
      type,
      keyType: 'ecdsa-sha2-nistp256',
      algorithm: 'ecdsa-sha2-nistp256',
      blob,
      line: `ecdsa-sha2-nistp256 ${blob.toString('base64')} ${comment}`,
      privateKey,
      sign: (d, h = 'sha256') => sign(h, d, { key: privateKey, dsaEncoding: 'der' }),
    };
  }
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const j = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([str('ssh-rsa'), mpint(Buffer.from(j.e!, 'base64url')), mpint(Buffer.from(j.n!, 'base64url'))]);
  return {
    type,
    keyType: 'ssh-rsa',
    algorithm: 'rsa-sha2-256',
    blob,
    line: `ssh-rsa ${blob.toString('base64')} ${comment}`,
    privateKey,
    sign: (d, h = 'sha256') => sign(h, d, { key: privateKey, padding: constants.RSA_PKCS1_PADDING }),
  };
}

/**
 * The data an SSH publickey signature covers (RFC 4252 §7): session id, then the request up to
 * and including the key blob, with has_sig TRUE.
 */
export function signedData(sessionId: Buffer, user: string, algorithm: string, blob: Buffer, service = 'ssh-connection'): Buffer {
  return Buffer.concat([
    str(sessionId),
    Buffer.from([50]),
    str(Buffer.from(user, 'utf8')),
    str(service),
    str('publickey'),
    Buffer.from([1]),
    str(algorithm),
    str(blob),
  ]);
}
