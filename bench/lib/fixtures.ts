/** Things a benchmark makes for itself: a temp dir, a random file, a throwaway TLS certificate. */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { cleanupDir } from './cleanup.js';
import { run } from './exec.js';
import { MiB } from './stats.js';

/** A fresh directory under the system temp dir, removed at cleanup whatever happens. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  cleanupDir(dir);
  return dir;
}

/** Writes `bytes` of random data to `file`; returns its sha256 (hex). */
export async function makeRandomFile(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0; off < bytes;) {
      const n = Math.min(4 * MiB, bytes - off);
      const buf = randomBytes(n);
      hash.update(buf);
      fs.writeSync(fd, buf);
      off += n;
      if (off % (64 * MiB) === 0) await new Promise((r) => setImmediate(r)); // let signals in
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** sha256 (hex) and byte count of a stream, consumed whole. */
export async function sha256Stream(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) {
    hash.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * A self-signed ECDSA P-256 certificate for 127.0.0.1/localhost, valid one day, made with
 * openssl in `dir`. Returns the paths of the PEM certificate and key.
 */
export async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { timeoutMs: 30_000 },
  );
  fs.chmodSync(key, 0o600);
  return { cert, key };
}
