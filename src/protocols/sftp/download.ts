/**
 * An SFTP file opened for reading, on top of core downloads (core.files.openDownload).
 *
 * Each core download records a read in the ledger and opens the stored blob, so a handle keeps
 * ONE download stream while the client reads sequentially (the usual case: 32-255 KiB READs one
 * after another, many outstanding) and serves every READ from it. It keeps the last
 * `lookbehind` bytes it pulled and may skip `skipAhead` bytes forward, so READs that arrive
 * slightly out of order (pipelining clients) are still served from the same stream. Only a real
 * seek (backwards beyond what is kept, or far ahead) opens a new, ranged download.
 *
 * A seek that finds a different file under the name (replaced since the OPEN) fails the READ:
 * one handle never mixes two versions of a file.
 *
 * Chunks are taken from the stream one by one as the store pushed them (a Readable's own iterator
 * would concatenate whatever is buffered: a copy and a new buffer per READ). A DATA reply is not
 * copied together: it is a 13-byte header and views of the chunks it covers, written to the
 * channel one after the other (ssh2 copies them into its packets once). A chunk is released
 * (runtime/chunks.ts), so the store reuses its buffer, once it has left the lookbehind AND no
 * reply that shows it is still waiting to be written: the reply's `release` says when.
 */
import type { Core, Download, Principal } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { chunksOf, releaseChunk } from '../../runtime/chunks.js';
import { encode } from './codec.js';

export interface DownloadLimits {
  readonly lookbehind: number;
  readonly skipAhead: number;
}

export class DownloadFile {
  readonly size: number;
  private readonly fileId: string;
  private readonly sha256: string | null;
  private iter: AsyncIterator<Buffer> | undefined;
  private current: Download | undefined;
  /** Chunks pulled from the stream, covering [qStart, pos). */
  private queue: Buffer[] = [];
  /** Chunks shown by replies not written yet (how many), and those to release once they are not. */
  private readonly pins = new Map<Buffer, number>();
  private readonly retired = new Set<Buffer>();
  private qStart = 0;
  private pos = 0;
  private ended = false;
  private closed = false;
  /** Bytes handed to the client. */
  served = 0;
  /** Downloads opened (1 + seeks). */
  opened = 1;

  constructor(
    private readonly core: Core,
    private readonly principal: Principal,
    readonly path: string,
    first: Download,
    private readonly limits: DownloadLimits,
  ) {
    this.size = first.file.size;
    this.fileId = first.file.id;
    this.sha256 = first.file.sha256;
    this.use(first, 0);
  }

  get file() {
    return this.current?.file;
  }

  private use(d: Download, start: number): void {
    this.current = d;
    this.iter = chunksOf(d.stream, 2);
    this.queue = [];
    this.qStart = start;
    this.pos = start;
    this.ended = false;
  }

  /** A chunk the handle no longer needs: released now, or when the last reply showing it was written. */
  private retire(c: Buffer): void {
    if (this.pins.has(c)) this.retired.add(c);
    else releaseChunk(c);
  }

  private unpin(c: Buffer): void {
    const n = (this.pins.get(c) ?? 1) - 1;
    if (n > 0) return void this.pins.set(c, n);
    this.pins.delete(c);
    if (this.retired.delete(c)) releaseChunk(c);
  }

  private drop(): void {
    const it = this.iter;
    this.iter = undefined;
    for (const c of this.queue) this.retire(c);
    this.queue = [];
    if (it?.return) void it.return(undefined).catch(() => undefined);
    // chunksOf leaves the stream paused when it returns early: ending the download is ours.
    this.current?.stream.destroy();
  }

  private async seek(offset: number): Promise<void> {
    this.drop();
    const d = await this.core.files.openDownload(this.principal, this.path, { range: { start: offset } });
    if (d.file.id !== this.fileId || d.file.sha256 !== this.sha256) {
      d.stream.destroy();
      throw new CoreError('CONFLICT', 'the file was replaced while it was open; open it again');
    }
    this.opened++;
    this.use(d, offset);
  }

  /**
   * Serves READ(offset, len) as a DATA packet for request `id` in parts (header, then views of the
   * chunks), or null at end of file. The parts MUST be written in order and not touched after
   * `release`, which MUST be called once they were written (the channel's write callback of the
   * last part). Calls MUST NOT overlap (the session runs one READ per handle at a time).
   */
  async read(id: number, offset: number, len: number): Promise<{ parts: Buffer[]; bytes: number; release: () => void } | null> {
    if (this.closed) throw new CoreError('CONFLICT', 'file is closed');
    if (offset >= this.size) return null;
    const want = Math.min(len, this.size - offset);
    if (want === 0) return { parts: [encode.dataHeader(id, 0)], bytes: 0, release: () => undefined };
    const kept = offset >= this.qStart && offset <= this.pos;
    const ahead = offset > this.pos && offset - this.pos <= this.limits.skipAhead && !this.ended;
    if (!this.iter || (!kept && !ahead) || (this.ended && offset >= this.pos)) await this.seek(offset);
    const end = offset + want;
    while (this.pos < end && !this.ended) {
      let r: IteratorResult<Buffer>;
      try {
        r = await this.iter!.next();
      } catch (e) {
        // A failed stream is never taken for the end of the file: the next READ starts afresh.
        this.drop();
        throw e;
      }
      if (r.done) {
        this.ended = true;
        break;
      }
      this.queue.push(r.value);
      this.pos += r.value.length;
    }
    const have = Math.min(end, this.pos) - offset;
    if (have <= 0) return null;
    // Views of [offset, offset + have) in the queue's chunks, each pinned until written.
    const parts = [encode.dataHeader(id, have)];
    const shown: Buffer[] = [];
    let at = this.qStart;
    for (const c of this.queue) {
      const cEnd = at + c.length;
      if (cEnd > offset && at < offset + have) {
        parts.push(c.subarray(Math.max(0, offset - at), Math.min(c.length, offset + have - at)));
        shown.push(c);
        this.pins.set(c, (this.pins.get(c) ?? 0) + 1);
      }
      at = cEnd;
      if (at >= offset + have) break;
    }
    this.served += have;
    // Keep only the last `lookbehind` bytes.
    while (this.queue.length > 1 && this.qStart + this.queue[0]!.length <= this.pos - this.limits.lookbehind) {
      const c = this.queue.shift()!;
      this.qStart += c.length;
      this.retire(c);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const c of shown) this.unpin(c);
    };
    return { parts, bytes: have, release };
  }

  /** Ends the current download; its end (bytes handed out) is recorded by the core. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.drop();
  }
}
