/**
 * Uploads. The bytes stream into a new blob under a fresh server-generated key while size and
 * quota are enforced; the file becomes visible only when the transaction that points its name at
 * the finished blob commits (replacing an older version atomically). A crash at any moment leaves
 * either the old file or the new one, never a partial one: the blob is listed in blob_pending
 * until the commit, and start-up removes pending blobs that never committed.
 */
import { v7 as uuidv7 } from 'uuid';
import { CoreError } from '../errors.js';
import { baseName, formatPath, parentOf, nameKey, type VPath } from '../paths.js';
import { writeTx } from '../tx.js';
import type { Transaction } from 'kysely';
import type { BlobKey } from '../../ports/blob-store.js';
import type { Database } from '../../ports/db-schema.js';
import type { CoreDeps } from '../deps.js';
import type { FileScope } from '../gate.js';
import { fileInfo, findChildFolder, findFileIn, findFolder, type EntryInfo } from './resolve.js';
import { discardBlob, inlineLimit, unlinkStored } from './blobs.js';
import { countFile, quotaRoom } from './usage.js';
import { chunkPipe, type ChunkPipe } from '../../runtime/chunks.js';

export interface UploadOptions {
  /** Declared size (Content-Length), checked before any byte is read. */
  readonly expectedSize?: number | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

export interface UploadHandle {
  readonly path: string;
  /** Appends bytes in order; resolves when the store accepted them (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Completes the upload and makes the file visible atomically. */
  finish(): Promise<EntryInfo>;
  /** Abandons the upload: nothing becomes visible and the partial blob is removed. */
  abort(reason?: string): Promise<void>;
}

/**
 * What other core modules (never front ends) may add to an upload: `inCommit` runs inside the
 * transaction that makes the file visible, after its row is inserted; throwing there rolls the
 * whole commit back (the resumable upload marks itself finished here, exactly once).
 */
export interface UploadInternals {
  readonly inCommit?: (trx: Transaction<Database>, fileId: string) => Promise<void>;
  /**
   * A blob already sealed in the store (a resumable upload that arrived as one part) becomes the
   * file's blob as it is: the handle takes no bytes, finish() commits it with its size and
   * SHA-256, and a failed commit leaves the blob to its owner.
   */
  readonly adopt?: { readonly key: BlobKey; readonly size: number; readonly sha256: string };
}

export async function openUpload(deps: CoreDeps, sc: FileScope, opts: UploadOptions = {}, internals: UploadInternals = {}): Promise<UploadHandle> {
  const { principal: p, path: vp } = sc;
  const parent = parentOf(vp);
  const name = baseName(vp);
  const folder = await findFolder(deps.db, parent);
  if (!folder) throw new CoreError('NOT_FOUND', 'folder not found');
  if (await findChildFolder(deps.db, folder.id, name)) {
    throw await sc.failed('file.write', vp, new CoreError('ALREADY_EXISTS', 'a folder with this name exists'));
  }
  const existing = await findFileIn(deps.db, folder.id, name);
  const maxBytes = deps.settings.maxUploadBytes;
  const room = (await quotaRoom(deps.db, folder.org_id)) + (existing && existing.org_id === folder.org_id ? Number(existing.size) : 0);
  if (opts.expectedSize !== undefined) {
    if (opts.expectedSize > maxBytes) throw await sc.failed('file.write', vp, tooLarge(maxBytes));
    if (opts.expectedSize > room) throw await sc.failed('file.write', vp, overQuota());
  }
  const metadata = JSON.stringify(opts.metadata ?? {});
  if (metadata.length > 16_384) throw new CoreError('INVALID_INPUT', 'metadata too large');

  const adopted = internals.adopt;
  const blobKey = adopted?.key ?? (uuidv7() as BlobKey);
  // A small upload is held in memory and, at finish, sealed and committed with its file row
  // (blob_inline): one durable commit, nothing in the blob store. Once it grows past the inline
  // limit (or declares a larger size) it spills into the store: the blob is listed in
  // blob_pending first, then streamed.
  const inlineMax = inlineLimit(deps);
  let held: Uint8Array[] | null = opts.expectedSize === undefined || opts.expectedSize <= inlineMax ? [] : null;
  let spilled: Spill | undefined;
  let received = 0;

  async function spill(): Promise<Spill> {
    await deps.db
      .insertInto('blob_pending')
      .values({ blob_key: blobKey, kind: 'upload', node_id: deps.settings.uploadOwner ?? deps.settings.nodeId, created_at: deps.clock.now() })
      .execute();
    // Chunks reach the store as written (a PassThrough's iterator would concatenate them: a copy).
    const pass = chunkPipe(1 << 20);
    const abortCtl = new AbortController();
    const sp: Spill = { pass, abortCtl, put: deps.store.put(blobKey, pass.chunks, { signal: abortCtl.signal }), error: undefined };
    sp.put.catch((e: unknown) => {
      sp.error = e;
      pass.close();
    });
    for (const c of held ?? []) pass.write(c);
    held = null;
    return sp;
  }
  if (held === null && !adopted) spilled = await spill();

  let state: 'open' | 'finishing' | 'done' = 'open';

  // Held chunks are simply dropped (a lender's release hook is optional: the buffer is collected).
  const release = () => {
    held = null;
  };
  const cleanup = async (reason: string, err: CoreError) => {
    state = 'done';
    release();
    if (spilled) {
      spilled.abortCtl.abort();
      spilled.pass.close();
      await spilled.put.catch(() => undefined);
      await discardBlob(deps, blobKey);
    }
    return sc.failed('file.write', vp, err, { reason, received });
  };

  /** The file row (and, for a small file, its sealed bytes) committed with its ledger event. */
  async function commit(sealed: { size: number; sha256: string }, inline: string | undefined): Promise<EntryInfo> {
    const res = await writeTx(deps.db, deps.clock, async (s) => {
      const f = await s.trx.selectFrom('folders').selectAll().where('id', '=', folder!.id).executeTakeFirst();
      if (!f) throw new CoreError('NOT_FOUND', 'folder was removed during the upload');
      if (await findChildFolder(s.trx, f.id, name)) throw new CoreError('ALREADY_EXISTS', 'a folder with this name exists');
      const old = await findFileIn(s.trx, f.id, name);
      const room = (await quotaRoom(s.trx, f.org_id)) + (old && old.org_id === f.org_id ? Number(old.size) : 0);
      if (sealed.size > room) throw overQuota();
      let drop: BlobKey | undefined;
      if (old) {
        await s.trx.deleteFrom('files').where('id', '=', old.id).execute();
        await countFile(s.trx, old.org_id, -Number(old.size));
        drop = await unlinkStored(s.trx, s.now, deps.settings.nodeId, old);
      }
      const row = {
        id: uuidv7(),
        folder_id: f.id,
        name,
        name_key: nameKey(name),
        size: sealed.size,
        sha256: sealed.sha256,
        blob_key: blobKey,
        org_id: f.org_id,
        uploaded_by: p.userId,
        uploaded_by_login: p.login,
        created_at: s.now,
        modified_at: s.now,
        metadata,
        stored_inline: inline === undefined ? 0 : 1,
      };
      await s.trx.insertInto('files').values(row).execute();
      await countFile(s.trx, f.org_id, sealed.size);
      if (internals.inCommit) await internals.inCommit(s.trx, row.id);
      if (inline === undefined) await s.trx.deleteFrom('blob_pending').where('blob_key', '=', blobKey).execute();
      else await s.trx.insertInto('blob_inline').values({ blob_key: blobKey, sealed: inline }).execute();
      await s.audit({
        action: 'file.write',
        outcome: 'success',
        actor: p,
        orgId: f.org_id,
        targetPath: formatPath(vp),
        fileId: row.id,
        sha256: row.sha256,
        bytes: row.size,
        detail: old ? { replaced: old.id } : {},
      });
      return { info: fileInfo(row, parent), drop };
    });
    state = 'done';
    if (res.drop) await discardBlob(deps, res.drop);
    return res.info;
  }

  return {
    path: formatPath(vp),
    async write(chunk) {
      if (state !== 'open' || adopted) throw new CoreError('CONFLICT', 'upload is no longer open');
      if (spilled?.error) throw await cleanup('rejected', asCore(spilled.error));
      // A lockdown, a kill switch, a revoked principal or grant also stop uploads already running
      // (the scope re-checks at most every RUNNING_CHECK_MS, against cached state).
      try {
        await sc.recheck();
      } catch (e) {
        throw await cleanup(e instanceof CoreError && e.code === 'LOCKED' ? 'lockdown' : 'revoked', asCore(e));
      }
      received += chunk.byteLength;
      if (received > maxBytes) throw await cleanup('rejected', tooLarge(maxBytes));
      if (received > room) throw await cleanup('rejected', overQuota());
      if (held !== null) {
        held.push(chunk);
        if (received <= inlineMax) return;
        spilled = await spill();
        return;
      }
      const sp = spilled!;
      if (!sp.pass.write(chunk)) {
        await sp.pass.room();
        if (sp.error) throw await cleanup('rejected', asCore(sp.error));
      }
    },
    async finish() {
      if (state !== 'open') throw new CoreError('CONFLICT', 'upload is no longer open');
      state = 'finishing';
      if (adopted) {
        try {
          return await commit({ size: adopted.size, sha256: adopted.sha256 }, undefined);
        } catch (e) {
          throw await cleanup('commit failed', asCore(e));
        }
      }
      if (held !== null) {
        let sealed;
        try {
          sealed = deps.store.seal(blobKey, held);
        } catch (e) {
          throw await cleanup('rejected', asCore(e));
        }
        release();
        try {
          return await commit(sealed, sealed.sealed.toString('base64'));
        } catch (e) {
          throw await cleanup('commit failed', asCore(e));
        }
      }
      const sp = spilled!;
      sp.pass.end();
      let sealed;
      try {
        sealed = await sp.put;
      } catch (e) {
        throw await cleanup('rejected', asCore(e));
      }
      try {
        return await commit(sealed, undefined);
      } catch (e) {
        throw await cleanup('commit failed', asCore(e));
      }
    },
    async abort(reason = 'aborted') {
      if (state === 'done') return;
      await cleanup(reason, new CoreError('ABORTED', 'upload aborted'));
    },
  };
}

/** An upload streaming into the blob store. */
interface Spill {
  readonly pass: ChunkPipe;
  readonly abortCtl: AbortController;
  readonly put: Promise<{ size: number; sha256: string }>;
  error: unknown;
}

/** Uploads a whole stream (HTTP PUT, CLI). Aborts cleanly if the source fails or ends early. */
export async function uploadStream(deps: CoreDeps, sc: FileScope, source: AsyncIterable<Uint8Array>, opts: UploadOptions = {}): Promise<EntryInfo> {
  const h = await openUpload(deps, sc, opts);
  let n = 0;
  try {
    for await (const chunk of source) {
      n += chunk.length;
      await h.write(chunk);
    }
  } catch (e) {
    if (e instanceof CoreError) throw e; // the handle already cleaned up
    await h.abort('client stream failed');
    throw new CoreError('ABORTED', 'upload interrupted');
  }
  if (opts.expectedSize !== undefined && n !== opts.expectedSize) {
    await h.abort('size differs from the declared length');
    throw new CoreError('ABORTED', 'upload ended before the declared length');
  }
  return h.finish();
}

const tooLarge = (max: number) => new CoreError('TOO_LARGE', `file exceeds the size limit of ${max} bytes`, { details: { limit: max } });
const overQuota = () => new CoreError('QUOTA_EXCEEDED', 'the organisation storage quota would be exceeded');
const asCore = (e: unknown): CoreError => (e instanceof CoreError ? e : new CoreError('INTERNAL', 'upload failed', { cause: e }));
export type { VPath };
