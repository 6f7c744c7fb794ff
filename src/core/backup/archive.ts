/**
 * The backup directory: its layout, its manifest, and careful file I/O for it.
 *
 *   DIR/manifest.json            what is in the backup, with the SHA-256 of every other file
 *   DIR/keys.enc                 key files, passphrase-encrypted; authenticates manifest.json
 *   DIR/db/<table>.jsonl         one JSON object per row, columns in manifest order
 *   DIR/blobs.jsonl              index of the blobs: { key, size, sha256 } of the stored bytes
 *   DIR/blobs/<ab>/<key>         each blob's stored bytes (ciphertext, exactly as in the store)
 *   DIR/ledger-anchor.jsonl      the ledger's external anchor file, as it was (when configured)
 *
 * Every path inside the backup is built here from table names in TABLES and blob keys that match
 * BLOB_KEY_RE; nothing read from the manifest becomes a path. Directories are created 0700 and
 * files 0600 with O_EXCL (never following or overwriting anything), and fsynced.
 */
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BLOB_KEY_RE } from '../../ports/blob-store.js';
import { CoreError } from '../errors.js';

export const MANIFEST = 'manifest.json';
export const KEYS_FILE = 'keys.enc';
export const BLOB_INDEX = 'blobs.jsonl';
export const ANCHOR_FILE = 'ledger-anchor.jsonl';
export const FORMAT = 'sluice-backup';
export const FORMAT_VERSION = 1;

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();
const fileEntry = z.object({ bytes: count, sha256: sha256Hex });

export const manifestSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  createdAt: z.string(),
  sluiceVersion: z.string(),
  source: z.object({ dialect: z.enum(['sqlite', 'postgres']), nodeId: z.string() }),
  migrations: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/)),
  tables: z.array(
    fileEntry.extend({ name: z.string().regex(/^[a-z_]{1,63}$/), rows: count, columns: z.array(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)).min(1) }),
  ),
  ledger: z.object({ headSeq: count, headHash: sha256Hex, checkpoints: count }),
  blobs: z.object({ index: fileEntry, count, bytes: count, plaintextBytes: count }),
  anchor: fileEntry.nullable(),
  keys: z.object({ names: z.array(z.string()) }),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const tableFile = (dir: string, table: string) => path.join(dir, 'db', `${table}.jsonl`);

export function blobFile(dir: string, key: string): string {
  if (!BLOB_KEY_RE.test(key)) throw new CoreError('INTEGRITY', 'the backup names an invalid blob key');
  return path.join(dir, 'blobs', key.slice(0, 2), key);
}

/** Creates the backup directory: it must not exist, or be an empty directory. */
export function prepareBackupDir(dir: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (st) {
    if (!st.isDirectory()) throw new CoreError('CONFLICT', `${dir} exists and is not a directory`);
    if (fs.readdirSync(dir).length > 0) throw new CoreError('CONFLICT', `${dir} is not empty; back up into a new or empty directory`);
  } else {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  fs.mkdirSync(path.join(dir, 'db'), { mode: 0o700 });
  fs.mkdirSync(path.join(dir, 'blobs'), { mode: 0o700 });
}

/** A file written once, hashed while written; fsynced when closed. */
export class HashedWriter {
  private readonly hash = createHash('sha256');
  bytes = 0;
  private constructor(private readonly fh: FileHandle) {}

  static async create(file: string): Promise<HashedWriter> {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    return new HashedWriter(await open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o600));
  }

  async write(data: Buffer | string): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.hash.update(buf);
    this.bytes += buf.length;
    let off = 0;
    while (off < buf.length) off += (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
  }

  /** fsyncs and closes; returns size and SHA-256 of what was written. */
  async close(): Promise<{ bytes: number; sha256: string }> {
    try {
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  async abandon(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

export async function writeWhole(file: string, data: Buffer | string): Promise<{ bytes: number; sha256: string }> {
  const w = await HashedWriter.create(file);
  try {
    await w.write(data);
  } catch (e) {
    await w.abandon();
    throw e;
  }
  return w.close();
}

/** fsyncs a directory, so entries created in it are durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a file of the backup (refusing symlinks), with a size limit. */
export function readSmall(file: string, max: number): Buffer {
  const fd = openBackupFile(file);
  try {
    const st = fs.fstatSync(fd);
    if (st.size > max) throw new CoreError('INTEGRITY', `${path.basename(file)} is too large`);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function openBackupFile(file: string): number {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | O_NOFOLLOW);
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw new CoreError('INTEGRITY', `${path.basename(file)} in the backup is not a regular file`);
    }
    return fd;
  } catch (e) {
    if (e instanceof CoreError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CoreError('INTEGRITY', `the backup lacks ${path.basename(file)}`);
    throw e;
  }
}

/**
 * The lines of a backup file, hashing every byte read. `done()` afterwards gives its size and
 * SHA-256. Lines longer than `maxLine` bytes are refused.
 */
export function lineReader(file: string, maxLine = 64 * 1024 * 1024) {
  const hash = createHash('sha256');
  let bytes = 0;
  let finished = false;
  async function* lines(): AsyncGenerator<string> {
    const stream = fs.createReadStream('', { fd: openBackupFile(file), highWaterMark: 1 << 20 });
    let rest = '';
    const decoder = new TextDecoder('utf-8', { fatal: true });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        const text = rest + decoder.decode(chunk, { stream: true });
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        if (rest.length > maxLine) throw new CoreError('INTEGRITY', `${path.basename(file)} has an overlong line`);
        for (const l of parts) yield l;
      }
      rest += decoder.decode();
      if (rest.length > 0) yield rest;
      finished = true;
    } catch (e) {
      if (e instanceof TypeError) throw new CoreError('INTEGRITY', `${path.basename(file)} is not valid UTF-8`);
      throw e;
    } finally {
      stream.destroy();
    }
  }
  return {
    lines,
    done(): { bytes: number; sha256: string } {
      if (!finished) throw new CoreError('INTERNAL', 'file not read to the end');
      return { bytes, sha256: hash.digest('hex') };
    },
  };
}

/** Size and SHA-256 of a file, read in full. */
export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = fs.createReadStream('', { fd: openBackupFile(file), highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Throws INTEGRITY unless `got` matches the manifest's entry for `what`. */
export function expectSame(what: string, got: { bytes: number; sha256: string }, want: { bytes: number; sha256: string }): void {
  if (got.bytes !== want.bytes || got.sha256 !== want.sha256) {
    throw new CoreError('INTEGRITY', `${what} in the backup does not match its manifest (changed or damaged)`);
  }
}
