/**
 * The ledger's Ed25519 signing key, kept as files in the keys directory, never in the database.
 *
 * Layout: ledger-<keyId>.key (PKCS#8 PEM, mode 0600) for the current key, and
 * ledger-<keyId>.pub (SPKI PEM) for it and every earlier key, so old checkpoints stay verifiable
 * after a rotation. keyId = first 16 hex digits of SHA-256 over the SPKI DER.
 *
 * Contract: initLedgerKey never replaces an existing key; loadLedgerSigner refuses a private key
 * file that is readable by group or others, or that is a symlink.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { LedgerSigner } from '../../ports/ledger-anchor.js';
import { CoreError } from '../../ports/errors.js';

const KEY_RE = /^ledger-([0-9a-f]{16})\.key$/;
const PUB_RE = /^ledger-([0-9a-f]{16})\.pub$/;

const keyIdOf = (pub: KeyObject) =>
  createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);

function writeExclusive(file: string, data: string, mode: number): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readPrivate(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new CoreError('UNAVAILABLE', `${path.basename(file)} is not a regular file`);
    if (st.mode & 0o077)
      throw new CoreError('UNAVAILABLE', `${path.basename(file)} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates the first signing key if the directory has none. Returns its id and whether it was created. */
export function initLedgerKey(dir: string): { created: boolean; keyId: string } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = fs
    .readdirSync(dir)
    .map((f) => KEY_RE.exec(f)?.[1])
    .filter((x): x is string => !!x);
  if (existing.length > 0) return { created: false, keyId: existing.sort().at(-1)! };
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyId = keyIdOf(publicKey);
  writeExclusive(path.join(dir, `ledger-${keyId}.pub`), publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  writeExclusive(path.join(dir, `ledger-${keyId}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  return { created: true, keyId };
}

export function loadLedgerSigner(dir: string): LedgerSigner {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  const keyFiles = files.filter((f) => KEY_RE.test(f));
  if (keyFiles.length !== 1) {
    throw new CoreError(
      'UNAVAILABLE',
      keyFiles.length === 0 ? 'the ledger signing key is missing; run "sluice init"' : 'more than one ledger signing key (ledger-*.key) in the keys directory',
    );
  }
  const priv = createPrivateKey(readPrivate(path.join(dir, keyFiles[0]!)));
  const pub = createPublicKey(priv);
  const keyId = keyIdOf(pub);
  if (`ledger-${keyId}.key` !== keyFiles[0]) throw new CoreError('UNAVAILABLE', 'the ledger signing key file name does not match its key');
  const publics = new Map<string, KeyObject>([[keyId, pub]]);
  for (const f of files) {
    const id = PUB_RE.exec(f)?.[1];
    if (!id || publics.has(id)) continue;
    const k = createPublicKey(fs.readFileSync(path.join(dir, f), 'utf8'));
    if (keyIdOf(k) === id) publics.set(id, k);
  }
  return {
    keyId,
    sign: (message) => edSign(null, message, priv).toString('base64'),
    verify(message, signature, id) {
      const k = publics.get(id);
      if (!k || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
      try {
        return edVerify(null, message, k, Buffer.from(signature, 'base64'));
      } catch {
        return false;
      }
    },
  };
}
