import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import { createCryptoPool, type CryptoPool } from './crypto-pool.js';
import { openRunInPlace, sealedRunLength, sealRunInPlace, SEALED_SEGMENT_BYTES, SEGMENT_BYTES } from './segment-crypto.js';

const pools: CryptoPool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
});
function pool(opts: Parameters<typeof createCryptoPool>[0] = {}): CryptoPool {
  const p = createCryptoPool(opts);
  pools.push(p);
  return p;
}

/** A run buffer holding `plain` with room to seal it in place. */
function runOf(plain: Uint8Array): ArrayBuffer {
  const buf = new Uint8Array(sealedRunLength(plain.length));
  buf.set(plain);
  return buf.buffer;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('crypto pool', () => {
  test('seals and opens exactly as the in-thread functions do, hashing the whole stream', async () => {
    const p = pool({ size: 1 });
    const key = createSecretKey(randomBytes(32));
    const data = randomBytes(3 * SEGMENT_BYTES + 1234);
    const first = data.subarray(0, 2 * SEGMENT_BYTES);
    const last = data.subarray(2 * SEGMENT_BYTES);

    const ch = p.channel(key, { hash: true });
    const a = await ch.seal(runOf(first), first.length, 0, false);
    const b = await ch.seal(runOf(last), last.length, 2, true);
    ch.close();
    assert.equal(a.digest, undefined);
    assert.equal(b.digest, sha256(data));

    const expectA = new Uint8Array(runOf(first));
    const expectB = new Uint8Array(runOf(last));
    assert.equal(a.len, sealRunInPlace(key, expectA, first.length, 0, false));
    assert.equal(b.len, sealRunInPlace(key, expectB, last.length, 2, true));
    assert.deepEqual(new Uint8Array(a.buf, 0, a.len), expectA.subarray(0, a.len));
    assert.deepEqual(new Uint8Array(b.buf, 0, b.len), expectB.subarray(0, b.len));

    // and back: the sealed body opened by a worker gives the plaintext
    const sealed = Buffer.concat([new Uint8Array(a.buf, 0, a.len), new Uint8Array(b.buf, 0, b.len)]);
    const reader = p.channel(key, { hash: false });
    const copy = new Uint8Array(sealed).buffer;
    const opened = await reader.open(copy, sealed.length, 0, 3, data.length);
    reader.close();
    assert.equal(opened.failed, undefined);
    assert.deepEqual(Buffer.from(opened.buf, 0, opened.len), data);
  });

  test('reports a segment that fails verification, with the verified plaintext before it', async () => {
    const p = pool({ size: 1 });
    const key = createSecretKey(randomBytes(32));
    const data = randomBytes(3 * SEGMENT_BYTES);
    const buf = new Uint8Array(runOf(data));
    const len = sealRunInPlace(key, buf, data.length, 0, true);
    buf[SEALED_SEGMENT_BYTES + 5]! ^= 1; // segment 1
    const ch = p.channel(key, { hash: false });
    const r = await ch.open(buf.slice().buffer, len, 0, 2, data.length);
    ch.close();
    assert.deepEqual(r.failed?.index, 1);
    assert.equal(r.len, SEGMENT_BYTES);
    assert.deepEqual(Buffer.from(r.buf, 0, r.len), data.subarray(0, SEGMENT_BYTES));
    // the in-thread function agrees
    assert.deepEqual(openRunInPlace(key, buf, len, 0, 2, data.length).failed?.index, 1);
  });

  test('concurrent streams on one worker keep their keys, hashes and order apart', async () => {
    const p = pool({ size: 2 });
    const streams = Array.from({ length: 5 }, () => ({ key: createSecretKey(randomBytes(32)), data: randomBytes(4 * SEGMENT_BYTES + 99) }));
    const results = await Promise.all(
      streams.map(async ({ key, data }) => {
        const ch = p.channel(key, { hash: true });
        const runs = [data.subarray(0, 2 * SEGMENT_BYTES), data.subarray(2 * SEGMENT_BYTES, 4 * SEGMENT_BYTES), data.subarray(4 * SEGMENT_BYTES)];
        // all three in flight at once, interleaved with the other streams'
        const sealed = await Promise.all(runs.map((r, i) => ch.seal(runOf(r), r.length, 2 * i, i === 2)));
        ch.close();
        return sealed;
      }),
    );
    assert.ok(p.workers().length <= 2);
    for (const [i, { key, data }] of streams.entries()) {
      const sealed = results[i]!;
      assert.equal(sealed[2]!.digest, sha256(data), `stream ${i} hash`);
      const body = Buffer.concat(sealed.map((s) => new Uint8Array(s.buf, 0, s.len)));
      const buf = new Uint8Array(body);
      const r = openRunInPlace(key, buf, buf.length, 0, 4, data.length);
      assert.equal(r.failed, undefined, `stream ${i} opens`);
      assert.deepEqual(Buffer.from(buf.subarray(0, r.plainLen)), data, `stream ${i} data`);
    }
  });

  test('a worker that dies fails its streams (pending and later calls), and new streams get a fresh worker', async () => {
    const p = pool({ size: 1 });
    const key = createSecretKey(randomBytes(32));
    const ch = p.channel(key, { hash: true });
    await ch.seal(runOf(randomBytes(SEGMENT_BYTES)), SEGMENT_BYTES, 0, false);
    const [worker] = p.workers();
    assert.ok(worker);
    const pending = ch.seal(runOf(randomBytes(SEGMENT_BYTES)), SEGMENT_BYTES, 1, false);
    worker.ref(); // an idle worker is unref'd: keep the loop alive until it has exited
    await worker.terminate();
    await assert.rejects(pending, /crypto worker/);
    await assert.rejects(ch.seal(runOf(randomBytes(10)), 10, 2, true), /crypto worker/);
    assert.equal(p.workers().includes(worker), false);

    const again = p.channel(key, { hash: true });
    const data = randomBytes(100);
    const r = await again.seal(runOf(data), data.length, 0, true);
    again.close();
    assert.equal(r.digest, sha256(data));
  });

  test('a request the worker refuses fails that stream only', async () => {
    const p = pool({ size: 1 });
    const key = createSecretKey(randomBytes(32));
    const bad = p.channel(key, { hash: true });
    const good = p.channel(key, { hash: true });
    // a run that is not final must hold whole segments
    await assert.rejects(bad.seal(runOf(randomBytes(10)), 10, 0, false), /refused/);
    await assert.rejects(bad.seal(runOf(randomBytes(10)), 10, 1, true), /refused/);
    const data = randomBytes(5000);
    const r = await good.seal(runOf(data), data.length, 0, true);
    assert.equal(r.digest, sha256(data));
    bad.close();
    good.close();
  });

  test('bounds the bytes at the workers: a small budget still lets every stream through, in order', async () => {
    const p = pool({ size: 1, maxBytesInFlight: sealedRunLength(SEGMENT_BYTES) });
    const key = createSecretKey(randomBytes(32));
    const ch = p.channel(key, { hash: true });
    const data = randomBytes(8 * SEGMENT_BYTES);
    const sealed = await Promise.all(
      Array.from({ length: 8 }, (_, i) => ch.seal(runOf(data.subarray(i * SEGMENT_BYTES, (i + 1) * SEGMENT_BYTES)), SEGMENT_BYTES, i, i === 7)),
    );
    ch.close();
    assert.equal(sealed[7]!.digest, sha256(data));
    const buf = new Uint8Array(Buffer.concat(sealed.map((s) => new Uint8Array(s.buf, 0, s.len))));
    const r = openRunInPlace(key, buf, buf.length, 0, 7, data.length);
    assert.deepEqual(Buffer.from(buf.subarray(0, r.plainLen)), data);
  });

  test('a closed channel refuses further calls', async () => {
    const p = pool({ size: 1 });
    const ch = p.channel(createSecretKey(randomBytes(32)), { hash: false });
    ch.close();
    await assert.rejects(ch.seal(runOf(randomBytes(1)), 1, 0, true), /closed/);
  });
});
