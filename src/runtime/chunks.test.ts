import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chunkPipe, releasable } from './chunks.js';

const chunk = (n: number, fill = 1) => Buffer.alloc(n, fill);

describe('chunkPipe', () => {
  test('hands on the very chunks written, in order, then ends', async () => {
    const p = chunkPipe(1 << 20);
    const written = [chunk(10, 1), chunk(20, 2), chunk(30, 3)];
    for (const c of written) assert.equal(p.write(c), true);
    p.end();
    const got: Uint8Array[] = [];
    for await (const c of p.chunks) got.push(c);
    assert.equal(got.length, 3);
    got.forEach((c, i) => assert.equal(c, written[i])); // the same objects: nothing concatenated or copied
  });

  test('a writer past the limit waits for room; the reader gives it', async () => {
    const p = chunkPipe(100);
    assert.equal(p.write(chunk(60)), true);
    assert.equal(p.write(chunk(60)), false);
    let roomy = false;
    const waiting = p.room().then(() => (roomy = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(roomy, false);
    const it = p.chunks[Symbol.asyncIterator]();
    await it.next(); // 60 bytes left: below the limit
    await waiting;
    assert.equal(roomy, true);
    await p.room(); // already room: resolves at once
  });

  test('a reader waiting for chunks gets them as they are written', async () => {
    const p = chunkPipe(100);
    const it = p.chunks[Symbol.asyncIterator]();
    const next = it.next();
    const c = chunk(5);
    p.write(c);
    assert.equal((await next).value, c);
    const last = it.next();
    p.end();
    assert.equal((await last).done, true);
  });

  test('close releases what is queued and what comes later, and wakes a waiting writer and reader', async () => {
    const p = chunkPipe(10);
    const released: number[] = [];
    p.write(releasable(chunk(20), () => released.push(1)));
    const waiting = p.room();
    p.close();
    await waiting;
    assert.deepEqual(released, [1]);
    assert.equal(p.closed, true);
    p.write(releasable(chunk(5), () => released.push(2)));
    assert.deepEqual(released, [1, 2]);
    const r = await p.chunks[Symbol.asyncIterator]().next();
    assert.equal(r.done, true);
  });

  test('a reader that stops early closes the pipe', async () => {
    const p = chunkPipe(10);
    const released: number[] = [];
    p.write(chunk(1));
    p.write(releasable(chunk(20), () => released.push(1)));
    for await (const c of p.chunks) {
      assert.equal(c.length, 1);
      break;
    }
    assert.equal(p.closed, true);
    assert.deepEqual(released, [1]);
    await p.room();
  });
});
