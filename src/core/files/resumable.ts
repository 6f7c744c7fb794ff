/**
 * Resumable uploads: the core of tus 1.0 (protocols/http/routes-tus.ts is only its wire format).
 *
 * An upload is a row in `uploads` (owner, target path, declared size, bytes received) and its
 * bytes are committed parts: each part is an ordinary sealed blob (encrypted store `put`: temp
 * file, fsync, rename — SLC1 with its own data key) listed in `upload_parts` by the transaction
 * that advances the upload's offset. A PATCH body is cut into parts of at most `partBytes`, each
 * committed as soon as it is complete; when the client goes away mid-part, the bytes that arrived
 * are committed as a shorter part (without a checksum; with one, nothing of that PATCH is kept,
 * it cannot be verified). So the offset the server reports is always durable, and after a crash
 * (kill -9) at most the part being written is lost: its blob is registered in blob_pending as an
 * 'upload' of this node before the first byte and removed by the start-up sweep, exactly like an
 * interrupted PUT. Committed parts are never touched by that sweep.
 *
 * When the last byte is committed the parts are read back in order (decrypted, every segment
 * authenticated) and streamed into a normal upload (open-upload.ts): size and quota checks, the
 * file's own blob, its SHA-256 over the whole plaintext, the `file.write` ledger event, the quota
 * counter — exactly what a PUT does. In that same transaction the upload is marked done (at most
 * once, even with two nodes finishing it at the same time) and its parts are listed for deletion
 * (blob_pending 'delete', removed after the commit or by the next sweep). Until then nobody sees
 * the file. A crash during that last step leaves the upload complete but open: the next HEAD or
 * PATCH finishes it again.
 *
 * Why parts and not one growing encrypted object: the store's contract is atomic puts, which the
 * local store and S3 both keep; an object appended to in place would need an append primitive in
 * every store, a truncation on resume (after kill -9 the file may hold bytes never committed) and
 * a hash state that survives the process (node:crypto cannot export one). Parts need none of
 * that; the price is one more pass over the bytes at the end (read, decrypt, encrypt, hash).
 *
 * Authorization: creation passes the gate for `upload.create` on the target path; every other
 * call loads the upload only for its owner (another user gets NOT_FOUND) and then passes the gate
 * (enterPath) for `upload.append` / `upload.terminate` on its path — write permission on the
 * folder, principal still valid, lockdown — before anything else, so a revoked grant, a disabled
 * user, a lockdown stop an upload at its next request, and a running PATCH re-checks its scope as
 * the bytes arrive. The final commit passes the gate once more as `file.write`. Size limit and
 * quota are checked at creation from the declared length and again at the final commit, like a PUT.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import { CoreError } from '../errors.js';
import type { Principal } from '../principal.js';
import { baseName, formatPath, parentOf, parsePath, type VPath } from '../paths.js';
import { writeTx } from '../tx.js';
import type { BlobKey } from '../../ports/blob-store.js';
import type { Selectable } from 'kysely';
import type { UploadTable } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import { assertPrincipal, enterPath, failed, type FileScope } from '../gate.js';
import { findChildFolder, findFileIn, findFolder, type EntryInfo } from './resolve.js';
import { discardBlob, inlineLimit } from './blobs.js';
import { quotaRoom } from './usage.js';
import { openUpload } from './open-upload.js';
import { chunksOf } from '../../runtime/chunks.js';

const MiB = 1024 * 1024;
/** Largest part a PATCH body is cut into (settings.resumablePartBytes): what a crash can lose. */
export const DEFAULT_PART_BYTES = 64 * MiB;
/** An upload not continued for this long expires (settings.resumableTtlMs). */
export const DEFAULT_TTL_MS = 24 * 3600_000;
const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_TUS_METADATA = 4096;

type UploadRow = Selectable<UploadTable>;

export interface ResumableStatus {
  readonly id: string;
  /** The target file's path. */
  readonly path: string;
  /** Declared size. */
  readonly size: number;
  /** Bytes committed (durable) so far. */
  readonly offset: number;
  readonly expiresAt: number;
  /** Upload-Metadata as the client sent it at creation (echoed by HEAD). */
  readonly tusMetadata: string | null;
  /** True once the file is committed (visible). */
  readonly done: boolean;
  /** The committed file, when this call finished the upload. */
  readonly file?: EntryInfo | undefined;
}

export interface CreateResumable {
  readonly path: string;
  readonly size: number;
  readonly tusMetadata?: string | undefined;
  /** File metadata (parseFileMetadata), stored with the file at the end. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

export interface AppendRequest {
  /** Upload-Offset: MUST equal the upload's offset. */
  readonly offset: number;
  readonly body: AsyncIterable<Uint8Array>;
  /** Content-Length of the body when known. */
  readonly length?: number | undefined;
  /** Upload-Checksum's SHA-256 digest of this body: the bytes are kept only if it matches. */
  readonly sha256?: Buffer | undefined;
}

interface Part {
  readonly key: BlobKey;
  readonly start: number;
  readonly size: number;
  readonly sha256: string;
}

const partBytesOf = (deps: CoreDeps) => deps.settings.resumablePartBytes ?? DEFAULT_PART_BYTES;
const ttlOf = (deps: CoreDeps) => deps.settings.resumableTtlMs ?? DEFAULT_TTL_MS;
const notFound = () => new CoreError('NOT_FOUND', 'upload not found');

function statusOf(row: UploadRow, file?: EntryInfo): ResumableStatus {
  let tus: string | null = null;
  try {
    const m = JSON.parse(row.metadata) as { tus?: unknown };
    if (typeof m.tus === 'string') tus = m.tus;
  } catch {}
  return {
    id: row.id,
    path: row.path,
    size: Number(row.total),
    offset: Number(row.received),
    expiresAt: Number(row.expires_at),
    tusMetadata: tus,
    done: row.state === 'done',
    ...(file ? { file } : {}),
  };
}

/** Creation: authorized and admitted (size, quota) like a PUT with a Content-Length. */
export async function createResumable(deps: CoreDeps, sc: FileScope, input: CreateResumable): Promise<ResumableStatus> {
  const { principal: p, path: vp } = sc;
  const size = input.size;
  if (!Number.isSafeInteger(size) || size < 0) throw new CoreError('INVALID_INPUT', 'invalid upload length');
  if (p.userId === null) throw new CoreError('PERMISSION_DENIED', 'resumable uploads belong to a user');
  const folder = await admit(deps, p, vp, size);
  if (input.tusMetadata !== undefined && input.tusMetadata.length > MAX_TUS_METADATA) throw new CoreError('INVALID_INPUT', 'Upload-Metadata too large');
  const metadata = JSON.stringify({ tus: input.tusMetadata ?? null, file: input.metadata ?? {} });
  if (metadata.length > 16_384 + MAX_TUS_METADATA) throw new CoreError('INVALID_INPUT', 'metadata too large');
  const id = uuidv4();
  const row = await writeTx(deps.db, deps.clock, async (s) => {
    const r: UploadRow = {
      id,
      user_id: p.userId!,
      path: formatPath(vp),
      total: size,
      received: 0,
      parts: 0,
      metadata,
      state: 'open',
      file_id: null,
      created_at: s.now,
      expires_at: s.now + ttlOf(deps),
    };
    await s.trx.insertInto('uploads').values(r).execute();
    await s.audit({ action: 'upload.create', outcome: 'success', actor: p, orgId: folder.org_id, targetPath: r.path, bytes: size, detail: { upload: id } });
    return r;
  });
  // An empty file is complete at once.
  if (size === 0) return complete(deps, p, row);
  return statusOf(row);
}

/** The checks of a PUT with a declared length: the folder exists, no folder of that name, size limit, quota. */
async function admit(deps: CoreDeps, p: Principal, vp: VPath, size: number) {
  const name = baseName(vp);
  const folder = await findFolder(deps.db, parentOf(vp));
  if (!folder) throw new CoreError('NOT_FOUND', 'folder not found');
  if (await findChildFolder(deps.db, folder.id, name)) {
    throw await failed(deps, p, 'upload.create', vp, new CoreError('ALREADY_EXISTS', 'a folder with this name exists'));
  }
  const existing = await findFileIn(deps.db, folder.id, name);
  const max = deps.settings.maxUploadBytes;
  if (size > max)
    throw await failed(deps, p, 'upload.create', vp, new CoreError('TOO_LARGE', `file exceeds the size limit of ${max} bytes`, { details: { limit: max } }));
  const room = (await quotaRoom(deps.db, folder.org_id)) + (existing && existing.org_id === folder.org_id ? Number(existing.size) : 0);
  if (size > room) throw await failed(deps, p, 'upload.create', vp, new CoreError('QUOTA_EXCEEDED', 'the organisation storage quota would be exceeded'));
  return folder;
}

/**
 * The principal's own upload, after the gate: NOT_FOUND for an unknown, expired or someone
 * else's id (nothing about other users' uploads leaks), then the gate for `action` on its path.
 */
async function own(deps: CoreDeps, p: Principal, id: string, action: 'upload.append' | 'upload.terminate'): Promise<{ row: UploadRow; sc: FileScope }> {
  assertPrincipal(p);
  if (typeof id !== 'string' || !ID_RE.test(id) || p.userId === null) throw notFound();
  const row = await deps.db.selectFrom('uploads').selectAll().where('id', '=', id).where('user_id', '=', p.userId).executeTakeFirst();
  if (!row || Number(row.expires_at) <= deps.clock.now()) throw notFound();
  // The upload's path passes the gate like a PUT's (principal still valid, lockdown, write there).
  return { row, sc: await enterPath(deps, p, action, row.path) };
}

/** HEAD: the upload's offset. An upload whose bytes are all there but whose file is not committed yet (a crash during the last step) is finished here. */
export async function resumableStatus(deps: CoreDeps, p: Principal, id: string): Promise<ResumableStatus> {
  const { row } = await own(deps, p, id, 'upload.append');
  if (row.state === 'open' && Number(row.received) === Number(row.total)) return complete(deps, p, row);
  return statusOf(row);
}

/** PATCH: appends the body at `offset`; commits it part by part; finishes the upload with its last byte. */
export async function appendResumable(deps: CoreDeps, p: Principal, id: string, req: AppendRequest): Promise<ResumableStatus> {
  const { row, sc } = await own(deps, p, id, 'upload.append');
  const total = Number(row.total);
  const received = Number(row.received);
  if (row.state === 'done') throw new CoreError('CONFLICT', 'the upload is already complete', { details: { offset: received } });
  if (!Number.isSafeInteger(req.offset) || req.offset !== received) {
    throw new CoreError('CONFLICT', `Upload-Offset must be ${received}`, { details: { offset: received } });
  }
  if (req.length !== undefined && req.length > total - received) throw new CoreError('TOO_LARGE', 'the body is longer than the rest of the upload');
  const vp = parsePath(row.path);
  const owner = deps.settings.uploadOwner ?? deps.settings.nodeId;
  const hash = req.sha256 ? createHash('sha256') : undefined;

  const it = req.body[Symbol.asyncIterator]();
  let carry: Uint8Array | undefined;
  let bodyDone = false;
  let interrupted = false;
  /** Up to `limit` bytes of the body; ends early (normally) when the body ends or breaks off. */
  async function* partSource(limit: number): AsyncGenerator<Uint8Array> {
    let n = 0;
    while (n < limit) {
      let chunk: Uint8Array;
      if (carry) {
        chunk = carry;
        carry = undefined;
      } else {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await it.next();
        } catch {
          interrupted = bodyDone = true;
          return;
        }
        if (r.done === true) {
          bodyDone = true;
          return;
        }
        chunk = r.value;
      }
      // A lockdown, a revoked principal or grant stop a running PATCH too (the scope re-checks).
      await sc.recheck();
      if (chunk.byteLength > limit - n) {
        // Split at the part's end: the rest (copied) starts the next part. The head is a view
        // without the lender's release: its buffer is simply collected.
        carry = Buffer.from(chunk.subarray(limit - n));
        chunk = chunk.subarray(0, limit - n);
      }
      hash?.update(chunk);
      n += chunk.byteLength;
      yield chunk;
    }
  }

  const pending: Part[] = [];
  let at = received;
  try {
    while (at < total && !bodyDone) {
      const key = uuidv7() as BlobKey;
      await deps.db.insertInto('blob_pending').values({ blob_key: key, kind: 'upload', node_id: owner, created_at: deps.clock.now() }).execute();
      let size: number;
      let sha256: string;
      try {
        ({ size, sha256 } = await deps.store.put(key, partSource(Math.min(partBytesOf(deps), total - at))));
      } catch (e) {
        await discardBlob(deps, key);
        throw e;
      }
      if (size === 0) {
        await discardBlob(deps, key);
        break;
      }
      const part = { key, start: at, size, sha256 };
      pending.push(part);
      at += size;
      if (at === total && !bodyDone && !carry) {
        const r = await it.next().catch(() => ({ done: true as const, value: undefined }));
        if (r.done !== true && r.value.byteLength > 0) carry = r.value;
      }
      if (at === total && carry) throw new CoreError('TOO_LARGE', 'the body is longer than the rest of the upload');
      // Without a checksum each part is kept as soon as it is complete.
      if (!hash) await commitParts(deps, row.id, pending.splice(0));
    }
    if (interrupted)
      throw new CoreError('ABORTED', 'upload interrupted: the request body did not arrive completely', { details: { offset: hash ? received : at } });
    if (hash && req.sha256) {
      const digest = hash.digest();
      if (digest.length !== req.sha256.length || !timingSafeEqual(digest, req.sha256)) {
        throw await failed(
          deps,
          p,
          'upload.append',
          vp,
          new CoreError('INVALID_INPUT', 'Upload-Checksum does not match the body', { details: { checksum: 'mismatch' } }),
          {
            upload: row.id,
            reason: 'checksum mismatch',
          },
        );
      }
      await commitParts(deps, row.id, pending.splice(0));
    }
  } finally {
    // Parts written but not committed (checksum mismatch or not verifiable, conflict, failure).
    for (const part of pending) await discardBlob(deps, part.key);
    if (!bodyDone) await it.return?.(undefined).catch(() => undefined);
  }
  const fresh = await deps.db.selectFrom('uploads').selectAll().where('id', '=', row.id).executeTakeFirst();
  if (!fresh) throw notFound();
  if (fresh.state === 'open' && Number(fresh.received) === total) return complete(deps, p, fresh);
  return statusOf(fresh);
}

/**
 * Lists written parts under the upload and advances its offset, in one transaction. The upload
 * must still be open at the offset the parts start at: a concurrent PATCH (another connection,
 * another node) that committed first wins, and this one gets CONFLICT (its parts are discarded).
 */
async function commitParts(deps: CoreDeps, uploadId: string, parts: readonly Part[]): Promise<void> {
  if (parts.length === 0) return;
  await writeTx(deps.db, deps.clock, async (s) => {
    const u = await s.trx.selectFrom('uploads').select(['received', 'parts', 'state']).where('id', '=', uploadId).executeTakeFirst();
    if (!u || u.state !== 'open' || Number(u.received) !== parts[0]!.start) {
      throw new CoreError('CONFLICT', 'the upload was changed by another request', { details: { offset: u ? Number(u.received) : 0 } });
    }
    let seq = Number(u.parts);
    let end = parts[0]!.start;
    for (const part of parts) {
      await s.trx
        .insertInto('upload_parts')
        .values({ upload_id: uploadId, seq: seq++, start: part.start, size: part.size, blob_key: part.key, sha256: part.sha256 })
        .execute();
      await s.trx.deleteFrom('blob_pending').where('blob_key', '=', part.key).execute();
      end = part.start + part.size;
    }
    await s.trx
      .updateTable('uploads')
      .set({ received: end, parts: seq, expires_at: s.now + ttlOf(deps) })
      .where('id', '=', uploadId)
      .execute();
  });
}

/**
 * The last step: the parts, read back in order, become one file exactly as a PUT would make it.
 * The same transaction marks the upload done and lists its parts for deletion.
 */
async function complete(deps: CoreDeps, p: Principal, row: UploadRow): Promise<ResumableStatus> {
  const parts = await deps.db.selectFrom('upload_parts').selectAll().where('upload_id', '=', row.id).orderBy('seq').execute();
  let end = 0;
  for (const part of parts) {
    if (Number(part.start) !== end) throw new CoreError('INTERNAL', 'upload parts are not contiguous');
    end += Number(part.size);
  }
  if (end !== Number(row.total)) throw new CoreError('INTERNAL', 'upload parts do not add up to its length');
  let fileMeta: Record<string, unknown> = {};
  try {
    const m = JSON.parse(row.metadata) as { file?: unknown };
    if (m.file && typeof m.file === 'object') fileMeta = m.file as Record<string, unknown>;
  } catch {}
  // One part holding the whole file (it arrived in one piece) is a sealed object of exactly the
  // file's bytes, with their SHA-256: it becomes the file's blob as it is, nothing is read again.
  // Small files still go the way of a PUT (into the database).
  const only = parts.length === 1 ? parts[0] : undefined;
  const adopt = only?.sha256 && end > inlineLimit(deps) ? { key: only.blob_key as BlobKey, size: end, sha256: only.sha256 } : undefined;
  const keys = adopt ? [] : parts.map((x) => x.blob_key as BlobKey);
  let info: EntryInfo;
  try {
    const h = await openUpload(
      deps,
      await enterPath(deps, p, 'file.write', row.path),
      { expectedSize: end, metadata: fileMeta },
      {
        ...(adopt ? { adopt } : {}),
        async inCommit(trx, fileId) {
          const r = await trx
            .updateTable('uploads')
            .set({ state: 'done', file_id: fileId })
            .where('id', '=', row.id)
            .where('state', '=', 'open')
            .executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) throw new CoreError('CONFLICT', 'the upload was finished or removed meanwhile');
          await trx.deleteFrom('upload_parts').where('upload_id', '=', row.id).execute();
          const now = deps.clock.now();
          for (const key of keys)
            await trx.insertInto('blob_pending').values({ blob_key: key, kind: 'delete', node_id: deps.settings.nodeId, created_at: now }).execute();
        },
      },
    );
    if (!adopt)
      try {
        for (const part of parts) {
          const stream = await deps.store.get(part.blob_key as BlobKey, Number(part.size));
          try {
            for await (const c of chunksOf(stream)) await h.write(c);
          } finally {
            stream.destroy();
          }
        }
      } catch (e) {
        // The handle cleaned up after its own errors; a failed read of a part needs an abort.
        await h.abort('an upload part could not be read').catch(() => undefined);
        throw e instanceof CoreError ? e : new CoreError('INTERNAL', 'upload failed', { cause: e });
      }
    info = await h.finish();
  } catch (e) {
    // Finished by a concurrent request (another connection or node)? Then that is the answer.
    if (e instanceof CoreError && e.code === 'CONFLICT') {
      const now = await deps.db.selectFrom('uploads').selectAll().where('id', '=', row.id).executeTakeFirst();
      if (now?.state === 'done') return statusOf(now);
    }
    throw e;
  }
  for (const key of keys) await discardBlob(deps, key);
  const done = await deps.db.selectFrom('uploads').selectAll().where('id', '=', row.id).executeTakeFirst();
  return statusOf(done ?? { ...row, state: 'done', received: end }, info);
}

/** DELETE (termination): the upload and its parts go; a finished file stays. */
export async function terminateResumable(deps: CoreDeps, p: Principal, id: string): Promise<void> {
  const { row } = await own(deps, p, id, 'upload.terminate');
  const keys = await drop(deps, row, { action: 'upload.terminate', actor: p });
  for (const key of keys) await discardBlob(deps, key);
}

/** Removes an upload row and lists its parts for deletion, with its ledger event; returns the parts' blob keys. */
async function drop(deps: CoreDeps, row: UploadRow, ev: { action: 'upload.terminate' | 'upload.expire'; actor?: Principal }): Promise<BlobKey[]> {
  return writeTx(deps.db, deps.clock, async (s) => {
    const cur = await s.trx.selectFrom('uploads').select(['state', 'received']).where('id', '=', row.id).executeTakeFirst();
    if (!cur) return [];
    const parts = await s.trx.selectFrom('upload_parts').select('blob_key').where('upload_id', '=', row.id).execute();
    for (const part of parts)
      await s.trx.insertInto('blob_pending').values({ blob_key: part.blob_key, kind: 'delete', node_id: deps.settings.nodeId, created_at: s.now }).execute();
    await s.trx.deleteFrom('upload_parts').where('upload_id', '=', row.id).execute();
    await s.trx.deleteFrom('uploads').where('id', '=', row.id).execute();
    if (cur.state === 'open') {
      await s.audit({
        action: ev.action,
        outcome: 'success',
        actor: ev.actor,
        claimedUserId: ev.actor ? undefined : row.user_id,
        targetPath: row.path,
        bytes: Number(cur.received),
        detail: { upload: row.id, size: Number(row.total) },
      });
    }
    return parts.map((x) => x.blob_key as BlobKey);
  });
}

/**
 * Abandoned uploads: every upload past its expiry (open ones are recorded as `upload.expire`),
 * with its parts, which go the way of every unlinked blob (blob_pending 'delete', discardBlob;
 * a failed removal is finished by the next sweep). Runs in serve at start and with the periodic
 * jobs. Returns how many uploads were removed.
 */
export async function sweepExpiredUploads(deps: CoreDeps, limit = 500): Promise<number> {
  const rows = await deps.db.selectFrom('uploads').selectAll().where('expires_at', '<=', deps.clock.now()).orderBy('expires_at').limit(limit).execute();
  for (const row of rows) {
    const keys = await drop(deps, row, { action: 'upload.expire' });
    for (const key of keys) await discardBlob(deps, key);
  }
  return rows.length;
}
