/**
 * A small pool of worker threads that seal and open segment runs for the encrypted store, so
 * AES-256-GCM and SHA-256 of large transfers run beside the main thread (which keeps TLS, HTTP and
 * file I/O) and a transfer can use a second core.
 *
 * - One worker per core (os.availableParallelism()), started lazily on first use, each unref'd
 *   while it has nothing to do (an idle pool never keeps the process alive) and stopped after
 *   IDLE_MS without streams.
 * - A stream (`channel()`) is pinned to one worker, the least busy one, for its whole life: its runs
 *   are processed and answered in order, and its state (data key, hash) lives in that worker only.
 * - Runs travel without a copy and come back in the same memory: SharedArrayBuffers (the stores' IO
 *   buffers, common.ts) are shared, other ArrayBuffers transferred.
 * - Memory is bounded process-wide: at most maxBytesInFlight bytes of runs are at the workers at any
 *   time, whatever the number of streams; a stream that would exceed it waits (FIFO) for room.
 * - A worker that fails (an uncaught error, an exit, a message it cannot read) fails every stream
 *   pinned to it: their pending and later calls reject with an Error, and new streams get a fresh
 *   worker. A request the worker refuses (it answers with an error) fails that stream only.
 */
import type { KeyObject } from 'node:crypto';
import os from 'node:os';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { CryptoReply, CryptoRequest, RunBuffer } from './crypto-worker.js';

export type { RunBuffer } from './crypto-worker.js';

export interface SealedRun {
  /** The buffer that was sent, now holding `len` bytes of sealed segments. */
  readonly buf: RunBuffer;
  readonly len: number;
  /** Hex SHA-256 of the stream's whole plaintext: with the final run of a hashing stream. */
  readonly digest?: string | undefined;
}

export interface OpenedRunReply {
  /** The buffer that was sent, now holding `len` bytes of verified plaintext at its start. */
  readonly buf: RunBuffer;
  readonly len: number;
  /** The first segment that failed verification (nothing of it or after it is in `buf`). */
  readonly failed?: { readonly index: number; readonly reason: string } | undefined;
}

/** One stream's view of its worker. Calls are answered in the order they were made. */
export interface CryptoChannel {
  /**
   * Seals `buf[0, len)` in place as segments index…; see segment-crypto.ts sealRunInPlace. An
   * ArrayBuffer is transferred; a SharedArrayBuffer MUST NOT be touched until the answer came.
   */
  seal(buf: RunBuffer, len: number, index: number, final: boolean): Promise<SealedRun>;
  /** Opens `buf[0, len)` in place; see segment-crypto.ts openRunInPlace. Same rule for `buf`. */
  open(buf: RunBuffer, len: number, index: number, lastIndex: number, size: number): Promise<OpenedRunReply>;
  /** Ends the stream (its state in the worker is dropped). Calls still pending are answered. */
  close(): void;
}

export interface CryptoPool {
  /** The number of worker threads the pool may run. */
  readonly size: number;
  /** A new stream with data key `key`; `hash` keeps a SHA-256 of everything sealed through it. */
  channel(key: KeyObject, opts: { readonly hash: boolean }): CryptoChannel;
  /** The workers running now (tests use this to make one fail). */
  workers(): readonly Worker[];
  /** Stops every worker; streams still open fail. */
  close(): Promise<void>;
}

export interface CryptoPoolOptions {
  /** Worker threads (default: os.availableParallelism()). */
  readonly size?: number;
  /** Bytes of runs at the workers at once, process-wide (default 32 MiB). */
  readonly maxBytesInFlight?: number;
  /** A worker without streams for this long is stopped (default 30 s). */
  readonly idleMs?: number;
}

const DEFAULT_MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
const DEFAULT_IDLE_MS = 30_000;

/**
 * Starts one worker. Built (dist/), its entry is the compiled crypto-worker.js next to this module.
 * Run from the sources through tsx (tests, benchmarks, `node --import tsx`), the entry is the .ts
 * file, which a worker can only load once tsx's loader is registered in it: a small bootstrap does
 * that first.
 */
function startWorker(opts: WorkerOptions): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./crypto-worker.js', here), opts);
  const entry = new URL('./crypto-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...opts, eval: true });
}

interface Pending {
  readonly resolve: (r: CryptoReply) => void;
  readonly reject: (e: Error) => void;
  readonly bytes: number;
}

interface Slot {
  readonly worker: Worker;
  readonly channels: Set<Channel>;
  /** Requests sent and not yet answered (the worker is ref'd while there are any). */
  outstanding: number;
  dead: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

let nextId = 1;

class Channel implements CryptoChannel {
  readonly id = nextId++;
  readonly #pool: Pool;
  readonly #slot: Slot;
  readonly #pending: Pending[] = [];
  #failure: Error | undefined;
  #closed = false;

  constructor(pool: Pool, slot: Slot, key: KeyObject, hash: boolean) {
    this.#pool = pool;
    this.#slot = slot;
    slot.channels.add(this);
    this.#post({ t: 'begin', id: this.id, key, hash }, []);
  }

  seal(buf: RunBuffer, len: number, index: number, final: boolean): Promise<SealedRun> {
    return this.#request({ t: 'seal', id: this.id, buf, len, index, final }, buf).then((r) => ({ buf: r.buf!, len: r.len!, digest: r.digest }));
  }

  open(buf: RunBuffer, len: number, index: number, lastIndex: number, size: number): Promise<OpenedRunReply> {
    return this.#request({ t: 'open', id: this.id, buf, len, index, lastIndex, size }, buf).then((r) => ({ buf: r.buf!, len: r.len!, failed: r.failed }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#failure === undefined && !this.#slot.dead) this.#post({ t: 'end', id: this.id }, []);
    this.#maybeDetach();
  }

  /** The worker answered the oldest pending request. */
  onReply(reply: CryptoReply): void {
    const p = this.#pending.shift();
    if (p === undefined) return;
    this.#pool.release(p.bytes);
    this.#slot.outstanding--;
    this.#pool.refresh(this.#slot);
    if (reply.error !== undefined) {
      const err = new Error(`crypto worker refused a request: ${reply.error}`);
      this.fail(err);
      p.reject(err);
    } else p.resolve(reply);
    this.#maybeDetach();
  }

  /** Fails the stream: every pending and later call rejects with `err`. */
  fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.splice(0)) {
      this.#pool.release(p.bytes);
      this.#slot.outstanding--;
      p.reject(this.#failure);
    }
    this.#pool.refresh(this.#slot);
    this.#maybeDetach();
  }

  #maybeDetach(): void {
    if ((this.#closed || this.#failure !== undefined) && this.#pending.length === 0 && this.#slot.channels.delete(this)) this.#pool.refresh(this.#slot);
  }

  #post(msg: CryptoRequest, transfer: ArrayBuffer[]): void {
    this.#slot.worker.postMessage(msg, transfer);
  }

  async #request(msg: CryptoRequest, buf: RunBuffer): Promise<CryptoReply> {
    if (this.#closed) throw new Error('crypto channel is closed');
    if (this.#failure !== undefined) throw this.#failure;
    const bytes = buf.byteLength;
    await this.#pool.acquire(bytes);
    if (this.#failure !== undefined || this.#slot.dead) {
      this.#pool.release(bytes);
      throw this.#failure ?? new Error('crypto worker is gone');
    }
    return new Promise<CryptoReply>((resolve, reject) => {
      this.#pending.push({ resolve, reject, bytes });
      this.#slot.outstanding++;
      this.#pool.refresh(this.#slot);
      try {
        this.#post(msg, buf instanceof ArrayBuffer ? [buf] : []);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }
}

class Pool implements CryptoPool {
  readonly size: number;
  readonly #maxBytes: number;
  readonly #idleMs: number;
  readonly #slots: Slot[] = [];
  #bytes = 0;
  readonly #waiters: Array<{ bytes: number; go: () => void }> = [];

  constructor(opts: CryptoPoolOptions) {
    this.size = Math.max(1, opts.size ?? os.availableParallelism());
    this.#maxBytes = opts.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT;
    this.#idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
  }

  channel(key: KeyObject, opts: { readonly hash: boolean }): CryptoChannel {
    let best: Slot | undefined;
    for (const s of this.#slots) if (best === undefined || s.channels.size < best.channels.size) best = s;
    if (best === undefined || (best.channels.size > 0 && this.#slots.length < this.size)) best = this.#spawn();
    return new Channel(this, best, key, opts.hash);
  }

  workers(): readonly Worker[] {
    return this.#slots.map((s) => s.worker);
  }

  async close(): Promise<void> {
    const slots = this.#slots.splice(0);
    await Promise.all(
      slots.map(async (s) => {
        this.#kill(s, new Error('crypto pool closed'));
        // Ref'd while it stops: an unref'd worker's exit would not keep the event loop alive, and a
        // caller awaiting close() could see the loop end first.
        s.worker.ref();
        await s.worker.terminate();
      }),
    );
  }

  /** Waits until `bytes` more fit in the process-wide budget (always admits one request when idle). */
  acquire(bytes: number): Promise<void> {
    if (this.#waiters.length === 0 && (this.#bytes === 0 || this.#bytes + bytes <= this.#maxBytes)) {
      this.#bytes += bytes;
      return Promise.resolve();
    }
    return new Promise<void>((go) => this.#waiters.push({ bytes, go }));
  }

  release(bytes: number): void {
    this.#bytes -= bytes;
    while (this.#waiters.length > 0) {
      const w = this.#waiters[0]!;
      if (this.#bytes !== 0 && this.#bytes + w.bytes > this.#maxBytes) break;
      this.#waiters.shift();
      this.#bytes += w.bytes;
      w.go();
    }
  }

  /** Keeps the event loop alive only while a worker owes answers; stops workers idle for long. */
  refresh(slot: Slot): void {
    if (slot.dead) return;
    if (slot.outstanding > 0) slot.worker.ref();
    else slot.worker.unref();
    if (slot.channels.size > 0) {
      if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
    } else if (slot.idleTimer === undefined) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined;
        if (slot.channels.size > 0 || slot.dead) return;
        this.#retire(slot);
        void slot.worker.terminate();
      }, this.#idleMs);
      slot.idleTimer.unref();
    }
  }

  #spawn(): Slot {
    const worker = startWorker({
      name: 'sluice-crypto',
      // Runs and results are ArrayBuffers outside the heap: the worker's own heap stays tiny.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
    });
    const slot: Slot = { worker, channels: new Set(), outstanding: 0, dead: false, idleTimer: undefined };
    const byId = (id: number): Channel | undefined => {
      for (const c of slot.channels) if (c.id === id) return c;
      return undefined;
    };
    worker.on('message', (reply: CryptoReply) => byId(reply.id)?.onReply(reply));
    worker.on('error', (err) => this.#kill(slot, new Error(`crypto worker failed: ${err.message}`, { cause: err })));
    worker.on('messageerror', (err) => this.#kill(slot, new Error(`crypto worker sent an unreadable message: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => this.#kill(slot, new Error(`crypto worker exited (code ${code})`)));
    worker.unref();
    this.#slots.push(slot);
    return slot;
  }

  #retire(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
  }

  #kill(slot: Slot, err: Error): void {
    if (slot.dead) return;
    slot.dead = true;
    this.#retire(slot);
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    for (const c of [...slot.channels]) c.fail(err);
    slot.channels.clear();
    slot.worker.unref();
    // A worker that failed is not reused; make sure it is gone.
    void slot.worker.terminate().catch(() => undefined);
  }
}

export function createCryptoPool(opts: CryptoPoolOptions = {}): CryptoPool {
  return new Pool(opts);
}

let shared: CryptoPool | undefined;

/** The process-wide pool the encrypted stores use unless told otherwise. */
export function sharedCryptoPool(): CryptoPool {
  shared ??= createCryptoPool();
  return shared;
}
