import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, truncate, writeFile, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobKey, BlobStore } from '../../ports/blob-store.js';
import { CoreError } from '../../ports/errors.js';
import { createLocalStore } from './local-store.js';
import { IO_CHUNK_BYTES, isIoBuffer } from './common.js';
import { chunked, newKey, readAll, readOutcome } from './test-support.js';

let dir: string;
let store: BlobStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-local-'));
  store = createLocalStore({ dir });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isCode = (code: string) => (e: unknown) => e instanceof CoreError && e.code === code;
const objectPath = (key: string) => join(dir, 'objects', key.slice(0, 2), key);

describe('local store: put and get', () => {
  test('round trip, layout and modes', async () => {
    const key = newKey();
    const data = randomBytes(200_000);
    const res = await store.put(key, chunked(data, [1, 7, 65536, 100_000, 3]));
    assert.equal(res.size, data.length);
    const st = await stat(objectPath(key));
    assert.equal(st.size, data.length);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'objects'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'objects', key.slice(0, 2)))).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'tmp'))).mode & 0o777, 0o700);
    assert.deepEqual(await readAll(await store.get(key)), data);
    assert.deepEqual(await store.stat(key), { size: data.length });
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('many small chunks are coalesced without losing or reordering bytes', async () => {
    const key = newKey();
    const data = randomBytes(300_000);
    await store.put(key, chunked(data, [1, 2, 3, 100, 5000, 16383, 16384, 40_000, 17]));
    assert.deepEqual(await readAll(await store.get(key)), data);
  });

  test('empty object', async () => {
    const key = newKey();
    assert.deepEqual(await store.put(key, chunked(Buffer.alloc(0))), { size: 0 });
    assert.equal((await readAll(await store.get(key))).length, 0);
    assert.deepEqual(await store.stat(key), { size: 0 });
  });

  test('inclusive ranges', async () => {
    const key = newKey();
    const data = randomBytes(100_000);
    await store.put(key, chunked(data));
    const cases: Array<[number, number]> = [
      [0, 0],
      [99_999, 99_999],
      [65_535, 65_536],
      [1, 98_765],
      [0, 99_999],
    ];
    for (const [start, end] of cases) {
      const got = await readAll(await store.get(key, { start, end }));
      assert.deepEqual(got, data.subarray(start, end + 1), `range ${start}-${end}`);
    }
    // end past the last byte is clamped, as in HTTP
    assert.deepEqual(await readAll(await store.get(key, { start: 99_990, end: 1_000_000 })), data.subarray(99_990));
    await assert.rejects(store.get(key, { start: 100_000, end: 100_001 }), isCode('RANGE_NOT_SATISFIABLE'));
    await assert.rejects(store.get(key, { start: 5, end: 4 }), isCode('INTERNAL'));
    await assert.rejects(store.get(key, { start: -1, end: 4 }), isCode('INTERNAL'));
  });

  test('missing key: get NOT_FOUND, stat null, delete idempotent', async () => {
    const key = newKey();
    await assert.rejects(store.get(key), isCode('NOT_FOUND'));
    assert.equal(await store.stat(key), null);
    await store.delete(key);
    await store.put(key, chunked(Buffer.from('x')));
    await store.delete(key);
    await store.delete(key);
    await assert.rejects(store.get(key), isCode('NOT_FOUND'));
  });

  test('keys() lists stored keys and ignores foreign files', async () => {
    const keys = [newKey(), newKey(), newKey()];
    for (const k of keys) await store.put(k, chunked(Buffer.from(k)));
    await writeFile(join(dir, 'objects', 'zz-not-a-shard'), 'junk');
    await writeFile(join(dir, 'objects', keys[0]!.slice(0, 2), 'junk'), 'junk');
    const listed: string[] = [];
    for await (const k of store.keys()) listed.push(k);
    assert.deepEqual(listed.sort(), [...keys].sort());
  });
});

describe('local store: atomicity', () => {
  test('a failing source propagates its error unchanged and leaves nothing', async () => {
    const key = newKey();
    const boom = new CoreError('TOO_LARGE', 'too large');
    async function* source() {
      yield randomBytes(70_000);
      yield randomBytes(10);
      throw boom;
    }
    await assert.rejects(store.put(key, source()), (e) => e === boom);
    assert.equal(await store.stat(key), null);
    await assert.rejects(store.get(key), isCode('NOT_FOUND'));
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.equal(await store.sweepTemp(), 0);
  });

  test('an object is invisible until put completes', async () => {
    const key = newKey();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstWritten!: () => void;
    const started = new Promise<void>((r) => (firstWritten = r));
    async function* source() {
      yield Buffer.from('first half;');
      firstWritten();
      await gate;
      yield Buffer.from('second half');
    }
    const p = store.put(key, source());
    await started;
    assert.equal(await store.stat(key), null);
    await assert.rejects(store.get(key), isCode('NOT_FOUND'));
    assert.equal((await readdir(join(dir, 'tmp'))).length, 1);
    release();
    await p;
    assert.equal((await readAll(await store.get(key))).toString(), 'first half;second half');
  });

  test('abort while the source is stalled rejects promptly with ABORTED and cleans up', async () => {
    const key = newKey();
    const ac = new AbortController();
    let returned = false;
    const source: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]() {
        let n = 0;
        return {
          next: () => (n++ === 0 ? Promise.resolve({ done: false, value: randomBytes(1000) }) : new Promise(() => {})),
          return: async () => {
            returned = true;
            return { done: true, value: undefined };
          },
        };
      },
    };
    const p = store.put(key, source, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, isCode('ABORTED'));
    assert.equal(returned, true, 'the source was told to stop');
    assert.equal(await store.stat(key), null);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('abort with a CoreError reason rejects with that reason; a pre-aborted signal writes nothing', async () => {
    const key = newKey();
    const reason = new CoreError('ABORTED', 'client went away');
    const ac = new AbortController();
    async function* source() {
      yield Buffer.from('a');
      ac.abort(reason);
      yield Buffer.from('b');
    }
    await assert.rejects(store.put(key, source(), { signal: ac.signal }), (e) => e === reason);
    assert.equal(await store.stat(key), null);
    await assert.rejects(store.put(key, chunked(Buffer.from('x')), { signal: ac.signal }), (e) => e === reason);
    assert.equal(await store.stat(key), null);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('sweepTemp removes leftovers of crashed puts and counts them', async () => {
    await store.check();
    await writeFile(join(dir, 'tmp', `${newKey()}.deadbeef`), 'partial');
    await writeFile(join(dir, 'tmp', `${newKey()}.cafebabe`), 'partial');
    assert.equal(await store.sweepTemp(), 2);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.equal(await store.sweepTemp(), 0);
  });

  test('sweepTemp(keys) removes only the leftovers of those keys', async () => {
    await store.check();
    const [dead, alive, other] = [newKey(), newKey(), newKey()];
    await writeFile(join(dir, 'tmp', `${dead}.deadbeef`), 'partial');
    await writeFile(join(dir, 'tmp', `${alive}.cafebabe`), 'still being written');
    assert.equal(await store.sweepTemp([dead, other]), 1);
    assert.deepEqual(await readdir(join(dir, 'tmp')), [`${alive}.cafebabe`]);
    await assert.rejects(store.sweepTemp(['../x' as BlobKey]), { code: 'INTERNAL', message: 'invalid blob key' });
    assert.equal(await store.sweepTemp(), 1);
  });
});

describe('local store: key validation', () => {
  const bad = [
    '../x',
    '../../etc/passwd',
    '/etc/passwd',
    '',
    'x',
    '0190a4e2-7c1d-7b3e-8f00-00000000000', // one digit short
    '0190A4E2-7C1D-7B3E-8F00-000000000000', // upper case
    '0190a4e2-7c1d-7b3e-8f00-000000000000\n',
    '0190a4e2/7c1d-7b3e-8f00-000000000000',
    '01/../../7c1d-7b3e-8f00-000000000000',
    '0190a4e2-7c1d-7b3e-8f00-00000000000\0',
  ];
  for (const key of bad) {
    test(`rejects ${JSON.stringify(key)} in every method`, async () => {
      const k = key as BlobKey;
      await assert.rejects(store.put(k, chunked(Buffer.from('x'))), isCode('INTERNAL'));
      await assert.rejects(store.get(k), isCode('INTERNAL'));
      await assert.rejects(store.stat(k), isCode('INTERNAL'));
      await assert.rejects(store.delete(k), isCode('INTERNAL'));
      // nothing was created anywhere
      assert.deepEqual(await readdir(dir), []);
    });
  }
});

describe('local store: check', () => {
  test('passes on a writable directory and leaves no probe behind', async () => {
    await store.check();
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('fails with UNAVAILABLE when the directory cannot be created', async () => {
    await writeFile(join(dir, 'file'), 'x');
    const broken = createLocalStore({ dir: join(dir, 'file', 'sub') });
    await assert.rejects(broken.check(), isCode('UNAVAILABLE'));
  });

  test('get of a stored key does not follow a planted symlink', async () => {
    const key = newKey();
    await mkdir(join(dir, 'objects', key.slice(0, 2)), { recursive: true });
    await writeFile(join(dir, 'secret'), 'secret');
    const { symlink } = await import('node:fs/promises');
    await symlink(join(dir, 'secret'), objectPath(key));
    const out = await readOutcome(() => store.get(key));
    assert.ok(out.error !== undefined, 'reading through a symlink must fail');
    assert.equal(out.data.length, 0);
  });
});

describe('local store: pipelined writes and read-ahead', () => {
  const MiB = 1024 * 1024;

  test('a 40 MiB put (past a background sync) in chunks of every size round-trips, whole and in ranges', async () => {
    const key = newKey();
    const data = randomBytes(40 * MiB + 12345);
    const res = await store.put(key, chunked(data, [1, 100, 4095, 4096, 70_000, MiB, 3 * MiB + 1, 17]));
    assert.equal(res.size, data.length);
    assert.equal((await stat(objectPath(key))).size, data.length);
    assert.ok((await readAll(await store.get(key))).equals(data), 'whole object');
    const C = IO_CHUNK_BYTES;
    for (const [start, end] of [
      [C - 5, 3 * C + 7],
      [0, C - 1],
      [C, C],
      [7 * C + 3, data.length - 1],
      [data.length - 1, data.length - 1],
    ] as const) {
      assert.ok((await readAll(await store.get(key, { start, end }))).equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
    }
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('a source failing with writes in flight leaves nothing behind', async () => {
    const key = newKey();
    const boom = new Error('client went away');
    async function* source() {
      for (let i = 0; i < 12; i++) yield randomBytes(MiB);
      throw boom;
    }
    await assert.rejects(store.put(key, source()), (e) => e === boom);
    assert.equal(await store.stat(key), null);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('reads come in chunks of IO_CHUNK_BYTES, each the start of a buffer the reader may take over', async () => {
    const key = newKey();
    const data = randomBytes(3 * IO_CHUNK_BYTES + 99);
    await store.put(key, chunked(data, [MiB]));
    const chunks: Buffer[] = [];
    // 'data' events, not the stream's iterator: that one joins whatever is buffered
    const s = await store.get(key);
    s.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve, reject) => s.on('end', resolve).on('error', reject));
    assert.deepEqual(
      chunks.map((c) => c.length),
      [IO_CHUNK_BYTES, IO_CHUNK_BYTES, IO_CHUNK_BYTES, 99],
    );
    assert.ok(chunks.slice(0, 3).every(isIoBuffer));
    assert.ok(Buffer.concat(chunks).equals(data));
  });

  test('a file cut short after it was opened ends the stream early (the reader above notices)', async () => {
    const key = newKey();
    const data = randomBytes(6 * IO_CHUNK_BYTES);
    await store.put(key, chunked(data, [MiB]));
    const stream = await store.get(key);
    await truncate(objectPath(key), IO_CHUNK_BYTES + 10);
    const got = await readAll(stream);
    assert.ok(got.length < data.length);
    assert.ok(got.equals(data.subarray(0, got.length)));
  });

  test('streams destroyed early, with reads in flight, close their files', async () => {
    const key = newKey();
    await store.put(key, chunked(randomBytes(8 * IO_CHUNK_BYTES), [MiB]));
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const before = await fds();
    for (let i = 0; i < 20; i++) {
      const s = await store.get(key);
      await new Promise<void>((resolve) => s.once('data', () => resolve()));
      s.destroy();
      await new Promise((resolve) => s.once('close', resolve));
    }
    // give the handles' pending reads a moment to finish and the closes to complete
    for (let i = 0; i < 50 && (await fds()) > before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await fds(), before);
  });
});
