/**
 * Clients that do not behave: an SFTP client that writes packets byte for byte over an ssh2
 * channel, and an SSH client driven at the message level (ssh2's Protocol) for authentication
 * attacks (MOV-3). Both talk to the real server over TCP.
 */
import net from 'node:net';
import { createRequire } from 'node:module';
import ssh2 from 'ssh2';

export interface UserKey {
  /** OpenSSH private key (for ssh2's client). */
  readonly privateKey: string;
  /** OpenSSH public key line (for core.admin.keys.add). */
  readonly publicLine: string;
  readonly parsed: ssh2.ParsedKey;
}

export function userKey(type: 'ed25519' | 'rsa' = 'ed25519'): UserKey {
  // ssh2's generator sometimes drops a leading zero byte of an ed25519 public key (a malformed
  // key): make another one then.
  for (;;) {
    const k = type === 'rsa' ? ssh2.utils.generateKeyPairSync('rsa', { bits: 3072 }) : ssh2.utils.generateKeyPairSync('ed25519');
    const parsed = ssh2.utils.parseKey(k.private);
    if (!(parsed instanceof Error)) return { privateKey: k.private, publicLine: k.public, parsed };
  }
}

/** Connects and authenticates with ssh2's client. */
export function connect(port: number, username: string, auth: { key?: UserKey; password?: string }): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({
      host: '127.0.0.1',
      port,
      username,
      ...(auth.key ? { privateKey: auth.key.privateKey } : {}),
      ...(auth.password ? { password: auth.password } : {}),
      tryKeyboard: false,
      readyTimeout: 20_000,
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Raw SFTP
// ---------------------------------------------------------------------------------------------

export const T = {
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
export const R = { VERSION: 2, STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105, EXTENDED_REPLY: 201 } as const;
export const FX = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, OP_UNSUPPORTED: 8 } as const;

export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
export const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
export const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(b.length), b]);
};
export const noAttrs = u32(0);

export interface Reply {
  readonly type: number;
  readonly id: number;
  readonly body: Buffer;
  /** STATUS */
  readonly code?: number;
  readonly message?: string;
  /** HANDLE */
  readonly handle?: Buffer;
  /** DATA */
  readonly data?: Buffer;
  /** NAME */
  readonly names?: { filename: string; longname: string; size?: number }[];
  /** ATTRS */
  readonly size?: number;
}

function parseReply(pkt: Buffer): Reply {
  const type = pkt[0]!;
  if (type === R.VERSION) return { type, id: -1, body: pkt.subarray(1) };
  const id = pkt.readUInt32BE(1);
  const body = pkt.subarray(5);
  switch (type) {
    case R.STATUS: {
      const code = body.readUInt32BE(0);
      const len = body.readUInt32BE(4);
      return { type, id, body, code, message: body.subarray(8, 8 + len).toString('utf8') };
    }
    case R.HANDLE:
      return { type, id, body, handle: body.subarray(4, 4 + body.readUInt32BE(0)) };
    case R.DATA:
      return { type, id, body, data: body.subarray(4, 4 + body.readUInt32BE(0)) };
    case R.ATTRS: {
      const flags = body.readUInt32BE(0);
      return { type, id, body, ...(flags & 1 ? { size: Number(body.readBigUInt64BE(4)) } : {}) };
    }
    case R.NAME: {
      const n = body.readUInt32BE(0);
      let o = 4;
      const names: { filename: string; longname: string; size?: number }[] = [];
      for (let i = 0; i < n; i++) {
        const fl = body.readUInt32BE(o);
        const filename = body.subarray(o + 4, o + 4 + fl).toString('utf8');
        o += 4 + fl;
        const ll = body.readUInt32BE(o);
        const longname = body.subarray(o + 4, o + 4 + ll).toString('utf8');
        o += 4 + ll;
        const flags = body.readUInt32BE(o);
        o += 4;
        let size: number | undefined;
        if (flags & 1) {
          size = Number(body.readBigUInt64BE(o));
          o += 8;
        }
        if (flags & 2) o += 8;
        if (flags & 4) o += 4;
        if (flags & 8) o += 8;
        names.push({ filename, longname, ...(size !== undefined ? { size } : {}) });
      }
      return { type, id, body, names };
    }
    default:
      return { type, id, body };
  }
}

/** An SFTP client that sends exactly the bytes it is told to. */
export class RawSftp {
  private buf = Buffer.alloc(0);
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private versionWaiter: ((r: Reply) => void) | undefined;
  private nextId = 1;
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(
    readonly client: ssh2.Client,
    readonly channel: ssh2.ClientChannel,
  ) {
    channel.on('data', (d: Buffer) => this.onData(d));
    this.closedPromise = new Promise((r) => {
      const done = () => {
        this.closed = true;
        r();
      };
      channel.once('close', done);
      channel.once('end', done);
    });
  }

  static async open(client: ssh2.Client, init = true): Promise<RawSftp> {
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => client.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch))));
    const s = new RawSftp(client, channel);
    if (init) await s.init();
    return s;
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + len) return;
      const r = parseReply(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
      if (r.type === R.VERSION) {
        this.versionWaiter?.(r);
        continue;
      }
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      w?.(r);
    }
  }

  async init(): Promise<Reply> {
    const p = new Promise<Reply>((r) => (this.versionWaiter = r));
    this.raw(Buffer.concat([u32(5), Buffer.from([T.INIT]), u32(3)]));
    return p;
  }

  /** Extensions announced in VERSION. */
  static extensions(v: Reply): Record<string, string> {
    const out: Record<string, string> = {};
    let o = 4;
    while (o < v.body.length) {
      const kl = v.body.readUInt32BE(o);
      const k = v.body.subarray(o + 4, o + 4 + kl).toString();
      o += 4 + kl;
      const vl = v.body.readUInt32BE(o);
      out[k] = v.body.subarray(o + 4, o + 4 + vl).toString();
      o += 4 + vl;
    }
    return out;
  }

  raw(b: Buffer): boolean {
    return this.channel.write(b);
  }

  /** Sends a request (type, then fields) and resolves with its reply. */
  request(type: number, ...fields: Buffer[]): Promise<Reply> {
    const id = this.nextId++;
    return this.requestWithId(id, type, ...fields);
  }

  requestWithId(id: number, type: number, ...fields: Buffer[]): Promise<Reply> {
    const body = Buffer.concat([Buffer.from([type]), u32(id), ...fields]);
    const p = new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, resolve);
      void this.closedPromise.then(() => reject(new Error(`channel closed before reply ${id}`)));
    });
    this.raw(Buffer.concat([u32(body.length), body]));
    return p;
  }

  open(path: string, flags: number): Promise<Reply> {
    return this.request(T.OPEN, str(path), u32(flags), noAttrs);
  }
  write(handle: Buffer, offset: number, data: Buffer): Promise<Reply> {
    return this.request(T.WRITE, str(handle), u64(offset), str(data));
  }
  read(handle: Buffer, offset: number, len: number): Promise<Reply> {
    return this.request(T.READ, str(handle), u64(offset), u32(len));
  }
  close(handle: Buffer): Promise<Reply> {
    return this.request(T.CLOSE, str(handle));
  }
  extended(name: string, ...fields: Buffer[]): Promise<Reply> {
    return this.request(T.EXTENDED, str(name), ...fields);
  }

  end(): void {
    this.channel.end();
    this.client.end();
  }
}

export const OPEN = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 16, EXCL: 32 } as const;
export const WRITE_NEW = OPEN.WRITE | OPEN.CREAT | OPEN.TRUNC;

// ---------------------------------------------------------------------------------------------
// Message-level SSH client (authentication attacks)
// ---------------------------------------------------------------------------------------------

const require = createRequire(import.meta.url);
// ssh2's transport class (internal, pinned version): key exchange and ciphers, with our messages.
const Protocol = require('ssh2/lib/protocol/Protocol.js') as new (cfg: Record<string, unknown>) => ProtocolLike;
const { init: cryptoInit } = require('ssh2/lib/protocol/crypto.js') as { init: Promise<void> };
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket(proto: ProtocolLike, packet: Buffer): void };

interface ProtocolLike {
  start(): void;
  parse(b: Buffer, start: number, end: number): void;
  service(name: string): void;
  authPK(user: string, pub: string | Buffer, algo: string | undefined, cbSign?: (data: Buffer, cb: (sig: Buffer) => void) => void): void;
  authPassword(user: string, password: string): void;
  authNone(user: string): void;
  session(chan: number, window: number, packetSize: number): void;
  disconnect(reason: number): void;
  _kex: { sessionID: Buffer };
  _authsQueue: string[];
  _packetRW: { write: { allocStart: number; allocStartKEX: number; alloc(n: number, kex?: boolean): Buffer; finalize(p: Buffer, kex?: boolean): Buffer } };
  _cipher: { encrypt(p: Buffer): void };
}

export type AuthReply = 'failure' | 'success' | 'pk_ok' | 'disconnect';

/** An SSH client at the message level: send any USERAUTH_REQUEST, see each answer. */
export class RawSsh {
  private readonly replies: AuthReply[] = [];
  private waiter: ((r: AuthReply) => void) | undefined;
  disconnected = false;
  /** The server's server-sig-algs (RFC 8308), once EXT_INFO arrived. */
  serverSigAlgs: string[] | undefined;
  /** SERVICE_ACCEPTs received. */
  serviceAccepts = 0;
  channelOpen: 'confirmed' | 'failed' | undefined;
  /** Changes the next bytes written to the socket (one write), e.g. to flip a bit after key exchange. */
  tamper: ((d: Buffer) => Buffer) | undefined;
  private chanWaiter: (() => void) | undefined;
  readonly proto: ProtocolLike;
  private constructor(private readonly sock: net.Socket) {
    const push = (r: AuthReply) => {
      if (r === 'disconnect') this.disconnected = true;
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w(r);
      else this.replies.push(r);
    };
    this.proto = new Protocol({
      ident: 'RawTest_1.0',
      onWrite: (d: Buffer) => {
        if (sock.destroyed) return;
        const t = this.tamper;
        this.tamper = undefined;
        sock.write(t ? t(Buffer.from(d)) : d);
      },
      onError: () => push('disconnect'),
      onHandshakeComplete: () => this.proto.service('ssh-userauth'),
      messageHandlers: {
        SERVICE_ACCEPT: () => {
          this.serviceAccepts++;
          const r = this.ready;
          this.ready = undefined;
          r?.();
          this.serviceWaiter?.();
        },
        EXT_INFO: (_p: unknown, exts: { name: string; algs?: string[] }[]) => {
          this.serverSigAlgs = exts.find((e) => e.name === 'server-sig-algs')?.algs;
        },
        USERAUTH_FAILURE: () => push('failure'),
        USERAUTH_SUCCESS: () => push('success'),
        USERAUTH_PK_OK: () => push('pk_ok'),
        USERAUTH_BANNER: () => undefined,
        DISCONNECT: () => push('disconnect'),
        CHANNEL_OPEN_CONFIRMATION: () => {
          this.channelOpen = 'confirmed';
          this.chanWaiter?.();
        },
        CHANNEL_OPEN_FAILURE: () => {
          this.channelOpen = 'failed';
          this.chanWaiter?.();
        },
      },
    });
    sock.on('close', () => {
      push('disconnect');
      this.chanWaiter?.();
    });
    sock.on('error', () => undefined);
  }
  private ready: (() => void) | undefined;
  private serviceWaiter: (() => void) | undefined;

  /** Requests the ssh-userauth service again (as some clients do before each attempt); true once accepted. */
  async serviceAgain(ms = 5000): Promise<boolean> {
    const before = this.serviceAccepts;
    const accepted = new Promise<void>((r) => (this.serviceWaiter = r));
    this.proto.service('ssh-userauth');
    await Promise.race([accepted, new Promise((r) => setTimeout(r, ms))]);
    this.serviceWaiter = undefined;
    return this.serviceAccepts > before && !this.disconnected;
  }

  static async connect(port: number): Promise<RawSsh> {
    await cryptoInit;
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const c = new RawSsh(sock);
    const ready = new Promise<void>((r, j) => {
      c.ready = r;
      sock.once('close', () => j(new Error('closed before ssh-userauth was accepted')));
    });
    sock.on('data', (d: Buffer) => {
      try {
        c.proto.parse(d, 0, d.length);
      } catch {
        sock.destroy();
      }
    });
    c.proto.start();
    await ready;
    return c;
  }

  get sessionId(): Buffer {
    return this.proto._kex.sessionID;
  }

  /** The next answer to an authentication request (or 'disconnect'). */
  next(ms = 10_000): Promise<AuthReply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.disconnected) return Promise.resolve('disconnect');
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve('disconnect'), ms);
      this.waiter = (x) => {
        clearTimeout(t);
        resolve(x);
      };
    });
  }

  query(user: string, publicLine: string | Buffer, algo?: string): Promise<AuthReply> {
    this.proto.authPK(user, publicLine, algo);
    return this.next();
  }

  /** A signed request for `publicLine`, the signature made by `sign` over what it is given. */
  signed(user: string, publicLine: string | Buffer, sign: (data: Buffer) => Buffer, algo?: string): Promise<AuthReply> {
    this.proto.authPK(user, publicLine, algo, (data, cb) => cb(sign(data)));
    return this.next();
  }

  password(user: string, password: string): Promise<AuthReply> {
    this.proto.authPassword(user, password);
    return this.next();
  }

  none(user: string): Promise<AuthReply> {
    this.proto.authNone(user);
    return this.next();
  }

  /** Sends any message payload (type byte first) over the encrypted transport. */
  sendPayload(payload: Buffer): void {
    const w = this.proto._packetRW.write;
    const p = w.allocStart;
    const packet = w.alloc(payload.length);
    payload.copy(packet, p);
    sendPacket(this.proto, w.finalize(packet));
  }

  /**
   * A publickey USERAUTH_REQUEST with any bytes as the key blob (no client-side parsing), with or
   * without a signature blob.
   */
  rawPublicKey(user: string | Buffer, algo: string, blob: Buffer, signature?: Buffer): Promise<AuthReply> {
    const parts = [Buffer.from([50]), str(user), str('ssh-connection'), str('publickey'), Buffer.from([signature ? 1 : 0]), str(algo), str(blob)];
    if (signature) parts.push(str(Buffer.concat([str(algo), str(signature)])));
    // ssh2 reads message 60 as PK_OK only while a publickey request is outstanding.
    this.proto._authsQueue.push('publickey');
    this.sendPayload(Buffer.concat(parts));
    return this.next();
  }

  /** Sends a bare message of one type byte (e.g. 52, USERAUTH_SUCCESS, from the client). */
  sendType(type: number): void {
    const w = this.proto._packetRW.write;
    const p = w.allocStartKEX;
    const packet = w.alloc(1, true);
    packet[p] = type;
    this.proto._cipher.encrypt(w.finalize(packet, true));
  }

  /** Tries to open a session channel: true only if the server confirms it. */
  async openSession(): Promise<boolean> {
    if (this.disconnected) return false;
    const done = new Promise<void>((r) => (this.chanWaiter = r));
    this.proto.session(0, 2 * 1024 * 1024, 32 * 1024);
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    return this.channelOpen === 'confirmed';
  }

  close(): void {
    this.sock.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The SSH transport before key exchange (handshake and framing attacks: SERVU-1, SSH-1..3)
// ---------------------------------------------------------------------------------------------

/** A plain (pre-NEWKEYS) SSH binary packet around `payload`. */
export function plainPacket(payload: Buffer): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const b = Buffer.alloc(5 + payload.length + pad);
  b.writeUInt32BE(1 + payload.length + pad, 0);
  b[4] = pad;
  payload.copy(b, 5);
  return b;
}

/** A client KEXINIT with the given name-lists (reserved field and first_kex_packet_follows settable). */
export function kexinitPayload(
  lists: { kex: string[]; hostKey?: string[]; cipher?: string[]; mac?: string[]; compress?: string[] },
  opts: { firstKexFollows?: boolean; reserved?: number } = {},
): Buffer {
  const l = (a: string[]) => str(a.join(','));
  const cipher = lists.cipher ?? ['aes128-gcm@openssh.com'];
  const mac = lists.mac ?? ['hmac-sha2-256-etm@openssh.com'];
  const comp = lists.compress ?? ['none'];
  return Buffer.concat([
    Buffer.from([20]),
    Buffer.alloc(16, 7),
    l(lists.kex),
    l(lists.hostKey ?? ['ssh-ed25519']),
    l(cipher),
    l(cipher),
    l(mac),
    l(mac),
    l(comp),
    l(comp),
    l([]),
    l([]),
    Buffer.from([opts.firstKexFollows ? 1 : 0]),
    u32(opts.reserved ?? 0),
  ]);
}

export interface RawTransport {
  readonly sock: net.Socket;
  /** Everything the server sent so far. */
  received(): Buffer;
  /** Resolves true when the server closed the connection within `ms`, false otherwise. */
  closedWithin(ms: number): Promise<boolean>;
}

/** A TCP connection to the SSH port that sends `ident` (a line, or raw bytes) and then whatever it is told. */
export async function rawTransport(port: number, ident: string | Buffer = 'SSH-2.0-RawTransport_1.0\r\n'): Promise<RawTransport> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  sock.on('error', () => undefined);
  const chunks: Buffer[] = [];
  let closed = false;
  const closedP = new Promise<void>((r) => sock.once('close', () => ((closed = true), r())));
  sock.on('data', (d: Buffer) => {
    if (chunks.length < 64) chunks.push(d);
  });
  if (ident.length) sock.write(ident);
  return {
    sock,
    received: () => Buffer.concat(chunks),
    closedWithin: (ms) =>
      closed ? Promise.resolve(true) : Promise.race([closedP.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
  };
}
