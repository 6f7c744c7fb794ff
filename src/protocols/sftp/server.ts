/**
 * The SFTP front end: an SSH server (ssh2) that offers exactly one thing, the "sftp" subsystem,
 * to users the core authenticated.
 *
 * It receives the core object and nothing else (architecture rule 1). Authentication is the
 * core's (core.auth.password, core.auth.publicKey); every file operation is a core call
 * (session.ts). What this module decides on its own is SSH-level policy:
 * - Algorithms: modern only (ALGORITHMS below): curve25519 key exchange (ssh2 1.17 offers no
 *   post-quantum hybrid), ed25519 and RSA-SHA2 host keys, AEAD ciphers (chacha20-poly1305,
 *   AES-GCM) and, for older clients, AES-CTR with encrypt-then-MAC SHA-2 MACs, no compression;
 *   server-sig-algs names exactly the signature algorithms the core accepts. ssh2 always adds
 *   kex-strict-s-v00@openssh.com (strict key exchange against Terrapin, CVE-2023-48795).
 * - Authentication: publickey, password and keyboard-interactive; "none" is refused (it only
 *   lists the methods); a signature-less publickey query is answered PK_OK only for a key of that
 *   user and never signs anyone in; the signed request is decided by the core from scratch.
 *   keyboard-interactive asks "Password: " (echo off). For a user with two-factor sign-in a
 *   verified password or key answers partial success with only keyboard-interactive left, which
 *   asks "Verification code: " (keyboard-interactive alone asks both in turn); the core binds the
 *   code to the same user and connection context, and this module drops the pending first factor
 *   when the user name changes. A keyboard-interactive answer with any number of responses other
 *   than one fails. ssh2 disconnects a client that changes the user name or service between
 *   attempts (as OpenSSH does), so a new name always means a new connection. After
 *   `maxAuthAttempts` failures (wrong codes included) the connection is cut.
 * - Only session channels with the sftp subsystem: shell, exec, pty, env, X11, agent forwarding,
 *   port forwarding (direct-tcpip, tcpip-forward, streamlocal) are refused.
 * - Admission (admission.ts): connection totals, per-address limits and penalties, the banner
 *   deadline, random early drop of unauthenticated connections, counted in one place for the whole
 *   server. Here each admitted connection must finish its key exchange within `kexMs` and then
 *   authenticate within its whole login grace, and may open `maxSessionsPerConnection` channels;
 *   how it ended (signed in, failed, never tried, too slow) goes back for the address's penalty.
 * - Sockets have TCP_NODELAY (small status replies must not wait for Nagle).
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ClientInfo, KeyboardAuthContext, Session } from 'ssh2';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Core, MfaChallenge, Principal, RequestContext, SignInStep } from '../../core/index.js';
import { createMetrics, type Metrics } from '../http/metrics.js';
import { createByteBudget } from './byte-budget.js';
import { DEFAULT_SESSION_LIMITS, SftpSession, type SessionLimits } from './session.js';
import { createAdmission, type AdmissionLimits } from './admission.js';
import { DEFAULT_MAX_STARTUPS, DEFAULT_PENALTIES, parseMaxStartups, parsePenalties, type MaxStartups, type PenaltyPolicy } from '../../config/preauth.js';
import { SERVER_IDENT, SERVER_IDENT_LINE } from './hello.js';
import type { PenaltyKind } from './penalties.js';
import { native } from '../../runtime/native.js';

/**
 * Download chunks live in the stores' IO buffers, which are shared memory: ssh2 copies them into
 * its packets with the native copy instead of TypedArray#set, which copies shared memory with
 * relaxed atomics (a third of the main thread's time in a download). The hook is ours
 * (patches/ssh2+1.17.0.patch); the chunks are the main thread's while they are written.
 */
const ssh2Protocol = createRequire(import.meta.url)('ssh2/lib/protocol/Protocol.js') as {
  setChannelDataCopy?: (fn: (packet: Buffer, data: Buffer, at: number) => void) => void;
};
if (native) {
  const copy = native.copyBytes;
  ssh2Protocol.setChannelDataCopy?.((packet, data, at) => copy(packet, at, data));
}

/** Transport algorithms, most preferred first (the client's order decides among them). */
export const ALGORITHMS = Object.freeze({
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group18-sha512', 'diffie-hellman-group16-sha512'],
  serverHostKey: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  // AES-CTR only for clients without AEAD ciphers (older Java and embedded libraries), and only
  // with the encrypt-then-MAC MACs below.
  cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr', 'aes256-ctr'],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'],
  compress: ['none'],
});

/**
 * The signature algorithms accepted for publickey sign-in (core/auth/publickey.ts), announced as
 * server-sig-algs (RFC 8308) through the ssh2 patch's `serverSigAlgs`: no ssh-rsa (SHA-1), no DSA.
 */
export const SIGNATURE_ALGORITHMS: readonly string[] = Object.freeze([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
]);

export interface SftpLimits extends SessionLimits, AdmissionLimits {
  readonly maxAuthAttempts: number;
  readonly maxSessionsPerConnection: number;
  /** Written bytes waiting for the core, all sessions together (input pauses beyond). */
  readonly maxPendingWriteBytesTotal: number;
  /** Out-of-order write bytes held, all sessions together (such writes fail beyond). */
  readonly maxHeldWriteBytesTotal: number;
}

export const DEFAULT_LIMITS: SftpLimits = Object.freeze({
  ...DEFAULT_SESSION_LIMITS,
  loginGraceMs: 30_000,
  bannerTimeoutMs: 10_000,
  kexTimeoutMs: 15_000,
  maxAuthAttempts: 6,
  maxConnections: 1024,
  maxConnectionsPerIp: 256,
  maxUnauthPerIp: 32,
  maxStartups: parseMaxStartups(DEFAULT_MAX_STARTUPS) as MaxStartups,
  maxPreAuthPerIp: 8,
  penalties: parsePenalties(DEFAULT_PENALTIES) as PenaltyPolicy,
  maxSessionsPerConnection: 10,
  maxPendingWriteBytesTotal: 256 * 1024 * 1024,
  maxHeldWriteBytesTotal: 256 * 1024 * 1024,
});

export interface SshHandlerOptions {
  readonly core: Core;
  readonly log: Logger;
  /** Private host keys (OpenSSH format), e.g. from app/host-keys.ts. */
  readonly hostKeys: readonly Buffer[];
  /** Shared metrics (with the HTTP server's /metrics); a fresh registry when absent. */
  readonly metrics?: Metrics | undefined;
  readonly limits?: Partial<SftpLimits> | undefined;
}

export type SftpServerOptions = SshHandlerOptions;

/** What a connection's owner (admission.ts) learns from the SSH side. */
export interface ConnectionHooks {
  /** The client authenticated. */
  signedIn(): void;
  /** The connection ended (called exactly once), with the penalty its address earned, if any. */
  closed(penalty?: PenaltyKind): void;
}

/** What the SSH side is told about an admitted connection. */
export interface HandleInfo {
  readonly ip: string;
  /** Bytes admission already read (the client's identification and KEXINIT); it also sent ours. */
  readonly head?: Buffer | undefined;
  /** Time to finish the key exchange (default: the limits' kexTimeoutMs). */
  readonly kexMs?: number | undefined;
  /** Time to authenticate after the key exchange. */
  readonly graceMs: number;
}

/**
 * Runs SSH on connections someone else accepted and admitted (server.ts in this process, or an
 * SFTP worker process: app/sftp-worker.ts).
 */
export interface SshHandler {
  /** Starts SSH on `socket`: key exchange within `kexMs`, then authentication within `graceMs`. */
  handle(socket: net.Socket, info: HandleInfo, hooks: ConnectionHooks): void;
  /** Bytes of client writes held now, all sessions together: waiting for the core, and out of order. */
  readonly heldWriteBytes: { readonly pending: number; readonly outOfOrder: number };
  /**
   * Refuses new sessions and sign-ins, ends idle connections at once and lets connections with
   * open files finish for up to `graceMs`; then ends the rest (their unfinished uploads are aborted).
   */
  close(graceMs?: number): Promise<void>;
}

export interface SftpServer {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Open connections. */
  readonly connections: number;
  /** Bytes of client writes held now, all sessions together: waiting for the core, and out of order. */
  readonly heldWriteBytes: { readonly pending: number; readonly outOfOrder: number };
  /**
   * Stops accepting, ends idle connections at once and lets connections with open files finish
   * for up to `graceMs`; then ends the rest (their unfinished uploads are aborted).
   */
  close(graceMs?: number): Promise<void>;
}

type AuthMethod = 'publickey' | 'password' | 'keyboard-interactive';
const METHODS: AuthMethod[] = ['publickey', 'password', 'keyboard-interactive'];

interface Conn {
  readonly ip: string;
  readonly socket: net.Socket;
  readonly hooks: ConnectionHooks;
  readonly graceMs: number;
  authenticated: boolean;
  client?: Connection;
  readonly sessions: Set<SftpSession>;
  channels: number;
  /** The key-exchange deadline, then the login grace. */
  timer?: NodeJS.Timeout;
  /** Failed sign-in attempts; whether a deadline cut it (for the address's penalty). */
  failures: number;
  timedOut: boolean;
}

/** Makes the socket's next write a no-op if it is our identification line (admission sent it already). */
function skipIdentWrite(socket: net.Socket): void {
  const write = socket.write;
  socket.write = function (this: net.Socket, data: unknown, ...rest: unknown[]): boolean {
    socket.write = write;
    if (Buffer.isBuffer(data) && data.equals(SERVER_IDENT_LINE)) {
      const cb = rest.find((r): r is () => void => typeof r === 'function');
      if (cb) process.nextTick(cb);
      return true;
    }
    return (write as (...a: unknown[]) => boolean).call(this, data, ...rest);
  } as typeof socket.write;
}

const printable = (s: string, max = 200) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);

/** The signature algorithm of a publickey request, as the core names it. */
function signatureAlgorithm(keyAlgo: string, hashAlgo: string | undefined): string {
  if (keyAlgo !== 'ssh-rsa') return keyAlgo;
  if (hashAlgo === 'sha256') return 'rsa-sha2-256';
  if (hashAlgo === 'sha512') return 'rsa-sha2-512';
  return 'ssh-rsa';
}

/**
 * Host keys as ssh2 should use them. ssh2 offers "ssh-rsa" (RSA signatures with SHA-1) for every
 * RSA host key, whatever the algorithm list says; registering the RSA key under the names
 * rsa-sha2-512 and rsa-sha2-256 (ssh2 keys its host keys by algorithm name and picks the hash
 * from the negotiated name) offers only those. The key blob sent stays "ssh-rsa" (RFC 8332).
 */
function hostKeyEntries(keys: readonly Buffer[]): { key: ssh2.ParsedKey }[] {
  const out: { key: ssh2.ParsedKey }[] = [];
  for (const k of keys) {
    const parsed = ssh2.utils.parseKey(k);
    const key = Array.isArray(parsed) ? (parsed[0] as ssh2.ParsedKey | undefined) : parsed;
    if (!key || key instanceof Error) throw new Error(`cannot parse an SSH host key: ${key instanceof Error ? key.message : 'empty'}`);
    if (key.type === 'ssh-rsa') {
      for (const name of ['rsa-sha2-512', 'rsa-sha2-256']) out.push({ key: Object.create(key, { type: { value: name } }) as ssh2.ParsedKey });
    } else out.push({ key });
  }
  return out;
}

function authMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    auth: get(
      'sluice_sftp_auth_total',
      () =>
        new Counter({
          name: 'sluice_sftp_auth_total',
          help: 'SFTP authentication attempts by method and outcome',
          labelNames: ['method', 'outcome'] as const,
          registers: [registry],
        }),
    ),
  };
}

/** The SSH side of the SFTP front end; see the module comment for its policy. */
export function createSshHandler(opts: SshHandlerOptions): SshHandler {
  const { core } = opts;
  const log = opts.log.child({ component: 'sftp' });
  const limits: SftpLimits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: false });
  const m = authMetrics(metrics.registry);
  const budgets = { pending: createByteBudget(limits.maxPendingWriteBytesTotal), held: createByteBudget(limits.maxHeldWriteBytesTotal) };
  if (opts.hostKeys.length === 0) throw new Error('the SFTP server needs at least one host key');

  const ssh = new ssh2.Server({
    hostKeys: hostKeyEntries(opts.hostKeys),
    algorithms: ALGORITHMS as ssh2.Algorithms,
    ident: SERVER_IDENT,
    // The patch's option (patches/ssh2+1.17.0.patch); ssh2's own list lacks a comma and offers ssh-rsa and ssh-dss.
    serverSigAlgs: [...SIGNATURE_ALGORITHMS],
  } as ssh2.ServerConfig);
  ssh.on('connection', (client: Connection, info: ClientInfo) => onClient(client, info));
  ssh.on('error', (e: Error) => log.warn({ err: e.message }, 'ssh server error'));

  const conns = new Map<string, Conn>(); // by "ip|port"
  let closing = false;

  function handle(socket: net.Socket, info: HandleInfo, hooks: ConnectionHooks): void {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    let ended = false;
    const end = (penalty?: PenaltyKind) => {
      if (ended) return;
      ended = true;
      hooks.closed(penalty);
    };
    if (closing || socket.destroyed || conns.has(key)) {
      socket.destroy();
      return end();
    }
    const conn: Conn = {
      ip: info.ip,
      socket,
      hooks,
      graceMs: info.graceMs,
      authenticated: false,
      sessions: new Set(),
      channels: 0,
      failures: 0,
      timedOut: false,
    };
    conns.set(key, conn);
    conn.timer = setTimeout(() => {
      if (conn.authenticated) return;
      log.debug({ ip: conn.ip }, 'sftp key exchange time over');
      conn.timedOut = true;
      socket.destroy();
    }, info.kexMs ?? limits.kexTimeoutMs);
    conn.timer.unref();
    socket.once('close', () => {
      clearTimeout(conn.timer);
      conns.delete(key);
      for (const s of conn.sessions) s.close('connection closed');
      conn.sessions.clear();
      // What the address earned (admission.ts): nothing for a signed-in connection or our own shutdown.
      end(conn.authenticated || closing ? undefined : conn.timedOut ? 'graceExceeded' : conn.failures > 0 ? 'authfail' : 'noauth');
    });
    if (info.head) {
      skipIdentWrite(socket);
      socket.unshift(info.head);
      ssh.injectSocket(socket);
      // ssh2 resumes the socket once its reader is attached; resuming earlier would lose the head.
    } else {
      ssh.injectSocket(socket);
      // A socket handed over from another process may arrive paused.
      socket.resume();
    }
  }

  function onClient(client: Connection, info: ClientInfo): void {
    const conn = conns.get(`${info.ip}|${info.port}`);
    client.on('error', (e: Error) => log.debug({ ip: conn?.ip, err: e.message }, 'ssh connection error'));
    if (!conn) {
      client.end();
      return;
    }
    conn.client = client;
    // The key exchange is done: the whole login grace starts now.
    client.once('handshake', () => {
      clearTimeout(conn.timer);
      if (conn.authenticated) return;
      conn.timer = setTimeout(() => {
        if (conn.authenticated) return;
        log.debug({ ip: conn.ip }, 'sftp login grace time over');
        conn.timedOut = true;
        conn.socket.destroy();
      }, conn.graceMs);
      conn.timer.unref();
    });
    const rctx: RequestContext = { protocol: 'sftp', remoteAddr: conn.ip, client: printable(info.header.identRaw) };
    let principal: Principal | undefined;

    // Two-factor sign-in: after a first factor (password or key) of a user with TOTP, the challenge
    // for the code, bound to the user name it was verified for. Only keyboard-interactive may
    // complete it; a request for another user name drops it (and ssh2 disconnects such a client).
    let pending: { readonly challenge: MfaChallenge; readonly username: string } | undefined;
    const methodsLeft = (): AuthMethod[] => (pending ? ['keyboard-interactive'] : METHODS);

    const failed = (a: AuthContext, method: string) => {
      m.auth.inc({ method, outcome: 'failure' });
      conn.failures++;
      a.reject(methodsLeft());
      if (conn.failures >= limits.maxAuthAttempts) {
        log.info({ ip: conn.ip, user: printable(a.username, 64), failures: conn.failures }, 'sftp: too many authentication failures, disconnecting');
        client.end();
      }
    };

    /** A verified first factor: signed in, or (two-factor user) partial success with only keyboard-interactive left. */
    const firstFactor = (a: AuthContext, r: SignInStep, method: string) => {
      if (r.kind === 'signed-in') {
        principal = r.principal;
        m.auth.inc({ method, outcome: 'success' });
        return a.accept();
      }
      pending = { challenge: r.challenge, username: a.username };
      m.auth.inc({ method, outcome: 'partial' });
      return a.reject(['keyboard-interactive'], true);
    };

    /**
     * One keyboard-interactive prompt (echo off). Resolves to the single answer, '' when the client
     * answered with another number of responses (zero-prompt tricks fail like a wrong answer), or
     * null when the client abandoned the exchange for a new request (ssh2 "abort").
     */
    const ask = (a: KeyboardAuthContext, prompt: string) =>
      new Promise<string | null>((resolve) => {
        a.prompt([{ prompt, echo: false }], 'Sluice', (answers: unknown) => {
          if (answers instanceof Error) return resolve(null);
          resolve(Array.isArray(answers) && answers.length === 1 && typeof answers[0] === 'string' ? answers[0] : '');
        });
      });

    /** The TOTP code for the pending first factor. */
    const verificationCode = async (a: KeyboardAuthContext) => {
      const p = pending!;
      const code = await ask(a, 'Verification code: ');
      if (code === null) return;
      try {
        principal = await core.auth.secondFactor(p.challenge, a.username, code, rctx);
        pending = undefined;
        m.auth.inc({ method: 'keyboard-interactive', outcome: 'success' });
        return a.accept();
      } catch {
        return failed(a, 'keyboard-interactive');
      }
    };

    /**
     * keyboard-interactive: the code when a first factor is pending for this user; otherwise
     * "Password: " (and then "Verification code: " for a two-factor user), for clients such as
     * WinSCP and PuTTY that use only this method.
     */
    const keyboard = async (a: KeyboardAuthContext) => {
      if (pending) return verificationCode(a);
      const password = await ask(a, 'Password: ');
      if (password === null) return;
      let r: SignInStep;
      try {
        r = await core.auth.passwordStep(a.username, password, rctx);
      } catch {
        return failed(a, 'keyboard-interactive');
      }
      if (r.kind === 'signed-in') return firstFactor(a, r, 'keyboard-interactive');
      pending = { challenge: r.challenge, username: a.username };
      return verificationCode(a);
    };

    client.on('authentication', (a: AuthContext) => {
      void (async () => {
        if (principal || closing) return a.reject();
        // A second factor belongs to the user of the first: another user name starts over.
        if (pending && a.username !== pending.username) pending = undefined;
        switch (a.method) {
          case 'none':
            // Only lists the methods; never a way in.
            return a.reject(methodsLeft());
          case 'password':
            try {
              return firstFactor(a, await core.auth.passwordStep(a.username, a.password, rctx), 'password');
            } catch {
              return failed(a, 'password');
            }
          case 'publickey': {
            const signed = a.signature !== undefined;
            try {
              const r = await core.auth.publicKey(
                {
                  login: a.username,
                  algorithm: signatureAlgorithm(a.key.algo, a.hashAlgo),
                  keyBlob: a.key.data,
                  ...(signed ? { signature: a.signature, signedData: a.blob } : {}),
                },
                rctx,
              );
              if (signed && (r.kind === 'signed-in' || r.kind === 'needs-totp')) return firstFactor(a, r, 'publickey');
              // A query for a key of this user: PK_OK (ssh2 sends it for accept() without a signature).
              if (!signed && r.kind === 'acceptable') return a.accept();
              return failed(a, 'publickey');
            } catch {
              return failed(a, 'publickey');
            }
          }
          case 'keyboard-interactive':
            return keyboard(a);
          default:
            return failed(a, a.method);
        }
      })().catch((e: unknown) => {
        log.error({ err: e }, 'sftp authentication handler failed');
        a.reject();
      });
    });

    client.on('ready', () => {
      clearTimeout(conn.timer);
      conn.authenticated = true;
      conn.hooks.signedIn();
      const p = principal!;
      log.info({ ip: conn.ip, user: p.login, method: p.method, client: rctx.client }, 'sftp: signed in');
      client.on('session', (accept: () => Session, reject: () => void) => {
        if (closing || conn.channels >= limits.maxSessionsPerConnection) return reject();
        conn.channels++;
        const session = accept();
        let started = false;
        session.on('close', () => conn.channels--);
        // Only the sftp subsystem. No listener for shell, exec, pty, env, x11 or auth-agent:
        // ssh2 answers those with a failure.
        session.on('subsystem', (ok: () => ssh2.ServerChannel, no: () => void, info: { name: string }) => {
          if (info.name !== 'sftp' || started || closing) return no();
          started = true;
          const channel = ok();
          const s = new SftpSession(channel, { core, principal: p, log: log.child({ user: p.login }), metrics, limits, socket: conn.socket, budgets });
          conn.sessions.add(s);
          channel.once('close', () => conn.sessions.delete(s));
        });
      });
    });
  }

  return {
    handle,
    get heldWriteBytes() {
      return { pending: budgets.pending.used, outOfOrder: budgets.held.used };
    },
    async close(graceMs = 30_000) {
      closing = true;
      const idle = (c: Conn) => !c.authenticated || [...c.sessions].every((s) => s.openFiles === 0);
      const ended = new WeakSet<Conn>();
      const end = (c: Conn) => {
        if (ended.has(c)) return;
        ended.add(c);
        try {
          c.client?.end();
        } catch {}
        setTimeout(() => c.socket.destroy(), 1000).unref();
      };
      const until = Date.now() + graceMs;
      while (conns.size > 0 && Date.now() < until) {
        for (const c of conns.values()) if (idle(c)) end(c);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const c of conns.values()) {
        for (const s of c.sessions) s.close('server shutting down');
        c.socket.destroy();
      }
    },
  };
}

/** SFTP in this process: a listener, admission (admission.ts) and the SSH handler. */
export function createSftpServer(opts: SftpServerOptions): SftpServer {
  const log = opts.log.child({ component: 'sftp' });
  const limits: SftpLimits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: false });
  const handler = createSshHandler({ ...opts, metrics, limits });
  const admission = createAdmission({
    limits,
    log,
    registry: metrics.registry,
    start: (c) => handler.handle(c.socket, c, { signedIn: () => admission.signedIn(c.id), closed: (penalty) => admission.gone(c.id, penalty) }),
  });
  const tcp = net.createServer({ noDelay: true }, (socket) => admission.accept(socket));
  tcp.on('error', (e) => log.error({ err: e.message }, 'sftp listener error'));
  return {
    listen: (host, port) => listenOn(tcp, host, port, log),
    get connections() {
      return admission.size;
    },
    get heldWriteBytes() {
      return handler.heldWriteBytes;
    },
    async close(graceMs = 30_000) {
      admission.stop();
      const stopped = new Promise<void>((r) => tcp.close(() => r()));
      await handler.close(graceMs);
      await stopped;
    },
  };
}

/** Listens on host:port and resolves with the address bound. */
export function listenOn(tcp: net.Server, host: string, port: number, log: Logger): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => {
      tcp.off('error', reject);
      const a = tcp.address() as net.AddressInfo;
      log.info({ host: a.address, port: a.port }, 'sftp listening');
      resolve({ host: a.address, port: a.port });
    });
  });
}
