/**
 * Ports for the tamper-evident ledger's anchors: a signer whose private key the database never
 * holds, and append-only sinks outside the database that receive every signed checkpoint.
 */

/** A signed statement that the ledger's event `seq` has hash `hash`. */
export interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
  readonly ts: number;
  readonly keyId: string;
  /** Ed25519 signature (base64) over checkpointMessage(seq, hash, ts). */
  readonly signature: string;
}

export const checkpointMessage = (seq: number, hash: string, ts: number): Buffer =>
  Buffer.from(`sluice-ledger-checkpoint:v1\n${seq}\n${hash}\n${ts}\n`, 'utf8');

export interface LedgerSigner {
  /** Identifies the current signing key (hex of the SHA-256 of its public key, shortened). */
  readonly keyId: string;
  sign(message: Buffer): string;
  /** Verifies with the key named by keyId (current or an earlier one kept for verification). */
  verify(message: Buffer, signature: string, keyId: string): boolean;
}

/**
 * An append-only record of checkpoints outside the database (a JSONL file on another volume,
 * syslog to a collector). append MUST NOT return before the record is durable at the sink.
 */
export interface AnchorSink {
  readonly name: string;
  append(cp: Checkpoint): Promise<void>;
  /** What the sink holds, when it can be read back (a file can; syslog cannot). */
  readAll?(): Promise<Checkpoint[]>;
}
