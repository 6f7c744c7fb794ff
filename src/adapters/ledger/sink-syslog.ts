/**
 * Ledger checkpoints to a syslog collector: RFC 5424 messages over TCP or TLS with octet-counting
 * framing (RFC 6587), so the anchor lives on another machine that an attacker of this one does
 * not control. append resolves once the message is written to the connection; a collector
 * cannot confirm more over plain syslog, so verify cannot read it back (the JSONL sink can).
 */
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import fs from 'node:fs';
import type { AnchorSink, Checkpoint } from '../../ports/ledger-anchor.js';
import { CoreError } from '../../ports/errors.js';

/** PRI 110 = facility 13 (log audit) × 8 + severity 6 (informational). */
const PRI = 13 * 8 + 6;
const ENTERPRISE_ID = 32473; // the documentation/example enterprise number of RFC 5612

const sdEscape = (v: string) => v.replace(/[\\"\]]/g, (c) => '\\' + c);

export function formatCheckpoint(cp: Checkpoint, host = os.hostname()): string {
  const h = host.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';
  const sd = `[sluice@${ENTERPRISE_ID} seq="${cp.seq}" hash="${sdEscape(cp.hash)}" ts="${cp.ts}" keyId="${sdEscape(cp.keyId)}" sig="${sdEscape(cp.signature)}"]`;
  return `<${PRI}>1 ${new Date(cp.ts).toISOString()} ${h} sluice - CHECKPOINT ${sd} ledger checkpoint ${cp.seq}`;
}

export function parseSyslogUrl(url: string): { secure: boolean; host: string; port: number } {
  const m = /^(tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(url);
  if (!m) throw new CoreError('INVALID_INPUT', 'SLUICE_AUDIT_SYSLOG must look like tcp://host:port or tls://host:port');
  return { secure: m[1] === 'tls', host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) };
}

export function createSyslogSink(url: string, opts: { caFile?: string | undefined; timeoutMs?: number } = {}): AnchorSink {
  const target = parseSyslogUrl(url);
  const ca = opts.caFile ? fs.readFileSync(opts.caFile) : undefined;
  return {
    name: `syslog:${url}`,
    append(cp: Checkpoint) {
      const msg = Buffer.from(formatCheckpoint(cp), 'utf8');
      const frame = Buffer.concat([Buffer.from(`${msg.length} `), msg]);
      return new Promise<void>((resolve, reject) => {
        const sock = target.secure
          ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host, ...(ca ? { ca } : {}) })
          : net.connect({ host: target.host, port: target.port });
        const timer = setTimeout(() => sock.destroy(new Error('syslog collector timed out')), opts.timeoutMs ?? 5000);
        sock.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        sock.once(target.secure ? 'secureConnect' : 'connect', () => {
          sock.end(frame, () => {
            clearTimeout(timer);
            resolve();
          });
        });
      });
    },
  };
}
