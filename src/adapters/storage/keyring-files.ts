/**
 * Key-encryption keys (KEKs) kept as files in a directory of their own, outside the database.
 *
 * Layout: <dir>/kek-<id>.key, one KEK per file, where <id> is a UUIDv7 (its text sorts by creation
 * time) and the content is the 32-byte key in base64 followed by a newline. The directory is mode
 * 0700, each file mode 0600, created with O_EXCL and fsynced.
 *
 * Contracts:
 * - initKeyring creates the directory and a first KEK when the directory holds none; it never
 *   overwrites or replaces an existing key.
 * - loadKeyring reads every kek-*.key file; the current KEK is the one with the greatest id. It
 *   MUST refuse to load (CoreError UNAVAILABLE) when the directory holds no KEK, when a key file
 *   is not a regular file, is readable or writable by group or others, has a malformed name, or
 *   does not hold exactly 32 bytes. Messages name the file (its base name), never key material.
 * - rotateKeyring adds a KEK whose id is greater than every existing id, so it becomes current on
 *   the next load. Older KEKs stay: blobs whose data keys they wrap remain readable. Running
 *   processes keep the keyring they loaded until they reload it.
 *
 * These run at startup or from the CLI, so they are synchronous.
 */
import { closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { Kek, Keyring } from '../../ports/keyring.js';
import { CoreError } from '../../ports/errors.js';

export const KEK_BYTES = 32;
const ID_RE_SRC = '[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
const KEK_FILE_RE = new RegExp(`^kek-(${ID_RE_SRC})\\.key$`);
const BASE64_KEY_RE = /^[A-Za-z0-9+/]{43}=\n?$/;
/** Longest file we read: a 44-character base64 line plus newline, and room to detect overlong files. */
const MAX_FILE_BYTES = 128;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

const unavailable = (message: string, cause?: unknown): CoreError => new CoreError('UNAVAILABLE', message, cause === undefined ? {} : { cause });

/** Creates the keyring directory and a first KEK if it holds none. Returns whether it created one, and the current id. */
export function initKeyring(dir: string): { created: boolean; currentId: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = listKekIds(dir);
  const newest = existing.at(-1);
  if (newest !== undefined) return { created: false, currentId: newest };
  const id = writeNewKek(dir, undefined);
  return { created: true, currentId: id };
}

/** Adds a KEK that becomes current. Returns its id (never the key). */
export function rotateKeyring(dir: string): { id: string } {
  const existing = listKekIds(dir);
  if (existing.length === 0) throw unavailable('keyring has no key-encryption key; initialise it first');
  return { id: writeNewKek(dir, existing.at(-1)) };
}

/** Loads every KEK in `dir`, refusing insecure or malformed key files. */
export function loadKeyring(dir: string): Keyring {
  const ids = listKekIds(dir);
  const keks = new Map<string, Kek>();
  for (const id of ids) {
    keks.set(id, Object.freeze({ id, key: readKekFile(dir, id) }));
  }
  const newest = ids.at(-1);
  const current = newest === undefined ? undefined : keks.get(newest);
  if (current === undefined) throw unavailable('keyring has no key-encryption key (kek-<id>.key); run init');
  return Object.freeze({
    current: () => current,
    get: (id: string) => keks.get(id),
  });
}

/** KEK ids in `dir`, ascending (= oldest first). Refuses names that look like key files but are malformed. */
function listKekIds(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw unavailable('keyring directory cannot be read', err);
  }
  const ids: string[] = [];
  for (const name of names) {
    if (!name.startsWith('kek-')) continue;
    const m = KEK_FILE_RE.exec(name);
    if (m?.[1] === undefined) throw unavailable(`keyring file ${safeName(name)} has an unrecognised name (expected kek-<uuidv7>.key)`);
    ids.push(m[1]);
  }
  return ids.sort();
}

function readKekFile(dir: string, id: string): Buffer {
  const name = `kek-${id}.key`;
  let fd: number;
  try {
    fd = openSync(join(dir, name), constants.O_RDONLY | O_NOFOLLOW);
  } catch (err) {
    throw unavailable(`keyring file ${name} cannot be opened (it must be a regular file, not a symlink)`, err);
  }
  try {
    // fstat on the open descriptor: the checks apply to exactly the file we read.
    const st = fstatSync(fd);
    if (!st.isFile()) throw unavailable(`keyring file ${name} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw unavailable(`keyring file ${name} is accessible by group or others (mode ${mode}); it must be mode 0600`);
    }
    const buf = Buffer.alloc(MAX_FILE_BYTES);
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len === buf.length) break;
    }
    const text = buf.toString('latin1', 0, len);
    buf.fill(0);
    if (!BASE64_KEY_RE.test(text)) {
      throw unavailable(`keyring file ${name} has the wrong length or format (expected ${KEK_BYTES} bytes in base64)`);
    }
    const key = Buffer.from(text, 'base64');
    if (key.length !== KEK_BYTES) throw unavailable(`keyring file ${name} has the wrong length (expected ${KEK_BYTES} bytes)`);
    return key;
  } finally {
    closeSync(fd);
  }
}

/** Writes a new KEK file whose id sorts after `after`; returns its id. */
function writeNewKek(dir: string, after: string | undefined): string {
  let id = uuidv7();
  if (after !== undefined && id <= after) {
    // Clock behind the newest key (or same millisecond in another process): move past it.
    id = uuidv7({ msecs: uuidMillis(after) + 1 });
  }
  const name = `kek-${id}.key`;
  const path = join(dir, name);
  const key = randomBytes(KEK_BYTES);
  const data = Buffer.from(`${key.toString('base64')}\n`, 'latin1');
  key.fill(0);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // the original error matters more
    }
    throw err;
  } finally {
    data.fill(0);
  }
  closeSync(fd);
  fsyncDirSync(dir);
  return id;
}

function uuidMillis(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file name fit for an operator message: printable, bounded. */
function safeName(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}
