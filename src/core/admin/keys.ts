/**
 * SSH public keys of users (for SFTP public-key sign-in). Accepted: ssh-ed25519, ecdsa-sha2-nistp*,
 * ssh-rsa of at least 3072 bits. Stored without the comment's influence on identity: the
 * fingerprint (SHA256, as OpenSSH prints it) identifies a key.
 */
import type { Scope } from '../gate.js';
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { CoreError } from '../errors.js';
import { writeTx } from '../tx.js';
import type { CoreDeps } from '../deps.js';
import { mapUnique } from './map-unique.js';

export interface SshKey {
  readonly id: string;
  readonly algorithm: string;
  readonly fingerprint: string;
  readonly comment: string | null;
  readonly createdAt: number;
}

const ALGOS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);

function readString(buf: Buffer, off: number): [Buffer, number] {
  if (off + 4 > buf.length) throw new CoreError('INVALID_INPUT', 'malformed public key');
  const len = buf.readUInt32BE(off);
  if (off + 4 + len > buf.length) throw new CoreError('INVALID_INPUT', 'malformed public key');
  return [buf.subarray(off + 4, off + 4 + len), off + 4 + len];
}

/** Parses one OpenSSH public key line ("algo base64 [comment]"). */
export function parsePublicKey(line: string): { algorithm: string; blob: Buffer; comment: string | null; fingerprint: string } {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2 || parts[0] === undefined || parts[1] === undefined)
    throw new CoreError('INVALID_INPUT', 'expected an OpenSSH public key line: "ssh-ed25519 AAAA… comment"');
  const algorithm = parts[0];
  if (!ALGOS.has(algorithm))
    throw new CoreError('INVALID_INPUT', `key type ${algorithm.slice(0, 40)} is not accepted; use ssh-ed25519, ecdsa or rsa (3072 bits or more)`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) throw new CoreError('INVALID_INPUT', 'malformed public key');
  const blob = Buffer.from(parts[1], 'base64');
  const [type, off] = readString(blob, 0);
  if (type.toString('latin1') !== algorithm) throw new CoreError('INVALID_INPUT', 'key type does not match the key data');
  if (algorithm === 'ssh-rsa') {
    const [, o2] = readString(blob, off); // e
    const [n] = readString(blob, o2);
    let bits = n.length * 8;
    for (let i = 0; i < n.length && n[i] === 0; i++) bits -= 8;
    if (bits < 3072) throw new CoreError('INVALID_INPUT', `RSA keys need at least 3072 bits (this one has about ${bits})`);
  } else if (algorithm === 'ssh-ed25519') {
    const [k] = readString(blob, off);
    if (k.length !== 32) throw new CoreError('INVALID_INPUT', 'malformed ed25519 key');
  }
  const comment =
    parts
      .slice(2)
      .join(' ')
      .replace(/[^\x20-\x7e]/g, '')
      .slice(0, 200) || null;
  const fingerprint = 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return { algorithm, blob, comment, fingerprint };
}

export function createKeyAdmin(deps: CoreDeps, findUser: (ref: string) => Promise<{ id: string; login: string; org_id: string | null }>) {
  const { db, clock } = deps;
  return {
    async add(sc: Scope<'key.add'>, userRef: string, line: string): Promise<SshKey> {
      const p = sc.principal;
      const u = await findUser(userRef);
      const k = parsePublicKey(line);
      const row = {
        id: uuidv7(),
        user_id: u.id,
        algorithm: k.algorithm,
        fingerprint: k.fingerprint,
        public_key: `${k.algorithm} ${k.blob.toString('base64')}`,
        comment: k.comment,
        created_at: clock.now(),
      };
      await writeTx(db, clock, async (s) => {
        await s.trx
          .insertInto('ssh_keys')
          .values(row)
          .execute()
          .catch((e) => mapUnique(e, 'this key'));
        await s.audit({ action: 'key.add', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, fingerprint: k.fingerprint } });
      });
      return { id: row.id, algorithm: row.algorithm, fingerprint: row.fingerprint, comment: row.comment, createdAt: row.created_at };
    },
    async list(sc: Scope<'key.list'>, userRef: string): Promise<SshKey[]> {
      const u = await findUser(userRef);
      const rows = await db.selectFrom('ssh_keys').selectAll().where('user_id', '=', u.id).orderBy('created_at').execute();
      return rows.map((r) => ({ id: r.id, algorithm: r.algorithm, fingerprint: r.fingerprint, comment: r.comment, createdAt: Number(r.created_at) }));
    },
    async remove(sc: Scope<'key.remove'>, userRef: string, idOrFingerprint: string): Promise<void> {
      const p = sc.principal;
      const u = await findUser(userRef);
      await writeTx(db, clock, async (s) => {
        const r = await s.trx
          .deleteFrom('ssh_keys')
          .where('user_id', '=', u.id)
          .where((eb) => eb.or([eb('id', '=', idOrFingerprint), eb('fingerprint', '=', idOrFingerprint)]))
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) throw new CoreError('NOT_FOUND', 'key not found');
        await s.audit({ action: 'key.remove', outcome: 'success', actor: p, orgId: u.org_id, detail: { login: u.login, key: idOrFingerprint } });
      });
    },
  };
}
