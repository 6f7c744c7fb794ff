import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobKey, BlobStore, ByteRange } from '../../ports/blob-store.js';
import type { Kek, Keyring } from '../../ports/keyring.js';
import { CoreError } from '../../ports/errors.js';
import { createEncryptedStore, HEADER_BYTES, SEALED_SEGMENT_BYTES, SEGMENT_BYTES, sealedLength, type EncryptedStoreOptions } from './encrypted-store.js';
import { createCryptoPool, type CryptoPool } from './crypto-pool.js';
import { createMemoryStore } from './memory-store.js';
import { createLocalStore } from './local-store.js';
import { chunked, newKey, readAll, readOutcome } from './test-support.js';

const SEG = SEGMENT_BYTES;
const kek = (id: string, key: Buffer = randomBytes(32)): Kek => ({ id, key });
function ringOf(...keks: Kek[]): Keyring {
  const map = new Map(keks.map((k) => [k.id, k]));
  return { current: () => keks.at(-1)!, get: (id) => map.get(id) };
}
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// Every suite below runs in each mode: where sealing and opening happen must not change a byte.
const testPool = createCryptoPool({ size: 2 });
after(() => testPool.close());
const MODES: ReadonlyArray<{ readonly name: string; readonly opts: Partial<EncryptedStoreOptions> }> = [
  // the default: 1 MiB runs; objects and ranges of more than 16 segments go to the shared pool
  { name: 'default', opts: {} },
  { name: 'in-thread', opts: { pool: null } },
  // runs of 2 segments: everything of 3 segments or more goes through the workers
  { name: 'workers, runs of 2 segments', opts: { pool: testPool, runSegments: 2 } },
];

for (const mode of MODES) {
  const make = (inner: BlobStore, keyring: Keyring) => createEncryptedStore({ inner, keyring, ...mode.opts });

  function setup(keyring: Keyring = ringOf(kek('kek-a'))) {
    const inner = createMemoryStore({ chunkSize: 10_000 }); // chunks deliberately not aligned to segments
    return { inner, keyring, store: make(inner, keyring) };
  }

  async function expectIntegrity(open: () => Promise<import('node:stream').Readable>, plain?: Buffer, range?: ByteRange) {
    const out = await readOutcome(open);
    assert.ok(out.error instanceof CoreError, `expected a CoreError, got ${String(out.error)}`);
    assert.equal(out.error.code, 'INTEGRITY');
    assert.equal(out.error.message, 'stored file failed its integrity check');
    if (plain !== undefined) {
      // Whatever was emitted before the failure is genuine plaintext, from the start of the range.
      const from = range?.start ?? 0;
      assert.deepEqual(out.data, plain.subarray(from, from + out.data.length));
    }
    return out;
  }

  const SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 1024 * 1024 + 12345];

  describe(`encrypted store (${mode.name}): round trips`, () => {
    for (const size of SIZES) {
      test(`size ${size}: put, sha256, stored layout, every range of interest`, async () => {
        const { inner, store } = setup();
        const key = newKey();
        const data = randomBytes(size);
        const res = await store.put(key, chunked(data, [size > 5000 ? 4099 : 7, 65536, 100_000, 1]));
        assert.equal(res.size, size);
        assert.equal(res.sha256, sha256(data));
        const stored = inner.raw(key)!;
        assert.equal(stored.length, sealedLength(size));
        assert.equal(stored.length, HEADER_BYTES + size + 16 * Math.max(1, Math.ceil(size / SEG)));

        assert.deepEqual(await readAll(await store.get(key, size)), data, 'whole object');
        if (size === 0) {
          await assert.rejects(store.get(key, 0, { start: 0, end: 0 }), (e) => e instanceof CoreError && e.code === 'RANGE_NOT_SATISFIABLE');
          return;
        }
        const ranges: Array<[number, number]> = [
          [0, 0],
          [size - 1, size - 1],
          [0, size - 1],
          [Math.floor(size / 2), size - 1],
          [0, Math.min(size - 1, SEG - 1)],
        ];
        for (const b of [SEG, 2 * SEG, 3 * SEG, 16 * SEG]) {
          if (b < size) {
            ranges.push([b - 1, b], [b - 1, b - 1], [b, b], [b - 10, Math.min(size - 1, b + 10)], [b - SEG, b - 1]);
          }
        }
        if (size > 2 * SEG + 5) ranges.push([SEG - 3, 2 * SEG + 5]);
        for (const [start, end] of ranges) {
          const got = await readAll(await store.get(key, size, { start, end }));
          assert.deepEqual(got, data.subarray(start, end + 1), `range ${start}-${end}`);
        }
        // end past the last byte is clamped
        assert.deepEqual(await readAll(await store.get(key, size, { start: size - 1, end: size + 100 })), data.subarray(size - 1));
        await assert.rejects(store.get(key, size, { start: size, end: size }), (e) => e instanceof CoreError && e.code === 'RANGE_NOT_SATISFIABLE');
      });
    }

    test('a source yielding one huge chunk and one yielding single bytes give the same plaintext', async () => {
      const { store } = setup();
      const data = randomBytes(2 * SEG + 3);
      const k1 = newKey();
      const k2 = newKey();
      await store.put(k1, chunked(data, [data.length]));
      await store.put(k2, chunked(data.subarray(0, 70_000), [1]));
      assert.deepEqual(await readAll(await store.get(k1, data.length)), data);
      assert.deepEqual(await readAll(await store.get(k2, 70_000)), data.subarray(0, 70_000));
    });

    test('works over the local store too', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-enc-'));
      after(() => rm(dir, { recursive: true, force: true }));
      const store = make(createLocalStore({ dir }), ringOf(kek('k1')));
      const key = newKey();
      const data = randomBytes(5 * SEG + 17);
      const res = await store.put(key, chunked(data, [32 * 1024]));
      assert.equal(res.sha256, sha256(data));
      assert.deepEqual(await readAll(await store.get(key, data.length)), data);
      assert.deepEqual(await readAll(await store.get(key, data.length, { start: 3 * SEG - 2, end: 4 * SEG + 1 })), data.subarray(3 * SEG - 2, 4 * SEG + 2));
      const keys: string[] = [];
      for await (const k of store.keys()) keys.push(k);
      assert.deepEqual(keys, [key]);
      await store.delete(key);
      await assert.rejects(store.get(key, data.length), (e) => e instanceof CoreError && e.code === 'NOT_FOUND');
    });

    test('a range read fetches only the header and the segments it covers', async () => {
      const { inner, store } = setup();
      const calls: Array<ByteRange | undefined> = [];
      const spy: BlobStore = { ...inner, get: (k: BlobKey, r?: ByteRange) => (calls.push(r), inner.get(k, r)) };
      const spied = make(spy, setup().keyring);
      const key = newKey();
      const data = randomBytes(10 * SEG);
      await store.put(key, chunked(data));
      // `spied` has another KEK: it may only be used to observe the ranges requested before failing.
      await readOutcome(() => spied.get(key, data.length, { start: 4 * SEG + 10, end: 5 * SEG + 10 }));
      assert.deepEqual(calls, [
        { start: 0, end: HEADER_BYTES - 1 },
        { start: HEADER_BYTES + 4 * SEALED_SEGMENT_BYTES, end: HEADER_BYTES + 6 * SEALED_SEGMENT_BYTES - 1 },
      ]);
      calls.length = 0;
      await readOutcome(() => spied.get(key, data.length, { start: 5, end: SEG }));
      assert.deepEqual(calls, [
        { start: 0, end: HEADER_BYTES - 1 },
        { start: HEADER_BYTES, end: HEADER_BYTES + 2 * SEALED_SEGMENT_BYTES - 1 },
      ]);
      calls.length = 0;
      await readOutcome(() => spied.get(key, data.length, { start: 9 * SEG, end: 20 * SEG }));
      assert.deepEqual(calls, [
        { start: 0, end: HEADER_BYTES - 1 },
        { start: HEADER_BYTES + 9 * SEALED_SEGMENT_BYTES, end: sealedLength(data.length) - 1 },
      ]);
    });
  });

  describe(`encrypted store (${mode.name}): confidentiality and format`, () => {
    test('stored bytes contain no 16-byte window of the plaintext, nor the KEK', async () => {
      const k = kek('kek-a');
      const { inner, store } = setup(ringOf(k));
      for (const data of [randomBytes(3 * SEG + 100), Buffer.from('All work and no play makes Jack a dull boy. '.repeat(5000))]) {
        const key = newKey();
        await store.put(key, chunked(data));
        const stored = inner.raw(key)!;
        const windows = new Set<string>();
        for (let i = 0; i + 16 <= stored.length; i++) windows.add(stored.toString('latin1', i, i + 16));
        let found = 0;
        for (let i = 0; i + 16 <= data.length; i++) if (windows.has(data.toString('latin1', i, i + 16))) found++;
        assert.equal(found, 0);
        assert.equal(stored.indexOf(k.key), -1);
        assert.deepEqual(await readAll(await store.get(key, data.length)), data);
      }
    });

    test('matches the documented format (independent encoder and decoder)', async () => {
      const k = kek('kek-format-1');
      const { inner, store } = setup(ringOf(k));
      const data = randomBytes(2 * SEG + 999);
      const segments = (n: number) => Math.max(1, Math.ceil(n / SEG));
      const nonceOf = (i: number, final: boolean) => {
        const n = Buffer.alloc(12);
        n.writeBigUInt64BE(BigInt(i), 3);
        n[11] = final ? 1 : 0;
        return n;
      };

      // Encode by hand, read with the store.
      const key = newKey();
      const dataKey = randomBytes(32);
      const header = Buffer.alloc(130);
      header.write('SLC1', 0, 'latin1');
      header[4] = 1;
      header[5] = k.id.length;
      header.write(k.id, 6, 'latin1');
      const wrapNonce = randomBytes(12);
      wrapNonce.copy(header, 70);
      const w = createCipheriv('aes-256-gcm', k.key, wrapNonce);
      w.setAAD(Buffer.concat([header.subarray(0, 70), Buffer.from(key)]));
      Buffer.concat([w.update(dataKey), w.final(), w.getAuthTag()]).copy(header, 82);
      const parts = [header];
      const n = segments(data.length);
      for (let i = 0; i < n; i++) {
        const c = createCipheriv('aes-256-gcm', dataKey, nonceOf(i, i === n - 1));
        parts.push(c.update(data.subarray(i * SEG, (i + 1) * SEG)), c.final(), c.getAuthTag());
      }
      inner.setRaw(key, Buffer.concat(parts));
      assert.deepEqual(await readAll(await store.get(key, data.length)), data);

      // Write with the store, decode by hand.
      const key2 = newKey();
      await store.put(key2, chunked(data));
      const s = inner.raw(key2)!;
      assert.equal(s.toString('latin1', 0, 4), 'SLC1');
      assert.equal(s[4], 1);
      assert.equal(s.toString('latin1', 6, 6 + s[5]!), k.id);
      assert.ok(
        s.subarray(6 + s[5]!, 70).every((b) => b === 0),
        'id padding is zero',
      );
      const u = createDecipheriv('aes-256-gcm', k.key, s.subarray(70, 82));
      u.setAAD(Buffer.concat([s.subarray(0, 70), Buffer.from(key2)]));
      u.setAuthTag(s.subarray(114, 130));
      const dk = Buffer.concat([u.update(s.subarray(82, 114)), u.final()]);
      const out: Buffer[] = [];
      for (let i = 0, off = 130; i < n; i++) {
        const len = i === n - 1 ? data.length - i * SEG : SEG;
        const d = createDecipheriv('aes-256-gcm', dk, nonceOf(i, i === n - 1));
        d.setAuthTag(s.subarray(off + len, off + len + 16));
        out.push(d.update(s.subarray(off, off + len)), d.final());
        off += len + 16;
      }
      assert.deepEqual(Buffer.concat(out), data);
    });
  });

  describe(`encrypted store (${mode.name}): tampering is detected`, () => {
    async function sealed(size: number, keyring?: Keyring) {
      const ctx = setup(keyring);
      const key = newKey();
      const data = randomBytes(size);
      await ctx.store.put(key, chunked(data));
      return { ...ctx, key, data, raw: ctx.inner.raw(key)! };
    }
    const segStart = (i: number) => HEADER_BYTES + i * SEALED_SEGMENT_BYTES;

    test('one flipped byte in a segment: reads through it fail, reads elsewhere succeed', async () => {
      const { inner, store, key, data, raw } = await sealed(3 * SEG + 10);
      for (const pos of [segStart(1), segStart(1) + 5000, segStart(2) - 1 /* tag byte */]) {
        const t = Buffer.from(raw);
        t[pos]! ^= 0x01;
        inner.setRaw(key, t);
        const out = await expectIntegrity(() => store.get(key, data.length), data);
        assert.ok(out.data.length <= SEG, 'nothing of the tampered segment was emitted');
        await expectIntegrity(() => store.get(key, data.length, { start: SEG + 1, end: SEG + 2 }));
        assert.deepEqual(await readAll(await store.get(key, data.length, { start: 0, end: SEG - 1 })), data.subarray(0, SEG));
        assert.deepEqual(await readAll(await store.get(key, data.length, { start: 2 * SEG, end: 3 * SEG + 9 })), data.subarray(2 * SEG));
      }
    });

    test('a flipped byte anywhere in the header', async () => {
      const { inner, store, key, data, raw } = await sealed(100);
      for (const pos of [0, 3, 4, 5, 6, 20, 69, 70, 81, 82, 113, 114, 129]) {
        const t = Buffer.from(raw);
        t[pos]! ^= 0x80;
        inner.setRaw(key, t);
        const out = await expectIntegrity(() => store.get(key, data.length));
        assert.equal(out.phase, 'open', 'a bad header rejects before any stream exists');
      }
    });

    test('truncation by exactly one segment at a boundary', async () => {
      const { inner, store, key, data, raw } = await sealed(3 * SEG);
      inner.setRaw(key, raw.subarray(0, segStart(2)));
      await expectIntegrity(() => store.get(key, data.length), data);
      await expectIntegrity(() => store.get(key, data.length, { start: 3 * SEG - 1, end: 3 * SEG - 1 }));
      // ... even if the recorded size were also cut: segment 1 is not marked final
      await expectIntegrity(() => store.get(key, 2 * SEG), data);
      // the intact prefix is still readable
      assert.deepEqual(await readAll(await store.get(key, data.length, { start: 0, end: 2 * SEG - 1 })), data.subarray(0, 2 * SEG));
    });

    test('dropping the final (short) segment', async () => {
      const { inner, store, key, data, raw } = await sealed(3 * SEG + 100);
      inner.setRaw(key, raw.subarray(0, segStart(3)));
      await expectIntegrity(() => store.get(key, data.length), data);
      await expectIntegrity(() => store.get(key, 3 * SEG), data);
    });

    test('cutting the final segment short, or the whole body', async () => {
      const { inner, store, key, data, raw } = await sealed(SEG + 100);
      inner.setRaw(key, raw.subarray(0, raw.length - 1));
      await expectIntegrity(() => store.get(key, data.length), data);
      inner.setRaw(key, raw.subarray(0, HEADER_BYTES));
      await expectIntegrity(() => store.get(key, data.length), data);
      inner.setRaw(key, raw.subarray(0, 10));
      await expectIntegrity(() => store.get(key, data.length), data);
    });

    test('an empty object: its final segment must be there', async () => {
      const { inner, store, key, raw } = await sealed(0);
      assert.equal(raw.length, HEADER_BYTES + 16);
      inner.setRaw(key, raw.subarray(0, HEADER_BYTES));
      await expectIntegrity(() => store.get(key, 0));
    });

    test('a wrong recorded size', async () => {
      const { store, key, data } = await sealed(2 * SEG + 50);
      await expectIntegrity(() => store.get(key, data.length - 1), data);
      await expectIntegrity(() => store.get(key, data.length + 1), data);
      await expectIntegrity(() => store.get(key, 2 * SEG), data);
      await expectIntegrity(() => store.get(key, 0));
    });

    test('an inner store returning more bytes than asked for', async () => {
      const { inner, keyring, key, data } = await sealed(2 * SEG + 7);
      const sloppy: BlobStore = { ...inner, get: (k: BlobKey, r?: ByteRange) => inner.get(k, r && r.start > 0 ? { start: r.start, end: r.end + 16 } : r) };
      const store = make(sloppy, keyring);
      const out = await expectIntegrity(() => store.get(key, data.length, { start: 0, end: SEG - 1 }), data);
      assert.equal(out.phase, 'stream');
    });

    test('two segments swapped', async () => {
      const { inner, store, key, data, raw } = await sealed(3 * SEG + 1);
      const t = Buffer.from(raw);
      raw.copy(t, segStart(0), segStart(1), segStart(2));
      raw.copy(t, segStart(1), segStart(0), segStart(1));
      inner.setRaw(key, t);
      const out = await expectIntegrity(() => store.get(key, data.length), data);
      assert.equal(out.data.length, 0);
      await expectIntegrity(() => store.get(key, data.length, { start: SEG, end: SEG }));
    });

    test('two whole objects swapped between keys', async () => {
      const ctx = setup();
      const k1 = newKey();
      const k2 = newKey();
      const d1 = randomBytes(1000);
      const d2 = randomBytes(1000);
      await ctx.store.put(k1, chunked(d1));
      await ctx.store.put(k2, chunked(d2));
      const r1 = ctx.inner.raw(k1)!;
      const r2 = ctx.inner.raw(k2)!;
      ctx.inner.setRaw(k1, r2);
      ctx.inner.setRaw(k2, r1);
      await expectIntegrity(() => ctx.store.get(k1, d2.length));
      await expectIntegrity(() => ctx.store.get(k2, d1.length));
      // and only the header binds the key: a header from one object with the body of another fails too
      ctx.inner.setRaw(k1, Buffer.concat([r1.subarray(0, HEADER_BYTES), r2.subarray(HEADER_BYTES)]));
      await expectIntegrity(() => ctx.store.get(k1, d1.length));
    });

    test('a different KEK: same id with another key, or an unknown id', async () => {
      const { inner, key, data } = await sealed(5000, ringOf(kek('kek-a')));
      const sameIdOtherKey = make(inner, ringOf(kek('kek-a')));
      await expectIntegrity(() => sameIdOtherKey.get(key, data.length));
      const otherId = make(inner, ringOf(kek('kek-b')));
      await expectIntegrity(() => otherId.get(key, data.length));
    });
  });

  describe(`encrypted store (${mode.name}): put errors`, () => {
    test('an error thrown by the source propagates unchanged and nothing is stored', async () => {
      for (const failAt of [0, 1, SEG, SEG + 1, 5 * SEG]) {
        const { inner, store } = setup();
        const key = newKey();
        const limit = new CoreError('TOO_LARGE', 'file exceeds the size limit');
        async function* source() {
          const data = randomBytes(failAt);
          yield* chunked(data, [10_000]);
          throw limit;
        }
        await assert.rejects(store.put(key, source()), (e) => e === limit);
        assert.equal(await inner.stat(key), null);
      }
    });

    test('over the local store: same error object, no object, no temp file', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-enc-'));
      after(() => rm(dir, { recursive: true, force: true }));
      const inner = createLocalStore({ dir });
      const store = make(inner, ringOf(kek('k1')));
      const key = newKey();
      const quota = new CoreError('QUOTA_EXCEEDED', 'quota exceeded');
      async function* source() {
        yield randomBytes(3 * SEG);
        throw quota;
      }
      await assert.rejects(store.put(key, source()), (e) => e === quota);
      assert.equal(await inner.stat(key), null);
      assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    });

    test('abort via signal', async () => {
      const { inner, store } = setup();
      const key = newKey();
      const ac = new AbortController();
      async function* source() {
        yield randomBytes(2 * SEG);
        ac.abort();
        yield randomBytes(10);
      }
      await assert.rejects(store.put(key, source(), { signal: ac.signal }), (e) => e instanceof CoreError && e.code === 'ABORTED');
      assert.equal(await inner.stat(key), null);
    });

    test('invalid keys are refused before anything else', async () => {
      const { store } = setup();
      for (const bad of ['../x', '..', 'a/b', '']) {
        const k = bad as BlobKey;
        await assert.rejects(store.put(k, chunked(Buffer.from('x'))), (e) => e instanceof CoreError && e.code === 'INTERNAL');
        await assert.rejects(store.get(k, 1), (e) => e instanceof CoreError && e.code === 'INTERNAL');
      }
    });
  });
}

describe('encrypted store: crypto workers', () => {
  const isInternal = (e: unknown) => e instanceof CoreError && e.code === 'INTERNAL';
  /** Terminates the pool's workers, as a crash would. */
  const killWorkers = async (pool: CryptoPool) => {
    // The pool refs and unrefs its workers as answers come in, so ref'ing the worker here could be
    // undone before it has exited: a timer keeps the event loop alive until then.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await Promise.all(pool.workers().map((w) => w.terminate()));
    } finally {
      clearInterval(keepAlive);
    }
  };

  test('small objects and ranges stay on the calling thread: no worker is started', async () => {
    const pool = createCryptoPool({ size: 1 });
    after(() => pool.close());
    const inner = createMemoryStore();
    const store = createEncryptedStore({ inner, keyring: ringOf(kek('k')), pool });
    const key = newKey();
    const data = randomBytes(10 * 1024);
    await store.put(key, chunked(data, [4096]));
    assert.deepEqual(await readAll(await store.get(key, data.length)), data);
    assert.equal(pool.workers().length, 0);
  });

  test('a worker that dies during a put fails it with INTERNAL and leaves nothing, not even a temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-enc-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const pool = createCryptoPool({ size: 1 });
    after(() => pool.close());
    const inner = createLocalStore({ dir });
    const store = createEncryptedStore({ inner, keyring: ringOf(kek('k')), pool, runSegments: 2 });
    const key = newKey();
    async function* source() {
      for (let i = 0; i < 4; i++) yield randomBytes(2 * SEG);
      // runs are at the worker now: kill it, then keep sending
      await killWorkers(pool);
      for (let i = 0; i < 4; i++) yield randomBytes(2 * SEG);
    }
    await assert.rejects(store.put(key, source()), (e) => isInternal(e) && /crypto worker/.test(String((e as CoreError).cause)));
    assert.equal(await inner.stat(key), null);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    // the pool recovers: the next large put works on a fresh worker
    const data = randomBytes(5 * SEG + 1);
    await store.put(key, chunked(data));
    assert.deepEqual(await readAll(await store.get(key, data.length)), data);
  });

  test('a worker that refuses a run fails the put with INTERNAL; the source error rule is unaffected', async () => {
    const inner = createMemoryStore();
    let calls = 0;
    // the second run sealed is refused, as a worker that fails would
    const failing: CryptoPool = {
      size: 1,
      workers: () => testPool.workers(),
      close: async () => {},
      channel: (k, o) => {
        const ch = testPool.channel(k, o);
        return {
          seal: (...a) => (++calls === 2 ? Promise.reject(new Error('boom')) : ch.seal(...a)),
          open: (...a) => ch.open(...a),
          close: () => ch.close(),
        };
      },
    };
    const store = createEncryptedStore({ inner, keyring: ringOf(kek('k')), pool: failing, runSegments: 2 });
    const key = newKey();
    await assert.rejects(store.put(key, chunked(randomBytes(9 * SEG), [SEG])), isInternal);
    assert.equal(await inner.stat(key), null);
  });

  test('a worker that dies during a get ends the stream with INTERNAL after genuine plaintext only', async () => {
    const pool = createCryptoPool({ size: 1 });
    after(() => pool.close());
    const inner = createMemoryStore({ chunkSize: 3 * SEALED_SEGMENT_BYTES });
    const store = createEncryptedStore({ inner, keyring: ringOf(kek('k')), pool, runSegments: 2 });
    const key = newKey();
    const data = randomBytes(40 * SEG + 5);
    await store.put(key, chunked(data));
    const stream = await store.get(key, data.length);
    const parts: Buffer[] = [];
    let error: unknown;
    try {
      for await (const c of stream) {
        parts.push(Buffer.from(c as Buffer));
        if (parts.length === 2) await killWorkers(pool);
      }
    } catch (e) {
      error = e;
    }
    assert.ok(isInternal(error), `expected INTERNAL, got ${String(error)}`);
    const got = Buffer.concat(parts);
    assert.ok(got.length < data.length);
    assert.deepEqual(got, data.subarray(0, got.length));
  });

  test('concurrent puts and gets on the pool keep every stream to its own bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-enc-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const store = createEncryptedStore({ inner: createLocalStore({ dir }), keyring: ringOf(kek('k')), pool: testPool, runSegments: 2 });
    const files = Array.from({ length: 8 }, (_, i) => ({ key: newKey(), data: randomBytes(i * 3 * SEG + 1000 * i) }));
    const puts = await Promise.all(files.map((f, i) => store.put(f.key, chunked(f.data, [7000 + i * 13_000]))));
    for (const [i, f] of files.entries()) assert.equal(puts[i]!.sha256, sha256(f.data), `file ${i}`);
    const reads = await Promise.all(files.map(async (f) => readAll(await store.get(f.key, f.data.length))));
    for (const [i, f] of files.entries()) assert.deepEqual(reads[i], f.data, `file ${i}`);
    const ranges = await Promise.all(
      files
        .filter((f) => f.data.length > 5 * SEG)
        .map(async (f) => ({ f, got: await readAll(await store.get(f.key, f.data.length, { start: SEG + 7, end: 5 * SEG - 3 })) })),
    );
    for (const { f, got } of ranges) assert.deepEqual(got, f.data.subarray(SEG + 7, 5 * SEG - 2));
  });
});

describe('encrypted store: open (sealed bytes held by the caller, e.g. small files in the database)', () => {
  const keyring = ringOf(kek('kek-a'));
  const store = createEncryptedStore({ inner: createMemoryStore({}), keyring });
  const key = newKey();
  const bytesOf = async (sealed: Buffer, size: number, range?: ByteRange, k = key) => readAll(await store.open(k, sealed, size, range));

  test('returns what was sealed, whole and in ranges, also for an empty and a whole-segment object', async () => {
    for (const size of [0, 1, 1000, SEG]) {
      const plain = randomBytes(size);
      const s = store.seal(key, [plain.subarray(0, size >> 1), plain.subarray(size >> 1)]);
      assert.equal(s.size, size);
      assert.equal(s.sha256, sha256(plain));
      assert.equal(s.sealed.length, sealedLength(size));
      assert.deepEqual(await bytesOf(s.sealed, size), plain);
      if (size > 2) {
        assert.deepEqual(await bytesOf(s.sealed, size, { start: 1, end: size - 2 }), plain.subarray(1, size - 1));
        assert.deepEqual(await bytesOf(s.sealed, size, { start: size - 1, end: size + 100 }), plain.subarray(size - 1));
      }
    }
  });

  test('refuses a tampered, truncated or extended object, another blob key, and an unsatisfiable range', async () => {
    const plain = randomBytes(5000);
    const { sealed } = store.seal(key, [plain]);
    // A bad segment fails the stream (as get does), a bad length or key the call: both reject here.
    const failsIntegrity = async (p: () => Promise<unknown>) => {
      const err = await p().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof CoreError, `expected a CoreError, got ${String(err)}`);
      assert.equal(err.code, 'INTEGRITY');
    };
    const flipped = Buffer.from(sealed);
    flipped[HEADER_BYTES + 100]! ^= 1;
    await failsIntegrity(() => bytesOf(flipped, 5000));
    const tag = Buffer.from(sealed);
    tag[tag.length - 1]! ^= 1;
    await failsIntegrity(() => bytesOf(tag, 5000));
    await failsIntegrity(() => bytesOf(sealed.subarray(0, sealed.length - 1), 5000));
    await failsIntegrity(() => bytesOf(Buffer.concat([sealed, Buffer.alloc(1)]), 5000));
    await failsIntegrity(() => bytesOf(sealed, 4999));
    await failsIntegrity(() => bytesOf(sealed, 5000, undefined, newKey()));
    const err = await bytesOf(sealed, 5000, { start: 5000, end: 5001 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof CoreError && err.code === 'RANGE_NOT_SATISFIABLE', String(err));
  });
});
