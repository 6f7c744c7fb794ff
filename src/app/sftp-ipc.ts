/**
 * The messages between `sluice serve` (the primary: it accepts and admits SFTP connections) and
 * its SFTP worker processes (they run SSH and the sessions, each with its own core instance on
 * the same database and store). Both sides are this program; a message that does not parse is
 * ignored and logged.
 */
import type { Config } from '../config/config.js';
import type { SftpLimits } from '../protocols/sftp/server.js';
import type { PenaltyKind } from '../protocols/sftp/penalties.js';

const PENALTIES: readonly PenaltyKind[] = ['authfail', 'noauth', 'graceExceeded'];

/** primary → worker. `conn` carries the connection's socket as the message's handle. */
export type ToWorker =
  | { readonly t: 'start'; readonly index: number; readonly config: Config; readonly limits: SftpLimits; readonly uploadOwner: string }
  | { readonly t: 'conn'; readonly id: number; readonly ip: string; readonly head: string; readonly kexMs: number; readonly graceMs: number }
  | { readonly t: 'metrics'; readonly req: number }
  | { readonly t: 'stop'; readonly graceMs: number };

/** worker → primary. `alive` first (its listener is in place: only then is `start` sent). */
export type FromWorker =
  | { readonly t: 'alive' }
  | { readonly t: 'ready' }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'signed-in'; readonly id: number }
  | { readonly t: 'closed'; readonly id: number; readonly penalty?: PenaltyKind }
  | { readonly t: 'metrics'; readonly req: number; readonly data: unknown[] };

const isObj = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null;
const num = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export function parseToWorker(m: unknown): ToWorker | undefined {
  if (!isObj(m)) return undefined;
  switch (m.t) {
    case 'start':
      return num(m.index) && isObj(m.config) && isObj(m.limits) && typeof m.uploadOwner === 'string' ? (m as unknown as ToWorker) : undefined;
    case 'conn':
      return num(m.id) && typeof m.ip === 'string' && typeof m.head === 'string' && num(m.kexMs) && num(m.graceMs) ? (m as unknown as ToWorker) : undefined;
    case 'metrics':
      return num(m.req) ? (m as unknown as ToWorker) : undefined;
    case 'stop':
      return num(m.graceMs) ? (m as unknown as ToWorker) : undefined;
    default:
      return undefined;
  }
}

export function parseFromWorker(m: unknown): FromWorker | undefined {
  if (!isObj(m)) return undefined;
  switch (m.t) {
    case 'alive':
      return { t: 'alive' };
    case 'ready':
      return { t: 'ready' };
    case 'failed':
      return { t: 'failed', message: String(m.message).slice(0, 500) };
    case 'signed-in':
      return num(m.id) ? { t: m.t, id: m.id } : undefined;
    case 'closed':
      if (!num(m.id)) return undefined;
      return PENALTIES.includes(m.penalty as PenaltyKind) ? { t: 'closed', id: m.id, penalty: m.penalty as PenaltyKind } : { t: 'closed', id: m.id };
    case 'metrics':
      return num(m.req) && Array.isArray(m.data) ? { t: 'metrics', req: m.req, data: m.data } : undefined;
    default:
      return undefined;
  }
}
