/**
 * DownloadFile (download.ts): DATA replies are views of the store's chunks, and every chunk goes
 * back to the store (release protocol, runtime/chunks.ts) exactly once — only after it left the
 * look-behind AND every reply showing it was written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Core, Download, Principal } from '../../core/index.js';
import { releasable } from '../../runtime/chunks.js';
import { DownloadFile } from './download.js';

const CHUNK = 64 * 1024;

function fixture(content: Buffer) {
  const released = new Map<number, number>(); // chunk index → times released
  const opened: number[] = [];
  const download = (start: number): Download => {
    const chunks: Buffer[] = [];
    for (let at = start, i = Math.floor(start / CHUNK); at < content.length; i++) {
      const end = Math.min(content.length, (i + 1) * CHUNK);
      const index = i;
      chunks.push(releasable(Buffer.from(content.subarray(at, end)), () => released.set(index, (released.get(index) ?? 0) + 1)));
      at = end;
    }
    opened.push(start);
    const file = { id: 'f1', sha256: 'x', size: content.length, path: '/box/a.bin' };
    return { file, range: null, length: content.length - start, stream: Readable.from(chunks), finished: Promise.resolve() } as unknown as Download;
  };
  const core = { files: { openDownload: async (_p: Principal, _path: string, o: { range: { start: number } }) => download(o.range.start) } } as unknown as Core;
  const file = new DownloadFile(core, {} as Principal, '/box/a.bin', download(0), { lookbehind: CHUNK, skipAhead: 4 * CHUNK });
  return { file, released, opened };
}

const joined = (parts: Buffer[]) => Buffer.concat(parts.slice(1));

describe('sftp download handle', () => {
  it('answers READs with a header and views of the chunks, and gives every chunk back once', async () => {
    const content = randomBytes(10 * CHUNK + 123);
    const { file, released } = fixture(content);
    let got = Buffer.alloc(0);
    for (let off = 0; ; off += 40_000) {
      const r = await file.read(7, off, 40_000);
      if (!r) break;
      assert.equal(r.parts[0]!.length, 13);
      assert.equal(r.parts[0]!.readUInt32BE(9), r.bytes);
      got = Buffer.concat([got, joined(r.parts)]);
      r.release();
    }
    assert.deepEqual(got, content);
    file.close();
    assert.deepEqual(
      [...released.keys()].sort((a, b) => a - b),
      [...Array(11).keys()],
    );
    assert.ok(
      [...released.values()].every((n) => n === 1),
      'each chunk released exactly once',
    );
  });

  it('keeps a chunk while a reply showing it is not written, even when it left the look-behind', async () => {
    const content = randomBytes(8 * CHUNK);
    const { file, released } = fixture(content);
    const first = (await file.read(1, 0, CHUNK))!; // shows chunk 0, not yet written
    for (let off = CHUNK; off < 6 * CHUNK; off += CHUNK) (await file.read(2, off, CHUNK))!.release();
    assert.equal(released.has(0), false, 'chunk 0 is still shown by an unwritten reply');
    assert.ok(released.has(1) && released.has(2), 'chunks behind the look-behind and written are back');
    assert.deepEqual(joined(first.parts), content.subarray(0, CHUNK), 'the pinned view still holds its bytes');
    first.release();
    assert.equal(released.get(0), 1);
    first.release(); // a second call changes nothing
    assert.equal(released.get(0), 1);
    file.close();
  });

  it('a seek backwards opens a new download and returns the old chunks', async () => {
    const content = randomBytes(6 * CHUNK);
    const { file, released, opened } = fixture(content);
    for (let off = 0; off < 4 * CHUNK; off += CHUNK) (await file.read(1, off, CHUNK))!.release();
    const back = (await file.read(2, 10, 100))!;
    assert.deepEqual(opened, [0, 10]);
    assert.deepEqual(joined(back.parts), content.subarray(10, 110));
    back.release();
    for (const i of [0, 1, 2, 3]) assert.equal(released.get(i), 1, `chunk ${i} of the first download`);
    file.close();
  });
});
