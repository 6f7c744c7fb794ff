/**
 * SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02, plus the OpenSSH extensions in
 * PROTOCOL): packet framing with a hard size limit, request parsing that never reads past a
 * packet, and response encoding.
 *
 * Why our own codec instead of ssh2's SFTP class: ssh2 hands every request to the application as
 * soon as it is parsed, with no way to stop reading (a client can queue any number of READs or
 * WRITEs), does not advertise extensions in VERSION and cannot send EXTENDED_REPLY. Running the
 * subsystem on ssh2's plain channel stream gives flow control (when we stop reading, the SSH
 * window closes and the client waits), the extension advertisement OpenSSH clients need for
 * 255 KiB requests (limits@openssh.com), and bounded memory. The SSH transport, key exchange and
 * ciphers remain ssh2's.
 */

export const REQ = {
  INIT: 1,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  EXTENDED: 200,
} as const;

const RES = { VERSION: 2, STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105, EXTENDED_REPLY: 201 } as const;

/** SFTP v3 status codes (the only ones a v3 client knows). */
export const STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type StatusCode = (typeof STATUS)[keyof typeof STATUS];

export const OPEN_FLAGS = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

const ATTR = { SIZE: 0x01, UIDGID: 0x02, PERMISSIONS: 0x04, ACMODTIME: 0x08, EXTENDED: 0x80000000 } as const;

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

export interface Attrs {
  readonly size?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  readonly permissions?: number | undefined;
  readonly atime?: number | undefined;
  readonly mtime?: number | undefined;
}

export interface NameEntry {
  readonly filename: string;
  readonly longname: string;
  readonly attrs: Attrs;
}

/** A malformed packet: answered with BAD_MESSAGE (or the session ends when there is no id). */
export class BadMessage extends Error {}

// ---------------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------------

/**
 * Large packets (WRITEs: up to 255 KiB, cut by ssh2 into 32 KiB pieces) are copied together into
 * buffers from a small process-wide free list rather than into a new buffer each: a 1 GiB upload
 * would otherwise allocate 1 GiB of short-lived buffers, which V8 frees only with full collections.
 * Whoever is done with such a packet (the WRITE's bytes copied by the store) gives it back with
 * recyclePacket(); one never given back is simply collected.
 */
const POOLED_PACKET_MIN = 64 * 1024;
const POOLED_PACKET_BYTES = 256 * 1024 + 1024;
const PACKET_FREE_MAX = 32;
const packetFree: ArrayBuffer[] = [];
const pooledPackets = new WeakSet<ArrayBuffer>();

function takePacketBuffer(): Buffer {
  let ab = packetFree.pop();
  if (ab === undefined) {
    ab = new ArrayBuffer(POOLED_PACKET_BYTES);
    pooledPackets.add(ab);
  }
  return Buffer.from(ab);
}

/** Gives a packet's memory back (a no-op for packets not from the free list). MUST NOT be used after. */
export function recyclePacket(pkt: Buffer): void {
  const ab = pkt.buffer;
  if (ab instanceof ArrayBuffer && pkt.byteOffset === 0 && pooledPackets.has(ab) && packetFree.length < PACKET_FREE_MAX && !packetFree.includes(ab))
    packetFree.push(ab);
}

/**
 * Collects channel data and cuts it into packets (type byte + payload, without the length).
 * A length of 0 or above `maxPacket` is a protocol violation (the session is ended). Packets are
 * handed out one at a time, so a paused session leaves the rest unparsed.
 */
export class Framer {
  private chunks: Buffer[] = [];
  private head = 0; // read offset into chunks[0]
  private buffered = 0;

  constructor(private readonly maxPacket: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete packet, undefined if none is complete yet. Throws BadMessage for a bad length. */
  next(): Buffer | undefined {
    if (this.buffered < 4) return undefined;
    const len = this.peekLength();
    if (len === 0 || len > this.maxPacket) throw new BadMessage(`packet length ${len} out of range`);
    if (this.buffered < 4 + len) return undefined;
    this.skip(4);
    return this.take(len);
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length - this.head >= 4) return first.readUInt32BE(this.head);
    const b = Buffer.alloc(4);
    let got = 0;
    for (let i = 0, off = this.head; got < 4; i++, off = 0) {
      const c = this.chunks[i]!;
      const n = Math.min(4 - got, c.length - off);
      c.copy(b, got, off, off + n);
      got += n;
    }
    return b.readUInt32BE(0);
  }

  private skip(n: number): void {
    while (n > 0) {
      const c = this.chunks[0]!;
      const avail = c.length - this.head;
      if (avail > n) {
        this.head += n;
        this.buffered -= n;
        return;
      }
      n -= avail;
      this.buffered -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.skip(n);
      return out;
    }
    const out = n >= POOLED_PACKET_MIN && n <= POOLED_PACKET_BYTES ? takePacketBuffer().subarray(0, n) : Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - got, c.length - this.head);
      c.copy(out, got, this.head, this.head + k);
      got += k;
      this.skip(k);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading requests
// ---------------------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  private off: number;
  constructor(
    private readonly buf: Buffer,
    start = 0,
  ) {
    this.off = start;
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
  u8(): number {
    if (this.off + 1 > this.buf.length) throw new BadMessage('truncated packet');
    return this.buf[this.off++]!;
  }
  u32(): number {
    if (this.off + 4 > this.buf.length) throw new BadMessage('truncated packet');
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  /** A uint64 that must fit a JavaScript safe integer (offsets and sizes). */
  u64(): number {
    if (this.off + 8 > this.buf.length) throw new BadMessage('truncated packet');
    const hi = this.buf.readUInt32BE(this.off);
    const lo = this.buf.readUInt32BE(this.off + 4);
    this.off += 8;
    if (hi >= 0x200000) throw new BadMessage('64-bit value out of range');
    return hi * 0x1_0000_0000 + lo;
  }
  /** The whole packet being read. */
  get packet(): Buffer {
    return this.buf;
  }

  bytes(): Buffer {
    const len = this.u32();
    if (this.off + len > this.buf.length) throw new BadMessage('string longer than the packet');
    const b = this.buf.subarray(this.off, this.off + len);
    this.off += len;
    return b;
  }
  /**
   * A UTF-8 string (paths, extension names). Invalid UTF-8 yields undefined: the caller answers
   * it like any other invalid name.
   */
  text(): string | undefined {
    const b = this.bytes();
    try {
      return utf8.decode(b);
    } catch {
      return undefined;
    }
  }
  attrs(): Attrs {
    const flags = this.u32();
    const a: { -readonly [K in keyof Attrs]: Attrs[K] } = {};
    if (flags & ATTR.SIZE) a.size = this.u64();
    if (flags & ATTR.UIDGID) {
      a.uid = this.u32();
      a.gid = this.u32();
    }
    if (flags & ATTR.PERMISSIONS) a.permissions = this.u32();
    if (flags & ATTR.ACMODTIME) {
      a.atime = this.u32();
      a.mtime = this.u32();
    }
    if (flags & ATTR.EXTENDED) {
      const n = this.u32();
      if (n > 64) throw new BadMessage('too many extended attributes');
      for (let i = 0; i < n; i++) {
        this.bytes();
        this.bytes();
      }
    }
    return a;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing responses
// ---------------------------------------------------------------------------------------------

function attrsSize(a: Attrs): number {
  let n = 4;
  if (a.size !== undefined) n += 8;
  if (a.uid !== undefined && a.gid !== undefined) n += 8;
  if (a.permissions !== undefined) n += 4;
  if (a.atime !== undefined && a.mtime !== undefined) n += 8;
  return n;
}

function writeU64(b: Buffer, v: number, off: number): number {
  const n = Math.max(0, Math.floor(v));
  b.writeUInt32BE(Math.floor(n / 0x1_0000_0000) >>> 0, off);
  b.writeUInt32BE((n % 0x1_0000_0000) >>> 0, off + 4);
  return off + 8;
}

function writeAttrs(b: Buffer, a: Attrs, off: number): number {
  let flags = 0;
  if (a.size !== undefined) flags |= ATTR.SIZE;
  if (a.uid !== undefined && a.gid !== undefined) flags |= ATTR.UIDGID;
  if (a.permissions !== undefined) flags |= ATTR.PERMISSIONS;
  if (a.atime !== undefined && a.mtime !== undefined) flags |= ATTR.ACMODTIME;
  off = b.writeUInt32BE(flags >>> 0, off);
  if (a.size !== undefined) off = writeU64(b, a.size, off);
  if (flags & ATTR.UIDGID) {
    off = b.writeUInt32BE(a.uid! >>> 0, off);
    off = b.writeUInt32BE(a.gid! >>> 0, off);
  }
  if (a.permissions !== undefined) off = b.writeUInt32BE(a.permissions >>> 0, off);
  if (flags & ATTR.ACMODTIME) {
    off = b.writeUInt32BE(a.atime! >>> 0, off);
    off = b.writeUInt32BE(a.mtime! >>> 0, off);
  }
  return off;
}

function packet(type: number, id: number | undefined, bodyLen: number): { buf: Buffer; off: number } {
  const head = id === undefined ? 5 : 9;
  const buf = Buffer.allocUnsafe(head + bodyLen);
  buf.writeUInt32BE(head - 4 + bodyLen, 0);
  buf[4] = type;
  if (id !== undefined) buf.writeUInt32BE(id >>> 0, 5);
  return { buf, off: head };
}

function writeString(b: Buffer, s: Buffer | string, off: number): number {
  const len = typeof s === 'string' ? Buffer.byteLength(s) : s.length;
  off = b.writeUInt32BE(len, off);
  if (typeof s === 'string') b.write(s, off, 'utf8');
  else s.copy(b, off);
  return off + len;
}

export const encode = {
  version(extensions: readonly (readonly [string, string])[]): Buffer {
    const len = 4 + extensions.reduce((n, [k, v]) => n + 8 + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    const { buf, off } = packet(RES.VERSION, undefined, len);
    let o = buf.writeUInt32BE(3, off);
    for (const [k, v] of extensions) {
      o = writeString(buf, k, o);
      o = writeString(buf, v, o);
    }
    return buf;
  },

  status(id: number, code: StatusCode, message = ''): Buffer {
    const msg = message.slice(0, 512);
    const { buf, off } = packet(RES.STATUS, id, 4 + 4 + Buffer.byteLength(msg) + 4);
    let o = buf.writeUInt32BE(code, off);
    o = writeString(buf, msg, o);
    writeString(buf, '', o); // language tag
    return buf;
  },

  handle(id: number, handle: Buffer): Buffer {
    const { buf, off } = packet(RES.HANDLE, id, 4 + handle.length);
    writeString(buf, handle, off);
    return buf;
  },

  /** The start of a DATA packet of `len` bytes (DATA_OVERHEAD bytes), to be followed by the bytes. */
  dataHeader(id: number, len: number): Buffer {
    const buf = Buffer.allocUnsafe(DATA_OVERHEAD);
    buf.writeUInt32BE(9 + len, 0);
    buf[4] = RES.DATA;
    buf.writeUInt32BE(id >>> 0, 5);
    buf.writeUInt32BE(len, 9);
    return buf;
  },

  name(id: number, entries: readonly NameEntry[]): Buffer {
    let len = 4;
    for (const e of entries) len += 8 + Buffer.byteLength(e.filename) + Buffer.byteLength(e.longname) + attrsSize(e.attrs);
    const { buf, off } = packet(RES.NAME, id, len);
    let o = buf.writeUInt32BE(entries.length, off);
    for (const e of entries) {
      o = writeString(buf, e.filename, o);
      o = writeString(buf, e.longname, o);
      o = writeAttrs(buf, e.attrs, o);
    }
    return buf;
  },

  attrs(id: number, a: Attrs): Buffer {
    const { buf, off } = packet(RES.ATTRS, id, attrsSize(a));
    writeAttrs(buf, a, off);
    return buf;
  },

  extendedReply(id: number, u64s: readonly number[]): Buffer {
    const { buf, off } = packet(RES.EXTENDED_REPLY, id, 8 * u64s.length);
    let o = off;
    for (const v of u64s) o = writeU64(buf, v, o);
    return buf;
  },
};

/** Bytes of a DATA packet around its payload (length, type, id, data length). */
export const DATA_OVERHEAD = 13;

// ---------------------------------------------------------------------------------------------
// Refusing a connection before the SSH handshake
// ---------------------------------------------------------------------------------------------

/** SSH_DISCONNECT reason codes (RFC 4253 §11.1) used when refusing a connection. */
export const DISCONNECT_REASON = { BY_APPLICATION: 11, TOO_MANY_CONNECTIONS: 12 } as const;

/** An unencrypted SSH_MSG_DISCONNECT packet (valid before the first NEWKEYS). */
export function sshDisconnectPacket(code: number, description: string): Buffer {
  const desc = Buffer.from(description.slice(0, 200), 'utf8');
  const payload = Buffer.alloc(1 + 4 + 4 + desc.length + 4);
  let o = payload.writeUInt8(1, 0); // SSH_MSG_DISCONNECT
  o = payload.writeUInt32BE(code, o);
  o = payload.writeUInt32BE(desc.length, o);
  o += desc.copy(payload, o);
  payload.writeUInt32BE(0, o); // language tag: empty
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const pkt = Buffer.alloc(5 + payload.length + pad); // zero padding: allowed before NEWKEYS
  pkt.writeUInt32BE(1 + payload.length + pad, 0);
  pkt[4] = pad;
  payload.copy(pkt, 5);
  return pkt;
}

/**
 * What a refused client receives instead of a bare reset: the server's identification line and
 * an unencrypted SSH_MSG_DISCONNECT with the reason (a DISCONNECT may be sent at any time, also
 * before key exchange: RFC 4253 §11.1). OpenSSH prints "Received disconnect from …: 12: too many
 * connections from this address"; ssh2 clients get an error with that message and code.
 */
export function sshRefusal(ident: string, code: number, description: string): Buffer {
  return Buffer.concat([Buffer.from(`SSH-2.0-${ident}\r\n`, 'latin1'), sshDisconnectPacket(code, description)]);
}
