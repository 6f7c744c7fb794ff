/**
 * Property tests of the SFTP wire decoder (issue 14 §4): the framer cuts the same packets however
 * the channel data is chunked and refuses lengths of 0 and over the maximum; the reader, fed any
 * bytes, returns values inside the packet or throws BadMessage — never anything else, never reads
 * past the end.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BadMessage, Framer, Reader } from '../../src/protocols/sftp/codec.js';
import { budget } from './config.js';

const MAX = 256 * 1024;
const frame = (p: Uint8Array) => {
  const b = Buffer.alloc(4 + p.length);
  b.writeUInt32BE(p.length, 0);
  Buffer.from(p).copy(b, 4);
  return b;
};

describe('fuzz: SFTP codec', () => {
  it('the framer yields the same packets for any chunking of the stream', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (packets, cuts) => {
          const stream = Buffer.concat(packets.map(frame));
          const f = new Framer(MAX);
          const out: Buffer[] = [];
          let off = 0;
          for (let i = 0; off < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            f.push(stream.subarray(off, off + n));
            off += n;
            for (let p = f.next(); p; p = f.next()) out.push(Buffer.from(p));
          }
          assert.deepEqual(
            out.map((b) => b.toString('hex')),
            packets.map((p) => Buffer.from(p).toString('hex')),
          );
          assert.equal(f.bufferedBytes, 0);
        },
      ),
      budget(300),
    );
  });

  it('the framer refuses a length of 0 or over the maximum, whatever follows', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.integer({ min: MAX + 1, max: 0xffffffff })), fc.uint8Array({ maxLength: 64 }), (len, rest) => {
        const f = new Framer(MAX);
        const b = Buffer.alloc(4);
        b.writeUInt32BE(len, 0);
        f.push(Buffer.concat([b, rest]));
        assert.throws(() => f.next(), /packet length/);
      }),
      budget(300),
    );
  });

  it('the reader, fed any bytes, returns values within the packet or throws BadMessage', () => {
    const ops = ['u8', 'u32', 'u64', 'bytes', 'text', 'attrs'] as const;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .array(
              fc.oneof(
                fc.constant([0xff, 0xff, 0xff, 0xff]),
                fc.constant([0, 0, 0, 0x0f]),
                fc.constant([0x7f, 0xff, 0xff, 0xff]),
                fc.uint8Array({ maxLength: 8 }).map((a) => [...a]),
              ),
            )
            .map((a) => Uint8Array.from(a.flat())),
        ),
        fc.array(fc.constantFrom(...ops), { minLength: 1, maxLength: 12 }),
        (bytes, seq) => {
          const r = new Reader(Buffer.from(bytes));
          for (const op of seq) {
            try {
              const v = r[op]();
              if (Buffer.isBuffer(v)) assert.ok(v.length <= bytes.length);
              if (typeof v === 'number') assert.ok(Number.isSafeInteger(v) && v >= 0);
              assert.ok(r.remaining >= 0);
            } catch (e) {
              assert.ok(e instanceof BadMessage, `${op} threw ${(e as Error).name}: ${(e as Error).message}`);
              return;
            }
          }
        },
      ),
      budget(2000),
    );
  });
});
