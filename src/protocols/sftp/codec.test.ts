import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Framer, recyclePacket } from './codec.js';

/** One SFTP packet of `len` bytes (type byte first), cut into pieces of `piece` bytes as ssh2 delivers them. */
function pieces(len: number, piece: number, fill: number): Buffer[] {
  const whole = Buffer.alloc(4 + len, fill);
  whole.writeUInt32BE(len, 0);
  const out: Buffer[] = [];
  for (let at = 0; at < whole.length; at += piece) out.push(whole.subarray(at, at + piece));
  return out;
}

describe('Framer', () => {
  test('large packets come from a free list and are reused once given back', () => {
    const f = new Framer(300 * 1024);
    for (const p of pieces(200 * 1024, 32 * 1024, 7)) f.push(p);
    const a = f.next()!;
    assert.equal(a.length, 200 * 1024);
    assert.ok(a.every((b) => b === 7));
    recyclePacket(a);
    for (const p of pieces(150 * 1024, 32 * 1024, 9)) f.push(p);
    const b = f.next()!;
    assert.equal(b.buffer, a.buffer, 'the recycled memory is reused');
    assert.equal(b.length, 150 * 1024);
    assert.ok(b.every((x) => x === 9));
    // Not given back: the next one is other memory.
    for (const p of pieces(150 * 1024, 32 * 1024, 3)) f.push(p);
    const c = f.next()!;
    assert.notEqual(c.buffer, b.buffer);
    recyclePacket(b);
    recyclePacket(b); // twice is harmless: it is listed once
    for (const p of pieces(100 * 1024, 32 * 1024, 4)) f.push(p);
    for (const p of pieces(100 * 1024, 32 * 1024, 5)) f.push(p);
    const d = f.next()!;
    const e = f.next()!;
    assert.notEqual(d.buffer, e.buffer);
    assert.ok(d.every((x) => x === 4) && e.every((x) => x === 5));
  });

  test('small packets and packets inside one piece are not pooled; giving them back does nothing', () => {
    const f = new Framer(300 * 1024);
    const [whole] = pieces(100 * 1024, 200 * 1024, 1);
    f.push(whole!);
    const a = f.next()!;
    assert.equal(a.buffer, whole!.buffer); // a view, no copy
    recyclePacket(a);
    for (const p of pieces(1000, 300, 2)) f.push(p);
    const b = f.next()!;
    assert.equal(b.length, 1000);
    recyclePacket(b);
    for (const p of pieces(100 * 1024, 32 * 1024, 6)) f.push(p);
    const c = f.next()!;
    assert.notEqual(c.buffer, a.buffer);
    assert.notEqual(c.buffer, b.buffer);
  });
});
