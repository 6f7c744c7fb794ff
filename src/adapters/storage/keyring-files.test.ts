import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { CoreError } from '../../ports/errors.js';
import { initKeyring, loadKeyring, rotateKeyring } from './keyring-files.js';
import { createEncryptedStore } from './encrypted-store.js';
import { createMemoryStore } from './memory-store.js';
import { chunked, newKey, readAll } from './test-support.js';

let base: string;
let dir: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'sluice-keyring-'));
  dir = join(base, 'keys');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const kekFiles = (): string[] =>
  readdirSync(dir)
    .filter((n) => n.startsWith('kek-'))
    .sort();

/** Asserts a refusal: CoreError UNAVAILABLE whose message matches `re` and leaks no key material. */
function assertRefused(fn: () => unknown, re: RegExp, secrets: string[] = []): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CoreError, 'a CoreError');
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, re);
    assert.ok(!e.message.includes(base), 'no server path in the message');
    for (const s of secrets) assert.ok(!e.message.includes(s), 'no key material in the message');
    return true;
  });
}

describe('keyring files: init', () => {
  test('creates a 0700 directory and one 0600 key file of 32 random bytes', () => {
    const res = initKeyring(dir);
    assert.equal(res.created, true);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const files = kekFiles();
    assert.equal(files.length, 1);
    assert.equal(files[0], `kek-${res.currentId}.key`);
    assert.match(res.currentId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const path = join(dir, files[0]!);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'latin1');
    assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
    const key = Buffer.from(text, 'base64');
    assert.equal(key.length, 32);
    assert.notDeepEqual(key, Buffer.alloc(32));
  });

  test('is idempotent: a second init keeps the existing key', () => {
    const first = initKeyring(dir);
    const before = readFileSync(join(dir, `kek-${first.currentId}.key`));
    const second = initKeyring(dir);
    assert.equal(second.created, false);
    assert.equal(second.currentId, first.currentId);
    assert.deepEqual(kekFiles(), [`kek-${first.currentId}.key`]);
    assert.deepEqual(readFileSync(join(dir, `kek-${first.currentId}.key`)), before);
  });

  test('two keyrings get different keys', () => {
    const a = loadKeyring((initKeyring(dir), dir)).current();
    const dir2 = join(base, 'keys2');
    const b = loadKeyring((initKeyring(dir2), dir2)).current();
    assert.notEqual(a.id, b.id);
    assert.notDeepEqual(a.key, b.key);
  });
});

describe('keyring files: load', () => {
  test('loads the key that init wrote', () => {
    const { currentId } = initKeyring(dir);
    const ring = loadKeyring(dir);
    const cur = ring.current();
    assert.equal(cur.id, currentId);
    assert.deepEqual(cur.key, Buffer.from(readFileSync(join(dir, `kek-${currentId}.key`), 'latin1'), 'base64'));
    assert.equal(ring.get(currentId), cur);
    assert.equal(ring.get('nope'), undefined);
  });

  test('refuses a key file readable by group or others, naming the file and the mode', () => {
    const { currentId } = initKeyring(dir);
    const name = `kek-${currentId}.key`;
    const secret = readFileSync(join(dir, name), 'latin1').trim();
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      chmodSync(join(dir, name), mode);
      assertRefused(() => loadKeyring(dir), new RegExp(`${name}.*mode 0${mode.toString(8)}`), [secret]);
    }
    chmodSync(join(dir, name), 0o600);
    assert.equal(loadKeyring(dir).current().id, currentId);
  });

  test('refuses a key file with the wrong length', () => {
    initKeyring(dir);
    const cases = [
      randomBytes(31).toString('base64') + '\n',
      randomBytes(33).toString('base64') + '\n',
      '',
      randomBytes(32).toString('base64') + '\nextra\n',
      randomBytes(32).toString('hex') + '\n',
    ];
    for (const content of cases) {
      const name = `kek-${uuidv7()}.key`;
      writeFileSync(join(dir, name), content, { mode: 0o600 });
      assertRefused(() => loadKeyring(dir), new RegExp(`${name}.*wrong length`), content.trim() ? [content.trim()] : []);
      rmSync(join(dir, name));
    }
    loadKeyring(dir);
  });

  test('refuses an empty or missing directory, malformed names and symlinks', () => {
    assertRefused(() => loadKeyring(dir), /cannot be read/);
    initKeyring(dir);
    rmSync(join(dir, kekFiles()[0]!));
    assertRefused(() => loadKeyring(dir), /no key-encryption key/);

    initKeyring(dir);
    writeFileSync(join(dir, 'kek-mykey.key'), randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    assertRefused(() => loadKeyring(dir), /kek-mykey\.key.*unrecognised name/);
    rmSync(join(dir, 'kek-mykey.key'));

    const target = join(base, 'elsewhere.key');
    writeFileSync(target, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    const name = `kek-${uuidv7()}.key`;
    symlinkSync(target, join(dir, name));
    assertRefused(() => loadKeyring(dir), new RegExp(`${name}.*symlink`));
  });

  test('ignores files that are not key files', () => {
    const { currentId } = initKeyring(dir);
    writeFileSync(join(dir, 'README'), 'hello', { mode: 0o644 });
    assert.equal(loadKeyring(dir).current().id, currentId);
  });
});

describe('keyring files: rotation', () => {
  test('a rotated key becomes current; old keys stay loadable', () => {
    const { currentId: first } = initKeyring(dir);
    const { id: second } = rotateKeyring(dir);
    const { id: third } = rotateKeyring(dir);
    assert.ok(first < second && second < third, 'ids sort by creation');
    const ring = loadKeyring(dir);
    assert.equal(ring.current().id, third);
    assert.ok(ring.get(first) !== undefined && ring.get(second) !== undefined);
    assert.equal(statSync(join(dir, `kek-${third}.key`)).mode & 0o777, 0o600);
    assert.deepEqual(kekFiles(), [`kek-${first}.key`, `kek-${second}.key`, `kek-${third}.key`]);
  });

  test('the current key is the newest, whatever order the directory lists files in', () => {
    initKeyring(dir);
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push(rotateKeyring(dir).id);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(loadKeyring(dir).current().id, ids.at(-1));
  });

  test('rotation moves past a key dated in the future (clock behind)', () => {
    initKeyring(dir);
    const future = uuidv7({ msecs: Date.now() + 10 * 365 * 24 * 3600 * 1000 });
    writeFileSync(join(dir, `kek-${future}.key`), randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    const { id } = rotateKeyring(dir);
    assert.ok(id > future);
    assert.equal(loadKeyring(dir).current().id, id);
  });

  test('rotation refuses an uninitialised keyring', () => {
    assertRefused(() => rotateKeyring(dir), /cannot be read/);
  });

  test('objects sealed before a rotation stay readable after it; new objects use the new key', async () => {
    initKeyring(dir);
    const inner = createMemoryStore();
    const before = createEncryptedStore({ inner, keyring: loadKeyring(dir) });
    const oldKey = newKey();
    const oldData = randomBytes(100_000);
    await before.put(oldKey, chunked(oldData));

    const { id: newId } = rotateKeyring(dir);
    const after = createEncryptedStore({ inner, keyring: loadKeyring(dir) });
    assert.deepEqual(await readAll(await after.get(oldKey, oldData.length)), oldData);

    const freshKey = newKey();
    const fresh = randomBytes(1000);
    await after.put(freshKey, chunked(fresh));
    const header = inner.raw(freshKey)!;
    assert.equal(header.toString('latin1', 6, 6 + header[5]!), newId);
    assert.deepEqual(await readAll(await after.get(freshKey, fresh.length)), fresh);
  });
});
