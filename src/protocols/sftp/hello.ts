/**
 * The first bytes of an SSH connection, read before the connection gets a pre-auth slot: the
 * client's identification line (RFC 4253 §4.2: "SSH-2.0-…", at most 255 bytes, nothing before
 * it) within the banner deadline, then its first binary packet (the KEXINIT that starts the key
 * exchange) within the key-exchange deadline. A peer that sends nothing, or only a banner, costs a
 * socket and a small buffer here, never a slot or any SSH state.
 *
 * The server's own identification line is sent at once (OpenSSH clients send their KEXINIT only
 * after they have read it); the SSH handler is told not to send it again (server.ts).
 */
import type net from 'node:net';

/** The software version Sluice's SSH server announces (ssh2's `ident`). */
export const SERVER_IDENT = 'Sluice';
/** The identification line, as sent on the wire. */
export const SERVER_IDENT_LINE = Buffer.from(`SSH-2.0-${SERVER_IDENT}\r\n`, 'latin1');

/** RFC 4253 §6.1: implementations must accept packets of 35000 bytes; a KEXINIT is far smaller. */
const MAX_FIRST_PACKET = 35_000;
const MAX_IDENT = 255;

export type HelloResult =
  | { readonly ok: true; readonly head: Buffer }
  | { readonly ok: false; readonly why: 'banner timeout' | 'key exchange timeout' | 'invalid identification' | 'invalid packet' | 'closed' };

/**
 * Reads the identification line and the first packet from `socket`, then pauses it and calls
 * `done` with every byte read (the head, to hand to the SSH handler). Returns a cancel function.
 */
export function readHello(socket: net.Socket, deadlines: { readonly bannerMs: number; readonly kexMs: number }, done: (r: HelloResult) => void): () => void {
  const chunks: Buffer[] = [];
  let length = 0;
  let identEnd = -1;
  let finished = false;
  let timer: NodeJS.Timeout = setTimeout(() => finish({ ok: false, why: 'banner timeout' }), deadlines.bannerMs);
  timer.unref();

  function finish(r: HelloResult): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    done(r);
  }
  const onClose = () => finish({ ok: false, why: 'closed' });

  function onData(chunk: Buffer): void {
    chunks.push(chunk);
    length += chunk.length;
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (chunks.length > 1) chunks.splice(0, chunks.length, all);
    if (identEnd < 0) {
      const nl = all.subarray(0, MAX_IDENT).indexOf(10);
      if (nl < 0) {
        if (length >= MAX_IDENT || !isIdentPrefix(all)) finish({ ok: false, why: 'invalid identification' });
        return;
      }
      if (!/^SSH-(2\.0|1\.99)-[\x21-\x7e]+( [\x20-\x7e]*)?\r?$/.test(all.subarray(0, nl).toString('latin1')))
        return finish({ ok: false, why: 'invalid identification' });
      identEnd = nl + 1;
      clearTimeout(timer);
      timer = setTimeout(() => finish({ ok: false, why: 'key exchange timeout' }), deadlines.kexMs);
      timer.unref();
    }
    if (length < identEnd + 6) return;
    const packetLength = all.readUInt32BE(identEnd);
    // uint32 length, padding length, then the message type: KEXINIT (20) comes first.
    if (packetLength < 12 || packetLength > MAX_FIRST_PACKET || all[identEnd + 5] !== 20) return finish({ ok: false, why: 'invalid packet' });
    if (length < identEnd + 4 + packetLength) return;
    socket.pause();
    // Whatever else is buffered belongs to the SSH handler too.
    const rest: Buffer[] = [all];
    for (let c = socket.read() as Buffer | null; c !== null; c = socket.read() as Buffer | null) rest.push(c);
    finish({ ok: true, head: rest.length === 1 ? all : Buffer.concat(rest) });
  }

  socket.on('data', onData);
  socket.once('close', onClose);
  socket.resume();
  return () => finish({ ok: false, why: 'closed' });
}

/** Whether `b` can still become an identification line ("SSH-" so far). */
function isIdentPrefix(b: Buffer): boolean {
  const p = 'SSH-';
  for (let i = 0; i < Math.min(b.length, p.length); i++) if (b[i] !== p.charCodeAt(i)) return false;
  return true;
}
