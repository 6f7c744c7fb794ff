/**
 * SSH host keys of the SFTP server, generated per install and kept in the data directory's key
 * folder next to the key-encryption keys:
 *
 *   keys/ssh_host_ed25519_key   (+ .pub)   the key modern clients use
 *   keys/ssh_host_rsa_key       (+ .pub)   RSA 3072, for older clients (rsa-sha2-256/512 only)
 *
 * Private keys are OpenSSH-format files, mode 0600, written to a temporary name, fsynced and
 * linked into place (never overwriting an existing key), so a crash cannot leave a half-written
 * key behind.
 *
 * Contracts:
 * - initHostKeys creates whichever of the two keys is missing and never replaces one.
 * - loadHostKeys MUST refuse (CoreError UNAVAILABLE, naming the file, never key material) a key
 *   file that is not a regular file (symlinks included), is readable or writable by group or
 *   others, or does not parse as an unencrypted private key of the expected type.
 * - Fingerprints are SHA256 of the public key blob, printed as OpenSSH does (`ssh-keygen -lf`).
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { CoreError } from '../core/errors.js';

export interface HostKey {
  /** ssh-ed25519 or ssh-rsa */
  readonly type: string;
  readonly file: string;
  /** The private key file's content (OpenSSH format), for the SSH server. */
  readonly privateKey: Buffer;
  /** "SHA256:…" as OpenSSH prints it. */
  readonly fingerprint: string;
  /** "type base64", the line for known_hosts. */
  readonly publicKey: string;
}

export const KINDS = [
  { type: 'ssh-ed25519', file: 'ssh_host_ed25519_key', generate: () => ssh2.utils.generateKeyPairSync('ed25519') },
  { type: 'ssh-rsa', file: 'ssh_host_rsa_key', generate: () => ssh2.utils.generateKeyPairSync('rsa', { bits: 3072 }) },
] as const;

const MAX_KEY_FILE = 16 * 1024;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const unavailable = (message: string) => new CoreError('UNAVAILABLE', message);

export const fingerprintOfBlob = (blob: Buffer): string => 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');

const exists = (f: string) => {
  try {
    lstatSync(f);
    return true;
  } catch {
    return false;
  }
};

/** Writes `content` to `file` (mode `mode`) atomically; refuses to replace an existing file. */
function writeNew(file: string, content: string, mode: number): void {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * A key pair that parses back as what it claims to be. ssh2's generator occasionally (about 1 in
 * 400) writes a malformed ed25519 key: a public key starting with a zero byte loses that byte.
 * Such a pair is thrown away and another one made.
 */
export function generateValid(type: string, generate: () => { private: string; public: string }): { private: string; public: string } {
  for (let i = 0; i < 20; i++) {
    const pair = generate();
    const parsed = ssh2.utils.parseKey(pair.private);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    const pub = ssh2.utils.parseKey(pair.public);
    if (key && !(key instanceof Error) && key.type === type && key.isPrivateKey() && !(pub instanceof Error) && key.getPublicSSH().equals(pub.getPublicSSH()))
      return pair;
  }
  throw unavailable(`could not generate a valid ${type} host key`);
}

/** Creates the host keys that are missing in `dir`. Returns the types it created. */
export function initHostKeys(dir: string): { created: string[] } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  for (const k of KINDS) {
    const file = join(dir, k.file);
    if (exists(file)) continue;
    const pair = generateValid(k.type, k.generate);
    writeNew(file, pair.private.endsWith('\n') ? pair.private : pair.private + '\n', 0o600);
    const pub = join(dir, `${k.file}.pub`);
    if (!exists(pub)) writeFileSync(pub, `${pair.public.trim()} sluice-host-key\n`, { mode: 0o644, flag: 'wx' });
    created.push(k.type);
  }
  return { created };
}

/** Loads both host keys, refusing insecure or malformed files. */
export function loadHostKeys(dir: string): HostKey[] {
  return KINDS.map((k) => {
    const file = join(dir, k.file);
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw unavailable(
        code === 'ENOENT'
          ? `SSH host key ${k.file} is missing; run "sluice init" or "sluice serve"`
          : `SSH host key ${k.file} cannot be opened (${code ?? 'error'}); it must be a regular file`,
      );
    }
    let content: Buffer;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw unavailable(`SSH host key ${k.file} is not a regular file`);
      if (st.mode & 0o077)
        throw unavailable(`SSH host key ${k.file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`);
      if (st.size > MAX_KEY_FILE) throw unavailable(`SSH host key ${k.file} is too large to be a key`);
      content = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
    const parsed = ssh2.utils.parseKey(content);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error || key.type !== k.type || !key.isPrivateKey()) {
      throw unavailable(`SSH host key ${k.file} is not an unencrypted ${k.type} private key`);
    }
    const blob = key.getPublicSSH();
    return Object.freeze({ type: k.type, file, privateKey: content, fingerprint: fingerprintOfBlob(blob), publicKey: `${k.type} ${blob.toString('base64')}` });
  });
}
