/**
 * keys.enc: the instance's key files (key-encryption keys, ledger signing keys, SSH host keys),
 * encrypted with a passphrase, kept apart from the database export and the blobs.
 *
 * ── Format "SLKE", version 1 ─────────────────────────────────────────────────────────────────
 *   header (HEADER_BYTES = 53):
 *     off len
 *       0   4  magic "SLKE"
 *       4   1  version = 0x01
 *       5   1  KDF = 0x01 (scrypt)
 *       6   1  log2(N)      (17: N = 131072)
 *       7   1  r            (8)
 *       8   1  p            (1)
 *       9  32  salt (random)
 *      41  12  nonce (random)
 *   then AES-256-GCM(key = scrypt(NFC(passphrase), salt, 32, N, r, p), nonce, AAD = header) of the
 *   payload, then the 16-byte tag. The header is authenticated: changing the parameters, salt or
 *   nonce fails decryption like a wrong passphrase does.
 *
 *   payload:  u32 length ‖ meta (JSON: { manifestSha256, createdAt, files }) ‖ per key file:
 *             u16 name length ‖ name (ASCII) ‖ u16 mode ‖ u32 length ‖ content
 *
 * The meta carries the SHA-256 of manifest.json, which carries the SHA-256 of every other file of
 * the backup: whoever does not know the passphrase cannot change any part of a backup unnoticed.
 *
 * Contracts:
 * - sealKeys MUST refuse passphrases shorter than MIN_PASSPHRASE characters.
 * - openKeys MUST fail with CoreError INTEGRITY, and return nothing, when the passphrase is wrong
 *   or any byte of the file changed; it refuses KDF parameters outside sane bounds before running
 *   the KDF (a crafted header cannot make it allocate gigabytes).
 * - Key material lives in Buffers that callers zero when done (wipe()).
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { CoreError } from '../errors.js';

export const MIN_PASSPHRASE = 12;
const MAX_PASSPHRASE = 1024;
const MAGIC = Buffer.from('SLKE', 'latin1');
const VERSION = 1;
const KDF_SCRYPT = 1;
/** scrypt N = 2^17, r = 8, p = 1: 128 MiB and about half a second per derivation. */
const LOG_N = 17;
const R = 8;
const P = 1;
const SALT_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 4 + 1 + 1 + 3 + SALT_BYTES + NONCE_BYTES; // 53
const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface KeyFile {
  readonly name: string;
  readonly mode: number;
  readonly data: Buffer;
}

export interface KeysMeta {
  readonly manifestSha256: string;
  readonly createdAt: string;
}

/** Names a key file may have: plain, no path, no leading dot. */
export const KEY_FILE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

function scrypt(pass: Buffer, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(pass, salt, 32, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

function deriveKey(passphrase: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const pass = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  const N = 2 ** logN;
  return scrypt(pass, salt, { N, r, p, maxmem: 128 * N * r * p + 16 * 1024 * 1024 }).finally(() => pass.fill(0));
}

export function checkPassphrase(passphrase: string): void {
  const n = [...passphrase.normalize('NFC')].length;
  if (n < MIN_PASSPHRASE) throw new CoreError('INVALID_INPUT', `the backup passphrase must have at least ${MIN_PASSPHRASE} characters`);
  if (n > MAX_PASSPHRASE) throw new CoreError('INVALID_INPUT', `the backup passphrase must have at most ${MAX_PASSPHRASE} characters`);
}

export async function sealKeys(passphrase: string, meta: KeysMeta, files: readonly KeyFile[]): Promise<Buffer> {
  checkPassphrase(passphrase);
  const parts: Buffer[] = [];
  const metaBuf = Buffer.from(JSON.stringify({ ...meta, files: files.length }), 'utf8');
  parts.push(u32(metaBuf.length), metaBuf);
  for (const f of files) {
    if (!KEY_FILE_NAME_RE.test(f.name)) throw new CoreError('INTERNAL', `unexpected key file name ${JSON.stringify(f.name)}`);
    const name = Buffer.from(f.name, 'latin1');
    parts.push(u16(name.length), name, u16(f.mode & 0o777), u32(f.data.length), f.data);
  }
  const plain = Buffer.concat(parts);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[4] = VERSION;
  header[5] = KDF_SCRYPT;
  header[6] = LOG_N;
  header[7] = R;
  header[8] = P;
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  salt.copy(header, 9);
  nonce.copy(header, 9 + SALT_BYTES);
  const key = await deriveKey(passphrase, salt, LOG_N, R, P);
  try {
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(header);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([header, body, c.getAuthTag()]);
  } finally {
    key.fill(0);
    plain.fill(0);
  }
}

const damaged = (why: string) => new CoreError('INTEGRITY', `keys.enc ${why}`);

export async function openKeys(passphrase: string, sealed: Buffer): Promise<{ meta: KeysMeta; files: KeyFile[] }> {
  if (sealed.length < HEADER_BYTES + TAG_BYTES || sealed.length > MAX_FILE_BYTES) throw damaged('has the wrong size');
  const header = sealed.subarray(0, HEADER_BYTES);
  if (!header.subarray(0, 4).equals(MAGIC)) throw damaged('is not a Sluice key file');
  if (header[4] !== VERSION || header[5] !== KDF_SCRYPT) throw damaged(`has an unsupported version (${header[4]}/${header[5]})`);
  const logN = header[6]!;
  const r = header[7]!;
  const p = header[8]!;
  if (logN < 14 || logN > 20 || r < 1 || r > 16 || p < 1 || p > 4) throw damaged('has key-derivation parameters out of bounds');
  const salt = header.subarray(9, 9 + SALT_BYTES);
  const nonce = header.subarray(9 + SALT_BYTES, HEADER_BYTES);
  const body = sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const key = await deriveKey(passphrase, salt, logN, r, p);
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(header);
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(body), d.final()]);
  } catch {
    throw new CoreError('INTEGRITY', 'cannot decrypt keys.enc: wrong passphrase, or the file was altered');
  } finally {
    key.fill(0);
  }
  try {
    let off = 0;
    const take = (n: number) => {
      if (off + n > plain.length) throw damaged('is truncated');
      const b = plain.subarray(off, off + n);
      off += n;
      return b;
    };
    const meta = JSON.parse(take(take(4).readUInt32BE(0)).toString('utf8')) as Partial<KeysMeta> & { files?: unknown };
    if (
      typeof meta.manifestSha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(meta.manifestSha256) ||
      typeof meta.createdAt !== 'string' ||
      typeof meta.files !== 'number'
    )
      throw damaged('has a malformed header');
    const files: KeyFile[] = [];
    for (let i = 0; i < meta.files; i++) {
      const name = take(take(2).readUInt16BE(0)).toString('latin1');
      const mode = take(2).readUInt16BE(0);
      const data = Buffer.from(take(take(4).readUInt32BE(0)));
      if (!KEY_FILE_NAME_RE.test(name)) throw damaged(`names an unacceptable key file ${JSON.stringify(name.slice(0, 64))}`);
      files.push({ name, mode, data });
    }
    if (off !== plain.length) throw damaged('has trailing data');
    return { meta: { manifestSha256: meta.manifestSha256, createdAt: meta.createdAt }, files };
  } catch (e) {
    throw e instanceof CoreError ? e : damaged('has a malformed payload');
  } finally {
    plain.fill(0);
  }
}

export function wipe(files: readonly KeyFile[]): void {
  for (const f of files) f.data.fill(0);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
