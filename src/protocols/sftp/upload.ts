/**
 * An SFTP file opened for writing, on top of one core upload (core.files.openUpload).
 *
 * SFTP writes carry offsets, and pipelining clients (rclone, WinSCP, several threads) may send
 * them out of order; the core takes bytes in sequence. Writes at the next expected offset go to
 * the core at once (one after another); writes further ahead are held until the gap before them
 * is filled, up to `maxHeldBytes` per file: beyond that the upload fails (the client is told at
 * that WRITE and at CLOSE) rather than buffering without bound. Rewriting bytes already handed
 * on, or leaving a gap at CLOSE, fails the upload too: only whole files are stored.
 *
 * The file becomes visible at close() (core finish: atomic). abort() — a disconnect, a failed
 * write — leaves nothing visible.
 */
import type { EntryInfo, UploadHandle } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import type { ByteBudget } from './byte-budget.js';

export class UploadFile {
  /** Offset after every byte queued to the core so far. */
  private queuedEnd = 0;
  /** Bytes accepted by the core. */
  private written = 0;
  /** Largest end offset of any accepted write (what FSTAT reports). */
  private highest = 0;
  private readonly held = new Map<number, Buffer>();
  private heldBytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: CoreError | undefined;
  private state: 'open' | 'closing' | 'done' = 'open';

  /** `heldBudget`: the server's bound on held bytes across all files (byte-budget.ts). */
  constructor(
    private readonly up: UploadHandle,
    private readonly maxHeldBytes: number,
    private readonly heldBudget?: ByteBudget,
  ) {}

  get path(): string {
    return this.up.path;
  }
  get size(): number {
    return this.highest;
  }
  get bytesWritten(): number {
    return this.written;
  }

  /** Why the upload failed, once it has. */
  get failed(): CoreError | undefined {
    return this.failure;
  }

  /**
   * Takes `data` at `offset`. Throws at once when the write cannot be taken (the upload failed
   * before, bytes rewritten, too far out of order: the upload is then abandoned). Otherwise the
   * returned promise resolves once the bytes are with the core (in sequence) or held for later
   * (ahead of sequence), and rejects if the core refuses them (the failure is kept for every
   * later call and for close()).
   */
  write(offset: number, data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.state !== 'open') throw new CoreError('CONFLICT', 'file is being closed');
    if (data.length === 0) return Promise.resolve();
    if (offset === this.queuedEnd) {
      const p = this.enqueue(data);
      // Held writes that now follow on directly go next, in order.
      for (let next = this.held.get(this.queuedEnd); next !== undefined; next = this.held.get(this.queuedEnd)) {
        this.held.delete(this.queuedEnd);
        this.heldBytes -= next.length;
        // Still in memory until the core has taken them: counted in the server's budget till then.
        const n = next.length;
        void this.enqueue(next)
          .catch(() => undefined)
          .finally(() => this.heldBudget?.release(n));
      }
      return p;
    }
    if (offset < this.queuedEnd) {
      return this.fail(new CoreError('INVALID_INPUT', 'rewriting bytes already written is not supported: upload the file from the start'));
    }
    if (this.held.has(offset)) return this.fail(new CoreError('INVALID_INPUT', 'overlapping writes'));
    if (this.heldBytes + data.length > this.maxHeldBytes) {
      return this.fail(
        new CoreError(
          'TOO_LARGE',
          `writes arrived too far out of order (more than ${this.maxHeldBytes} bytes ahead of the next expected offset ${this.queuedEnd})`,
        ),
      );
    }
    if (this.heldBudget && !this.heldBudget.tryTake(data.length)) {
      return this.fail(new CoreError('UNAVAILABLE', 'the server holds too many out-of-order writes right now: upload again, with fewer requests in flight'));
    }
    this.held.set(offset, data);
    this.heldBytes += data.length;
    this.highest = Math.max(this.highest, offset + data.length);
    return Promise.resolve();
  }

  private enqueue(data: Buffer): Promise<void> {
    this.queuedEnd += data.length;
    this.highest = Math.max(this.highest, this.queuedEnd);
    const p = this.chain.then(async () => {
      if (this.failure) throw this.failure;
      try {
        await this.up.write(data);
        this.written += data.length;
      } catch (e) {
        // The core cleaned up its side already; remember why for every later call.
        this.failure ??= e instanceof CoreError ? e : new CoreError('INTERNAL', 'upload failed', { cause: e });
        this.state = 'done';
        this.dropHeld();
        throw this.failure;
      }
    });
    this.chain = p.catch(() => undefined);
    return p;
  }

  private fail(err: CoreError): never {
    this.failure ??= err;
    void this.abort(err.message);
    throw this.failure;
  }

  /** Completes the upload: the file becomes visible. */
  async close(): Promise<EntryInfo> {
    if (this.state !== 'open') {
      await this.chain;
      throw this.failure ?? new CoreError('CONFLICT', 'file already closed');
    }
    this.state = 'closing';
    await this.chain;
    if (this.failure) throw this.failure;
    if (this.held.size > 0) {
      const err = new CoreError('ABORTED', `upload incomplete: no data written at offset ${this.queuedEnd}`);
      this.failure = err;
      await this.abortCore(err.message);
      throw err;
    }
    this.state = 'done';
    return this.up.finish();
  }

  /** Abandons the upload (disconnect, failed write): nothing becomes visible. */
  async abort(reason: string): Promise<void> {
    if (this.state === 'done') return;
    this.failure ??= new CoreError('ABORTED', 'upload aborted');
    await this.abortCore(reason);
  }

  private async abortCore(reason: string): Promise<void> {
    this.state = 'done';
    this.dropHeld();
    await this.chain;
    await this.up.abort(reason).catch(() => undefined);
  }

  /** Forgets the writes held ahead of sequence, and gives their bytes back to the server's budget. */
  private dropHeld(): void {
    this.heldBudget?.release(this.heldBytes);
    this.held.clear();
    this.heldBytes = 0;
  }
}
