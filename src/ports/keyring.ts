/**
 * Key-encryption keys (KEKs). Generated at init, stored outside the database (files of mode 0600
 * in the data directory, or an external KMS later). A KEK never leaves this interface except to
 * wrap or unwrap a per-file data key.
 */
export interface Kek {
  /** Short stable identifier recorded in each blob header, so keys can rotate. */
  readonly id: string;
  readonly key: Buffer; // 32 bytes
}

export interface Keyring {
  /** The KEK used to wrap new data keys. */
  current(): Kek;
  /** A KEK by id, for unwrapping; undefined when unknown. */
  get(id: string): Kek | undefined;
}
