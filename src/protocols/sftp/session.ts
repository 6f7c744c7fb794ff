/**
 * One SFTP session (the "sftp" subsystem of one SSH channel) for one authenticated principal.
 *
 * Thin by design: every request becomes one core call (core.files.*), which authorizes it,
 * records it in the ledger and answers NOT_FOUND for what the principal may not see. This module
 * only translates: paths (relative to the root, '.' and '..' resolved for every request by the
 * core's parser, as OpenSSH's sftp-server does), handles, offsets, and CoreErrors to statuses
 * (status.ts).
 *
 * Ordering and flow control:
 * - READ/WRITE/FSTAT/FSETSTAT/fsync on a handle run in arrival order per handle; CLOSE waits for
 *   them. Every other request (OPEN, STAT, MKDIR, RENAME, ...) runs after the ones received
 *   before it finished, CLOSEs included, so a pipelining client sees its own changes.
 * - Input is parsed one packet at a time and stops (the channel is paused, so the SSH window
 *   closes and the client waits) while too many requests are in flight, too many written bytes
 *   wait for the core, or the output is backed up (the channel needs a drain; READs wait too). Memory per session stays bounded whatever the
 *   client sends.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Core, EntryInfo, Principal } from '../../core/index.js';
import { resolveClientPath } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import type { Metrics } from '../http/metrics.js';
import {
  BadMessage,
  encode,
  Framer,
  OPEN_FLAGS,
  Reader,
  recyclePacket,
  REQ,
  S_IFDIR,
  S_IFREG,
  STATUS,
  type Attrs,
  type NameEntry,
  type StatusCode,
} from './codec.js';
import { DownloadFile } from './download.js';
import { toSftpError } from './status.js';
import { releasable } from '../../runtime/chunks.js';
import { UploadFile } from './upload.js';
import type { ByteBudget } from './byte-budget.js';

export interface SessionLimits {
  /** Largest SFTP packet accepted (and advertised in limits@openssh.com). */
  readonly maxPacket: number;
  /** Largest READ served and WRITE accepted (advertised). */
  readonly maxReadWrite: number;
  /** Open handles per session (advertised). */
  readonly maxHandles: number;
  /** Requests being processed at once before input is paused. */
  readonly maxInflight: number;
  /** Written bytes waiting for the core before input is paused. */
  readonly maxPendingWriteBytes: number;
  /** Out-of-order write bytes held per file before the upload fails. */
  readonly maxHeldWriteBytes: number;
  /** Names per READDIR answer (also bounded by size). */
  readonly readdirBatch: number;
  /** Entries fetched from the core per listing page. */
  readonly listPage: number;
  readonly lookbehind: number;
  readonly skipAhead: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = Object.freeze({
  maxPacket: 256 * 1024 + 1024,
  maxReadWrite: 255 * 1024,
  maxHandles: 64,
  maxInflight: 64,
  maxPendingWriteBytes: 4 * 1024 * 1024,
  maxHeldWriteBytes: 8 * 1024 * 1024,
  readdirBatch: 512,
  listPage: 2000,
  lookbehind: 512 * 1024,
  skipAhead: 1024 * 1024,
});

/** Extensions announced in VERSION (OpenSSH's PROTOCOL file). */
export const EXTENSIONS: readonly (readonly [string, string])[] = [
  ['posix-rename@openssh.com', '1'],
  ['statvfs@openssh.com', '2'],
  ['fsync@openssh.com', '1'],
  ['limits@openssh.com', '1'],
];

export interface SessionDeps {
  readonly core: Core;
  readonly principal: Principal;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly limits: SessionLimits;
  /**
   * The connection's socket, corked while a tick's replies are written: ssh2 writes every SSH
   * packet (at most 32 KiB, the client's packet size) with its own socket write; corked, the 8 or
   * so packets of a 255 KiB DATA reply leave in one writev.
   */
  readonly socket?: { cork(): void; uncork(): void; prependListener?(event: 'data', listener: () => void): unknown } | undefined;
  /**
   * The server's bounds across all sessions (byte-budget.ts): `pending`, written bytes waiting
   * for the core (input pauses while it is full); `held`, out-of-order writes held ahead of
   * sequence (such a write fails while it is full).
   */
  readonly budgets?: { readonly pending: ByteBudget; readonly held: ByteBudget } | undefined;
}

type Handle =
  | { readonly kind: 'read'; readonly file: DownloadFile; chain: Promise<void>; readonly opened: number }
  | { readonly kind: 'write'; readonly file: UploadFile; chain: Promise<void>; readonly opened: number }
  | { readonly kind: 'dir'; readonly path: string; entries: EntryInfo[]; next: string | undefined; chain: Promise<void> };

class StatusReply extends Error {
  constructor(
    readonly status: StatusCode,
    message: string,
  ) {
    super(message);
  }
}
const unsupported = (what: string) => new StatusReply(STATUS.OP_UNSUPPORTED, what);

const FILE_MODE = S_IFREG | 0o644;
const DIR_MODE = S_IFDIR | 0o755;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function attrsOf(e: EntryInfo): Attrs {
  const t = Math.floor(e.modified / 1000);
  return { size: e.size, permissions: e.type === 'folder' ? DIR_MODE : FILE_MODE, atime: t, mtime: t };
}

/** An `ls -l` line, as OpenSSH's sftp-server writes it (shown by `ls -l` in OpenSSH's sftp). */
function longname(e: EntryInfo, now = Date.now()): string {
  const d = new Date(e.modified);
  const recent = Math.abs(now - e.modified) < 182 * 86_400_000;
  const when = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${recent ? `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}` : String(d.getUTCFullYear()).padStart(5)}`;
  const mode = e.type === 'folder' ? 'drwxr-xr-x' : '-rw-r--r--';
  return `${mode}    1 sluice   sluice   ${String(e.size).padStart(8)} ${when} ${e.name}`;
}

/**
 * Corks the connection's socket for the rest of the tick whenever input arrives. ssh2 sends what
 * waited for the client's window (a WINDOW_ADJUST, or the ack a download waited for) from inside
 * its input handler, one socket write per 32 KiB SSH packet; corked, they leave in one writev.
 * Once per socket, whatever the number of sessions on it.
 */
const corkedSockets = new WeakSet<object>();
function corkOnInput(sock: SessionDeps['socket']): void {
  if (!sock?.prependListener || corkedSockets.has(sock)) return;
  corkedSockets.add(sock);
  sock.prependListener('data', () => {
    sock.cork();
    process.nextTick(() => sock.uncork());
  });
}

export class SftpSession {
  private readonly framer: Framer;
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private initialised = false;
  private inflight = 0;
  private pendingWriteBytes = 0;
  private barrier: Promise<void> = Promise.resolve();
  private closed = false;
  private paused = false;
  private readonly drainWaiters: (() => void)[] = [];
  private readonly log: Logger;
  /** Requests served, for the session's closing log line. */
  private requests = 0;

  constructor(
    private readonly channel: Duplex,
    private readonly deps: SessionDeps,
  ) {
    this.framer = new Framer(deps.limits.maxPacket);
    corkOnInput(deps.socket);
    this.log = deps.log;
    channel.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      this.pump();
    });
    channel.on('drain', () => {
      for (const w of this.drainWaiters.splice(0)) w();
      this.pump();
    });
    channel.on('end', () => this.close('client ended the session'));
    channel.on('close', () => this.close('channel closed'));
    channel.on('error', (e: Error) => {
      this.log.debug({ err: e.message }, 'sftp channel error');
      this.close('channel error');
    });
  }

  /** Open file handles (transfers in progress). */
  get openFiles(): number {
    let n = 0;
    for (const h of this.handles.values()) if (h.kind !== 'dir') n++;
    return n;
  }

  // --- input and flow control -----------------------------------------------------------------

  private blocked(): boolean {
    const l = this.deps.limits;
    // The channel's own high-water mark (its SSH window, 2 MiB) bounds queued output.
    return (
      this.inflight >= l.maxInflight ||
      this.pendingWriteBytes >= l.maxPendingWriteBytes ||
      this.channel.writableNeedDrain ||
      !!this.deps.budgets?.pending.full()
    );
  }

  /** Resumes input once the server's pending-write budget has room again (see pump). */
  private readonly wake = () => this.pump();

  private pump(): void {
    if (this.closed) return;
    try {
      while (!this.blocked()) {
        const pkt = this.framer.next();
        if (!pkt) break;
        this.dispatch(pkt);
        if (this.closed) return;
      }
    } catch (e) {
      if (e instanceof BadMessage) return this.fatal(e.message);
      throw e;
    }
    const block = this.blocked();
    // Paused on the server-wide budget: other sessions' bytes free it, so ask to be woken.
    if (block && this.deps.budgets?.pending.full()) this.deps.budgets.pending.onRoom(this.wake);
    if (block && !this.paused) {
      this.paused = true;
      this.channel.pause();
    } else if (!block && this.paused) {
      this.paused = false;
      this.channel.resume();
    }
  }

  private fatal(why: string): void {
    this.log.warn({ reason: why }, 'sftp protocol violation: session closed');
    this.close(why);
    this.channel.destroy();
  }

  private corked = false;
  private send(buf: Buffer, done?: () => void): void {
    if (this.closed) return;
    const sock = this.deps.socket;
    if (sock && !this.corked) {
      this.corked = true;
      sock.cork();
      process.nextTick(() => {
        this.corked = false;
        sock.uncork();
      });
    }
    this.channel.write(buf, done);
  }

  /** Waits until the channel's output queue has drained below its high-water mark. */
  private writable(): Promise<void> {
    if (this.closed || !this.channel.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private dispatch(pkt: Buffer): void {
    const type = pkt[0]!;
    const r = new Reader(pkt, 1);
    if (!this.initialised) {
      if (type !== REQ.INIT) return this.fatal(`expected INIT, got packet type ${type}`);
      r.u32(); // the client's version: we speak 3, which every client understands
      this.initialised = true;
      this.send(encode.version(EXTENSIONS));
      return;
    }
    if (type === REQ.INIT) return this.fatal('INIT sent twice');
    let id: number;
    try {
      id = r.u32();
    } catch {
      return this.fatal('request without an id');
    }
    this.requests++;
    this.inflight++;
    let work: Promise<void>;
    try {
      work = this.route(type, id, r);
    } catch (e) {
      work = Promise.reject(e);
    }
    work
      .catch((e: unknown) => this.replyError(id, e))
      .finally(() => {
        this.inflight--;
        this.pump();
      });
  }

  private replyError(id: number, e: unknown): void {
    if (e instanceof StatusReply) return this.send(encode.status(id, e.status, e.message));
    if (e instanceof BadMessage) return this.send(encode.status(id, STATUS.BAD_MESSAGE, 'malformed request'));
    const m = toSftpError(e);
    this.deps.metrics.errors.inc({ code: m.code });
    if (m.code === 'INTERNAL' || m.code === 'INTEGRITY') this.log.error({ err: e, user: this.deps.principal.login }, 'sftp request failed');
    this.send(encode.status(id, m.status, m.message));
  }

  private ok(id: number): void {
    this.send(encode.status(id, STATUS.OK, ''));
  }

  /** Runs `fn` after every earlier barrier request (and CLOSE) finished. */
  private inOrder(fn: () => Promise<void>): Promise<void> {
    const p = this.barrier.then(fn);
    this.barrier = p.catch(() => undefined);
    return p;
  }

  /** Runs `fn` after the handle's earlier requests; `barrier` also orders it with path requests. */
  private onHandle(h: Handle, fn: () => Promise<void>, barrier = false): Promise<void> {
    const p = barrier ? Promise.all([h.chain, this.barrier]).then(fn) : h.chain.then(fn);
    h.chain = p.catch(() => undefined);
    if (barrier) this.barrier = h.chain;
    return p;
  }

  /**
   * A client path as OpenSSH's sftp-server takes it, for every request: relative to the session's
   * directory (the root), '.' and '..' resolved and clamped at the root by the core's one parser
   * (resolveClientPath), so the core — and the ledger — see the resolved path and a '..' never
   * escapes. A path the parser rejects goes to the core as sent: it refuses it and records the attempt.
   */
  private pathArg(r: Reader): string {
    const s = r.text();
    if (s === undefined) throw new CoreError('INVALID_PATH', 'path is not valid UTF-8');
    try {
      return resolveClientPath(s);
    } catch {
      return s;
    }
  }

  private handleArg(r: Reader): [number, Handle] {
    const b = r.bytes();
    const n = b.length === 4 ? b.readUInt32BE(0) : -1;
    const h = this.handles.get(n);
    if (!h) throw new StatusReply(STATUS.FAILURE, 'invalid handle');
    return [n, h];
  }

  private newHandle(h: Handle): Buffer {
    if (this.handles.size >= this.deps.limits.maxHandles)
      throw new StatusReply(STATUS.FAILURE, `too many open handles (at most ${this.deps.limits.maxHandles})`);
    const n = this.nextHandle++ >>> 0;
    this.handles.set(n, h);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  }

  // --- requests -------------------------------------------------------------------------------

  private route(type: number, id: number, r: Reader): Promise<void> {
    const { core, principal: p } = this.deps;
    switch (type) {
      case REQ.READ: {
        const [, h] = this.handleArg(r);
        const offset = r.u64();
        const len = Math.min(r.u32(), this.deps.limits.maxReadWrite);
        if (h.kind !== 'read') throw new StatusReply(STATUS.FAILURE, 'handle is not open for reading');
        return this.onHandle(h, async () => {
          await this.writable();
          const r = await h.file.read(id, offset, len);
          if (!r) return this.send(encode.status(id, STATUS.EOF, 'end of file'));
          this.deps.metrics.bytesOut.inc({ protocol: 'sftp' }, r.bytes);
          // One packet in parts, written back to back (nothing can come between them).
          const last = r.parts.length - 1;
          r.parts.forEach((part, i) => this.send(part, i === last ? r.release : undefined));
        });
      }
      case REQ.WRITE: {
        const [, h] = this.handleArg(r);
        const offset = r.u64();
        const data = r.bytes();
        if (h.kind !== 'write') throw new StatusReply(STATUS.FAILURE, 'handle is not open for writing');
        if (data.length > this.deps.limits.maxReadWrite) throw new StatusReply(STATUS.BAD_MESSAGE, 'write larger than the advertised limit');
        // The bytes are a view of their packet: it goes back to the framer's free list once whoever
        // holds them last (the store, having copied them) releases them (runtime/chunks.ts).
        const pkt = r.packet;
        releasable(data, () => recyclePacket(pkt));
        // Throws when the write cannot be taken (answered with the error).
        const taken = h.file.write(offset, data);
        // Taken: acknowledged at once, as a file system with a page cache would. The bytes wait
        // for the core within maxPendingWriteBytes (input pauses beyond); if the core refuses
        // them later (quota, size), the next WRITE or the CLOSE gets the error.
        this.pendingWriteBytes += data.length;
        const budget = this.deps.budgets?.pending;
        budget?.take(data.length);
        taken
          .then(() => this.deps.metrics.bytesIn.inc({ protocol: 'sftp' }, data.length))
          .catch(() => undefined)
          .finally(() => {
            this.pendingWriteBytes -= data.length;
            budget?.release(data.length);
            this.pump();
          });
        this.ok(id);
        return Promise.resolve();
      }
      case REQ.OPEN: {
        const path = this.pathArg(r);
        const flags = r.u32();
        r.attrs();
        return this.inOrder(() => this.open(id, path, flags));
      }
      case REQ.CLOSE: {
        const [n, h] = this.handleArg(r);
        return this.onHandle(h, () => this.closeHandle(id, n, h), true);
      }
      case REQ.OPENDIR: {
        const path = this.pathArg(r);
        return this.inOrder(async () => {
          if (this.handles.size >= this.deps.limits.maxHandles)
            throw new StatusReply(STATUS.FAILURE, `too many open handles (at most ${this.deps.limits.maxHandles})`);
          // The first page only as large as one READDIR answer: the client's first names come
          // quickly however big the folder; later pages are fetched listPage at a time.
          const page = await core.files.list(p, path, { limit: Math.min(this.deps.limits.readdirBatch, this.deps.limits.listPage) });
          const handle = this.newHandle({ kind: 'dir', path: page.path, entries: [...page.entries], next: page.next, chain: Promise.resolve() });
          this.send(encode.handle(id, handle));
        });
      }
      case REQ.READDIR: {
        const [, h] = this.handleArg(r);
        if (h.kind !== 'dir') throw new StatusReply(STATUS.FAILURE, 'handle is not a directory');
        return this.onHandle(h, () => this.readdir(id, h));
      }
      case REQ.STAT:
      case REQ.LSTAT: {
        const path = this.pathArg(r);
        return this.inOrder(async () => this.send(encode.attrs(id, attrsOf(await core.files.stat(p, path)))));
      }
      case REQ.FSTAT: {
        const [, h] = this.handleArg(r);
        return this.onHandle(h, async () => {
          if (h.kind === 'read') this.send(encode.attrs(id, { size: h.file.size, permissions: FILE_MODE, ...times(h.file.file?.modified) }));
          else if (h.kind === 'write') this.send(encode.attrs(id, { size: h.file.size, permissions: FILE_MODE, ...times(h.opened) }));
          else this.send(encode.attrs(id, attrsOf(await core.files.stat(p, h.path))));
        });
      }
      case REQ.SETSTAT: {
        const path = this.pathArg(r);
        const a = r.attrs();
        return this.inOrder(async () => {
          if (a.size !== undefined) throw unsupported('changing the size of a file is not supported');
          await core.files.stat(p, path); // it must exist and be visible; times are accepted, modes ignored
          this.ok(id);
        });
      }
      case REQ.FSETSTAT: {
        const [, h] = this.handleArg(r);
        const a = r.attrs();
        return this.onHandle(h, async () => {
          if (a.size !== undefined && !(h.kind === 'write' && a.size === h.file.size)) throw unsupported('changing the size of a file is not supported');
          this.ok(id);
        });
      }
      case REQ.REALPATH: {
        const path = this.pathArg(r);
        return this.inOrder(async () => {
          const abs = resolveClientPath(path);
          this.send(encode.name(id, [{ filename: abs, longname: abs, attrs: {} }]));
        });
      }
      case REQ.MKDIR: {
        const path = this.pathArg(r);
        r.attrs();
        return this.inOrder(async () => {
          await core.files.mkdir(p, path);
          this.ok(id);
        });
      }
      case REQ.RMDIR: {
        const path = this.pathArg(r);
        return this.inOrder(async () => {
          await core.files.remove(p, path, { only: 'folder' });
          this.ok(id);
        });
      }
      case REQ.REMOVE: {
        const path = this.pathArg(r);
        return this.inOrder(async () => {
          await core.files.remove(p, path, { only: 'file' });
          this.ok(id);
        });
      }
      case REQ.RENAME: {
        const from = this.pathArg(r);
        const to = this.pathArg(r);
        // SFTP v3 RENAME fails when the target exists; posix-rename@openssh.com replaces it.
        return this.inOrder(async () => {
          await core.files.rename(p, from, to);
          this.ok(id);
        });
      }
      case REQ.READLINK:
      case REQ.SYMLINK:
        throw unsupported('links are not supported');
      case REQ.EXTENDED:
        return this.extended(id, r);
      default:
        throw unsupported(`request type ${type} is not supported`);
    }
  }

  private extended(id: number, r: Reader): Promise<void> {
    const { core, principal: p, limits } = this.deps;
    const name = r.text();
    switch (name) {
      case 'posix-rename@openssh.com': {
        const from = this.pathArg(r);
        const to = this.pathArg(r);
        return this.inOrder(async () => {
          await core.files.rename(p, from, to, { overwrite: true });
          this.ok(id);
        });
      }
      case 'statvfs@openssh.com': {
        const path = this.pathArg(r);
        return this.inOrder(async () => {
          await core.files.stat(p, path);
          // There is no disk behind the tree; quotas are per organisation and enforced on upload.
          const blocks = 2 ** 32;
          this.send(encode.extendedReply(id, [4096, 4096, blocks, blocks, blocks, 2 ** 32, 2 ** 32, 2 ** 32, 0, 0, 255]));
        });
      }
      case 'fsync@openssh.com': {
        const [, h] = this.handleArg(r);
        // Uploads are made durable (fsynced) and visible together, at CLOSE.
        return this.onHandle(h, async () => this.ok(id));
      }
      case 'limits@openssh.com':
        return this.inOrder(async () => {
          this.send(encode.extendedReply(id, [limits.maxPacket - 1024, limits.maxReadWrite, limits.maxReadWrite, limits.maxHandles]));
        });
      default:
        throw unsupported(
          `extension ${String(name)
            .replace(/[^\x20-\x7e]/g, '?')
            .slice(0, 64)} is not supported`,
        );
    }
  }

  private async open(id: number, path: string, flags: number): Promise<void> {
    const { core, principal: p, limits } = this.deps;
    const read = (flags & OPEN_FLAGS.READ) !== 0;
    const write = (flags & OPEN_FLAGS.WRITE) !== 0;
    if (this.handles.size >= limits.maxHandles) throw new StatusReply(STATUS.FAILURE, `too many open handles (at most ${limits.maxHandles})`);
    if (read && write) throw unsupported('a file can be opened for reading or for writing, not both');
    if (flags & OPEN_FLAGS.APPEND) throw unsupported('appending is not supported: upload the whole file');
    if (!write) {
      const dl = await core.files.openDownload(p, path);
      const file = new DownloadFile(core, p, dl.file.path, dl, limits);
      const handle = this.newHandle({ kind: 'read', file, chain: Promise.resolve(), opened: Date.now() });
      this.send(encode.handle(id, handle));
      return;
    }
    if (flags & OPEN_FLAGS.EXCL || !(flags & OPEN_FLAGS.CREAT) || !(flags & OPEN_FLAGS.TRUNC)) {
      // Only whole files are stored: what exists decides whether these flags can be honoured.
      const existing = await core.files.stat(p, path).catch((e: unknown) => {
        if (e instanceof CoreError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      });
      if (existing && flags & OPEN_FLAGS.EXCL) throw new CoreError('ALREADY_EXISTS', 'a file with this name exists');
      if (!existing && !(flags & OPEN_FLAGS.CREAT)) throw new CoreError('NOT_FOUND', 'not found');
      if (existing && !(flags & OPEN_FLAGS.TRUNC)) throw unsupported('changing part of a file is not supported: open it with truncation and upload it whole');
    }
    const up = await core.files.openUpload(p, path);
    const file = new UploadFile(up, limits.maxHeldWriteBytes, this.deps.budgets?.held);
    let handle: Buffer;
    try {
      handle = this.newHandle({ kind: 'write', file, chain: Promise.resolve(), opened: Date.now() });
    } catch (e) {
      await file.abort('too many open handles');
      throw e;
    }
    this.send(encode.handle(id, handle));
  }

  private async closeHandle(id: number, n: number, h: Handle): Promise<void> {
    this.handles.delete(n);
    const { metrics } = this.deps;
    if (h.kind === 'dir') return this.ok(id);
    const t0 = h.opened;
    if (h.kind === 'read') {
      h.file.close();
      metrics.transfers.inc({ direction: 'download', outcome: 'success' });
      this.log.info(
        { user: this.deps.principal.login, op: 'download', path: h.file.path, bytes: h.file.served, streams: h.file.opened, ms: Date.now() - t0 },
        'sftp transfer',
      );
      return this.ok(id);
    }
    try {
      const info = await h.file.close();
      metrics.transfers.inc({ direction: 'upload', outcome: 'success' });
      this.log.info({ user: this.deps.principal.login, op: 'upload', path: info.path, bytes: info.size, ms: Date.now() - t0 }, 'sftp transfer');
      this.ok(id);
    } catch (e) {
      metrics.transfers.inc({ direction: 'upload', outcome: 'failure' });
      this.log.info(
        { user: this.deps.principal.login, op: 'upload', path: h.file.path, bytes: h.file.bytesWritten, ms: Date.now() - t0, failed: toSftpError(e).code },
        'sftp transfer',
      );
      throw e;
    }
  }

  private async readdir(id: number, h: Extract<Handle, { kind: 'dir' }>): Promise<void> {
    const { core, principal: p, limits } = this.deps;
    if (h.entries.length === 0 && h.next !== undefined) {
      const page = await core.files.list(p, h.path, { cursor: h.next, limit: limits.listPage });
      h.entries = [...page.entries];
      h.next = page.next;
    }
    if (h.entries.length === 0) return this.send(encode.status(id, STATUS.EOF, 'end of directory'));
    const out: NameEntry[] = [];
    let bytes = 0;
    const now = Date.now();
    while (out.length < limits.readdirBatch && h.entries.length > 0 && bytes < limits.maxReadWrite - 4096) {
      const e = h.entries.shift()!;
      const entry = { filename: e.name, longname: longname(e, now), attrs: attrsOf(e) };
      bytes += 40 + Buffer.byteLength(entry.filename) + Buffer.byteLength(entry.longname);
      out.push(entry);
    }
    this.send(encode.name(id, out));
  }

  /** Ends the session: uploads still open are aborted (nothing becomes visible), downloads closed. */
  close(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.budgets?.pending.forget(this.wake);
    for (const w of this.drainWaiters.splice(0)) w();
    let aborted = 0;
    for (const h of this.handles.values()) {
      if (h.kind === 'read') h.file.close();
      if (h.kind === 'write') {
        aborted++;
        this.deps.metrics.transfers.inc({ direction: 'upload', outcome: 'aborted' });
        void h.file.abort(`sftp session ended: ${why}`);
      }
    }
    this.handles.clear();
    // Our side of the channel closes too (the client waits for it after its EOF).
    if (!this.channel.writableEnded) this.channel.end();
    this.log.debug({ user: this.deps.principal.login, requests: this.requests, abortedUploads: aborted, reason: why }, 'sftp session closed');
  }
}

function times(ms: number | undefined): Attrs {
  const t = Math.floor((ms ?? Date.now()) / 1000);
  return { atime: t, mtime: t };
}
