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
 * would concatenate whatever is buffered: a copy and a new buffer per READ), and every chunk is
 * released (runtime/chunks.ts) once it leaves the lookbehind, so the store reuses its buffers
 * instead of leaving one dead MiB per MiB sent to the garbage collector.
 */
import type { Core, Download, Principal } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { chunksOf, releaseChunk } from '../../runtime/chunks.js';
import { DataPackets, encode } from './codec.js';

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
    private readonly packets?: DataPackets,
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

  private drop(): void {
    const it = this.iter;
    this.iter = undefined;
    for (const c of this.queue) releaseChunk(c);
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
   * Serves READ(offset, len) as a complete DATA packet for request `id`, or null at end of file.
   * `release` hands the packet's buffer back for reuse once it was written. Calls MUST NOT
   * overlap (the session runs one READ per handle at a time).
   */
  async read(id: number, offset: number, len: number): Promise<{ packet: Buffer; release: () => void } | null> {
    if (this.closed) throw new CoreError('CONFLICT', 'file is closed');
    if (offset >= this.size) return null;
    const want = Math.min(len, this.size - offset);
    if (want === 0) return { packet: encode.dataPacket(id, 0).buf, release: () => undefined };
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
    const { buf, dataOffset, release } = this.packets ? this.packets.take(id, have) : { ...encode.dataPacket(id, have), release: () => undefined };
    // Copy [offset, offset + have) out of the queue straight into the packet.
    let at = this.qStart;
    let out = dataOffset;
    for (const c of this.queue) {
      const cEnd = at + c.length;
      if (cEnd > offset && at < offset + have) {
        const from = Math.max(0, offset - at);
        const to = Math.min(c.length, offset + have - at);
        c.copy(buf, out, from, to);
        out += to - from;
      }
      at = cEnd;
      if (at >= offset + have) break;
    }
    this.served += have;
    // Keep only the last `lookbehind` bytes.
    while (this.queue.length > 1 && this.qStart + this.queue[0]!.length <= this.pos - this.limits.lookbehind) {
      const c = this.queue.shift()!;
      this.qStart += c.length;
      releaseChunk(c);
    }
    return { packet: buf, release };
  }

  /** Ends the current download; its end (bytes handed out) is recorded by the core. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.drop();
  }
}
