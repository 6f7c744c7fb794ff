/**
 * Files by virtual path (interface.md, "HTTP"):
 *
 *   GET    /api/v1/fs/PATH/        list a folder (also `?list`, and a folder path without the
 *                                  trailing slash: a folder is always listed, never 409)
 *   GET    /api/v1/fs/PATH         download (streamed; one Range; ETag = "sha256"; 304)
 *   HEAD   /api/v1/fs/PATH         the download's headers, no body, nothing read from storage
 *   PUT    /api/v1/fs/PATH         upload the raw body, streamed; 201 { path, size, sha256 };
 *                                  optional X-Sluice-Records / X-Sluice-Categories metadata
 *   DELETE /api/v1/fs/PATH         remove a file or an empty folder ('PATH/': folders only); 204
 *   POST   /api/v1/fs-ops/mkdir    { path }                    → 201 entry
 *   POST   /api/v1/fs-ops/rename   { from, to, overwrite? }    → 200 entry
 *   GET    /api/v1/fs-ops/stat?path=                           → 200 entry
 *
 * PATH is taken from the raw URL and percent-decoded once (fs-path.ts); the core's parser judges
 * it. Every decision about who may do what is the core's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { create as contentDisposition } from 'content-disposition';
import type { Logger } from 'pino';
import { parseFileMetadata, type Core, type DownloadRequest, type EntryInfo, type FileAction, type Principal, type UploadHandle } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf } from './auth.js';
import { HttpLayerError } from './errors.js';
import { etagOf, fsTarget, noneMatch, parseRange } from './fs-path.js';
import type { Metrics } from './metrics.js';
import { DigitsQuery, ListSchema, PathString, Str, UploadResultSchema, withErrors } from './schemas.js';
import { DOWNLOAD_CSP } from './security-headers.js';
import { collectYoung } from '../../runtime/young-gc.js';
import { RELEASE, type Releasable } from '../../runtime/chunks.js';

export const FS_PREFIX = '/api/v1/fs';

export interface FsDeps {
  readonly core: Core;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export const iso = (ms: number) => new Date(ms).toISOString();

export const entryJson = (e: EntryInfo) => ({ name: e.name, path: e.path, type: e.type, size: e.size, sha256: e.sha256, modified: iso(e.modified) });

const ListQuery = Type.Object(
  {
    list: Type.Optional(Type.String({ maxLength: 0, description: 'present (`?list`): list the folder even without a trailing slash' })),
    cursor: Type.Optional(Str(2048, 'the `next` value of the previous page')),
    limit: Type.Optional(DigitsQuery('entries per page (1-5000, default 1000)')),
  },
  { additionalProperties: false },
);

export async function fsRoutes(app: FastifyInstance, deps: FsDeps): Promise<void> {
  const { core, metrics } = deps;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  async function sendList(reply: FastifyReply, p: Principal, path: string, cursor: string | undefined, limit: string | undefined) {
    const page = await core.files.list(p, path, { cursor, limit: limit === undefined ? undefined : Number(limit) });
    return reply.send({
      path: page.path,
      entries: page.entries.map((e) => ({ name: e.name, type: e.type, size: e.size, sha256: e.sha256, modified: iso(e.modified) })),
      ...(page.next !== undefined ? { next: page.next } : {}),
    });
  }

  /** The request's file path; one the HTTP layer cannot decode is recorded by the core as a refused attempt. */
  async function targetOf(p: Principal, request: FastifyRequest, action: FileAction) {
    const raw = request.raw.url ?? '';
    try {
      return fsTarget(raw, FS_PREFIX);
    } catch (e) {
      if (e instanceof CoreError) throw await core.files.refusedPath(p, action, raw.split('?')[0] ?? '', e);
      throw e;
    }
  }

  async function getOrHead(request: FastifyRequest<{ Querystring: { list?: string; cursor?: string; limit?: string } }>, reply: FastifyReply) {
    const p = principalOf(request);
    const t = await targetOf(p, request, 'file.read');
    const q = request.query;
    if (t.trailingSlash || q.list !== undefined) return sendList(reply, p, t.path, q.cursor, q.limit);
    // A folder without the trailing slash is listed too (one consistent, friendly answer).
    const info = await core.files.stat(p, t.path);
    if (info.type === 'folder') return sendList(reply, p, t.path, q.cursor, q.limit);

    const etag = info.sha256 ? etagOf(info.sha256) : undefined;
    if (etag && noneMatch(request.headers['if-none-match'], etag)) {
      reply.header('etag', etag);
      return reply.code(304).send();
    }
    let range = parseRange(request.headers.range);
    const ifRange = request.headers['if-range'];
    if (range.kind !== 'none' && ifRange !== undefined && (typeof ifRange !== 'string' || ifRange.trim() !== etag)) range = { kind: 'none' };
    const unsatisfiable = () => new CoreError('RANGE_NOT_SATISFIABLE', 'range not satisfiable', { details: { size: info.size } });
    let req: DownloadRequest = {};
    if (range.kind === 'unsatisfiable') throw unsatisfiable();
    if (range.kind === 'range') req = { range: { start: range.start, end: range.end } };
    if (range.kind === 'suffix') {
      if (info.size === 0) throw unsatisfiable();
      req = { range: { start: Math.max(0, info.size - range.length) } };
    }

    if (request.method === 'HEAD') {
      // Metadata only: nothing is read from storage, so nothing is recorded as a read.
      let status = 200;
      let length = info.size;
      if (req.range) {
        const start = req.range.start;
        const end = Math.min(req.range.end ?? info.size - 1, info.size - 1);
        if (start >= info.size || end < start) throw unsatisfiable();
        status = 206;
        length = end - start + 1;
        reply.header('content-range', `bytes ${start}-${end}/${info.size}`);
      }
      fileHeaders(reply, info, etag, length);
      return reply.code(status).send();
    }

    const dl = await core.files.openDownload(p, t.path, req);
    // The core's stream is already flowing (it counts bytes with a 'data' listener): hold it
    // until Fastify pipes it, so no chunk can be emitted before anyone reads.
    dl.stream.pause();
    let sent = 0;
    dl.stream.on('data', (c: Buffer) => (sent += c.length));
    let outcome: 'success' | 'failure' | 'aborted' | undefined;
    dl.stream.once('end', () => (outcome ??= 'success'));
    dl.stream.once('error', () => (outcome ??= 'failure'));
    dl.stream.once('close', () => {
      outcome ??= 'aborted';
      metrics.bytesOut.inc({ protocol: p.protocol }, sent);
      metrics.transfers.inc({ direction: 'download', outcome });
    });
    if (dl.range) {
      reply.code(206);
      reply.header('content-range', `bytes ${dl.range.start}-${dl.range.end}/${dl.file.size}`);
    }
    fileHeaders(reply, dl.file, dl.file.sha256 ? etagOf(dl.file.sha256) : undefined, dl.length);
    releaseWhenWritten(reply.raw);
    return reply.send(dl.stream);
  }

  function fileHeaders(reply: FastifyReply, f: EntryInfo, etag: string | undefined, length: number) {
    reply.header('content-type', 'application/octet-stream');
    reply.header('content-length', String(length));
    reply.header('accept-ranges', 'bytes');
    if (etag) reply.header('etag', etag);
    reply.header('last-modified', new Date(f.modified).toUTCString());
    // RFC 6266/5987 encoding; never a raw CR/LF or quote from the name.
    reply.header('content-disposition', contentDisposition(f.name, { type: 'attachment' }));
    reply.header('content-security-policy', DOWNLOAD_CSP);
    reply.header('x-content-type-options', 'nosniff');
  }

  const getSchema = {
    summary: 'List a folder (trailing slash or ?list) or download a file',
    description:
      'A path ending in "/" (or with ?list) lists the folder: JSON { path, entries: [{ name, type, size, sha256, modified }], next? }, ' +
      'paged with ?cursor=&limit=. A folder path without the trailing slash is listed too. A file path downloads the file: streamed, ' +
      'Content-Type application/octet-stream, Content-Disposition attachment, ETag "<sha256>" (If-None-Match → 304), ' +
      'Accept-Ranges bytes. One Range (bytes=a-b, bytes=a-, bytes=-n) answers 206; several ranges or a malformed Range header are ' +
      'ignored (200 with the whole file); a range beyond the end answers 416 with Content-Range: bytes */SIZE. HEAD answers the same ' +
      'headers without a body.',
    tags: ['files'],
    querystring: ListQuery,
    response: withErrors({ 200: ListSchema }),
  };

  for (const url of [FS_PREFIX, `${FS_PREFIX}/*`]) {
    r.route({ method: ['GET', 'HEAD'], url, schema: getSchema, handler: getOrHead });
    r.route({
      method: 'DELETE',
      url,
      schema: {
        summary: 'Remove a file or an empty folder',
        description: 'A path ending in "/" removes only a folder. Answers 204.',
        tags: ['files'],
        response: withErrors({ 204: Type.Null() }),
      },
      handler: async (request, reply) => {
        const p = principalOf(request);
        const t = await targetOf(p, request, 'file.delete');
        await core.files.remove(p, t.path, t.trailingSlash ? { only: 'folder' } : {});
        return reply.code(204).send(null);
      },
    });
  }

  // Uploads live in their own scope: no body parser there, the raw request stream goes to the core.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    scope.withTypeProvider<TypeBoxTypeProvider>().route({
      method: 'PUT',
      url: `${FS_PREFIX}/*`,
      config: { upload: true },
      schema: {
        summary: 'Upload a file (raw body, streamed)',
        description:
          'The request body is the file content, whatever its Content-Type; it is streamed to storage and never buffered whole. ' +
          'An existing file is replaced atomically when the new one is complete. Content-Length larger than the upload limit or ' +
          'the organisation quota is refused with 413 before the body is read; Content-Encoding other than identity → 415. ' +
          'Answers 201 { path, size, sha256 }. A client that disconnects mid-body leaves nothing behind. ' +
          'Optional data-subject metadata (used by incident scope and reports): X-Sluice-Records: N (a whole number, up to 12 digits) and ' +
          'X-Sluice-Categories: a,b (1-20 comma-separated names of a-z, 0-9, "-", "_", up to 32 characters each); an invalid value → 400 INVALID_INPUT, nothing stored.',
        tags: ['files'],
        // Listed for the OpenAPI document; the values are judged by the core (parseFileMetadata).
        headers: Type.Object({
          'x-sluice-records': Type.Optional(Type.String({ description: 'number of records / data subjects in the file: a whole number, up to 12 digits' })),
          'x-sluice-categories': Type.Optional(
            Type.String({ description: 'data categories in the file, comma separated: 1-20 names of a-z, 0-9, "-", "_" (e.g. health,billing)' }),
          ),
        }),
        response: withErrors({ 201: UploadResultSchema }),
      },
      handler: async (request, reply) => {
        const p = principalOf(request);
        const t = await targetOf(p, request, 'file.write');
        if (t.trailingSlash) throw await core.files.refusedPath(p, 'file.write', t.path, new CoreError('INVALID_PATH', "a file path must not end with '/'"));
        const enc = request.headers['content-encoding'];
        if (enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
          throw new HttpLayerError(415, 'INVALID_INPUT', 'Content-Encoding is not supported: send the file as it is (identity)');
        }
        const cl = request.headers['content-length'];
        const chunked = request.headers['transfer-encoding'] !== undefined;
        const expectedSize = cl !== undefined && !chunked ? Number(cl) : chunked ? undefined : 0;
        if (expectedSize !== undefined && !Number.isSafeInteger(expectedSize)) throw new CoreError('INVALID_INPUT', 'invalid Content-Length');

        const metadata = parseFileMetadata({
          records: oneHeader(request.headers['x-sluice-records']),
          categories: oneHeader(request.headers['x-sluice-categories']),
        });
        const h = await core.files.openUpload(p, t.path, { expectedSize, metadata });
        // Authorised and within limits: now the client may send the body.
        if (expectsContinue(request.raw) && !reply.raw.headersSent) reply.raw.writeContinue();
        const info = await receive(h, request.raw, expectedSize, p.protocol);
        return reply.code(201).send({ path: info.path, size: info.size, sha256: info.sha256 ?? '' });
      },
    });
  });

  /** Streams the request body into the upload handle; aborts it on any failure of the client. */
  async function receive(h: UploadHandle, req: IncomingMessage, expectedSize: number | undefined, protocol: string): Promise<EntryInfo> {
    let n = 0;
    const done = (outcome: 'success' | 'failure' | 'aborted') => {
      metrics.bytesIn.inc({ protocol }, n);
      metrics.transfers.inc({ direction: 'upload', outcome });
    };
    try {
      for await (const chunk of requestBody(req)) {
        n += chunk.length;
        await h.write(chunk);
      }
    } catch (e) {
      if (e instanceof CoreError) {
        // Refused by the core (size, quota, storage): it has cleaned up already.
        done('failure');
        throw e;
      }
      await h.abort('client disconnected').catch(() => undefined);
      done('aborted');
      throw new CoreError('ABORTED', 'upload interrupted: the request body did not arrive completely');
    }
    if (expectedSize !== undefined && n !== expectedSize) {
      await h.abort('size differs from Content-Length').catch(() => undefined);
      done('aborted');
      throw new CoreError('ABORTED', 'upload ended before the declared Content-Length');
    }
    try {
      const info = await h.finish();
      done('success');
      return info;
    } catch (e) {
      done('failure');
      throw e;
    }
  }

  r.route({
    method: 'POST',
    url: '/api/v1/fs-ops/mkdir',
    schema: {
      summary: 'Create a folder',
      description: 'Creates one folder in an existing folder. Answers 201 with the new entry.',
      tags: ['files'],
      body: Type.Object({ path: PathString }, { additionalProperties: false }),
      response: withErrors({ 201: Type.Ref('Entry') }),
    },
    handler: async (request, reply) => {
      const e = await core.files.mkdir(principalOf(request), request.body.path);
      return reply.code(201).send(entryJson(e));
    },
  });

  r.route({
    method: 'POST',
    url: '/api/v1/fs-ops/rename',
    schema: {
      summary: 'Rename or move a file or folder',
      description: "Needs 'delete' where the entry leaves and 'write' where it arrives. overwrite replaces an existing file.",
      tags: ['files'],
      body: Type.Object({ from: PathString, to: PathString, overwrite: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: withErrors({ 200: Type.Ref('Entry') }),
    },
    handler: async (request) => {
      const b = request.body;
      return entryJson(await core.files.rename(principalOf(request), b.from, b.to, { overwrite: b.overwrite === true }));
    },
  });

  r.route({
    method: 'GET',
    url: '/api/v1/fs-ops/stat',
    schema: {
      summary: 'Metadata of a file or folder',
      tags: ['files'],
      querystring: Type.Object({ path: PathString }, { additionalProperties: false }),
      response: withErrors({ 200: Type.Ref('Entry') }),
    },
    handler: async (request) => entryJson(await core.files.stat(principalOf(request), request.query.path)),
  });
}

/** A header's value as one string (Node joins repeated custom headers with ", "). */
function oneHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function expectsContinue(req: IncomingMessage): boolean {
  const v = req.headers.expect;
  return typeof v === 'string' && v.trim().toLowerCase() === '100-continue';
}

/**
 * Bytes of request body handed to the core at once. TLS delivers the body in 16 KiB records;
 * passing each on through the core and the store would cost a few promise round trips per record,
 * so they are gathered into one buffer of about this size (one copy) and passed on together.
 */
const BODY_BATCH_BYTES = 1024 * 1024;
/** A batch may overshoot by the last record gathered; batch buffers have room for that. */
const BATCH_CAPACITY = BODY_BATCH_BYTES + 64 * 1024;
/** Batch buffers kept for reuse, process-wide. */
const BATCH_FREE_MAX = 2;
const batchFree: Buffer[] = [];

/**
 * Garbage of request bodies. Node's TLS layer hands each 16 KiB record over in a buffer of its own,
 * allocated outside V8's accounting: V8 frees them only when it collects its young generation for
 * other reasons, so a fast upload leaves tens of MB of dead records resident (about 1 MB per MB/s
 * of upload rate per 100 ms between collections). So after every BODY_GC_EVERY_BYTES of request
 * body received, process-wide, the young generation is collected (young-gc.ts): the dead records
 * stay within about that many bytes.
 */
const BODY_GC_EVERY_BYTES = 16 * 1024 * 1024;
let bodyBytesSinceGc = 0;

function countBodyBytes(n: number): void {
  bodyBytesSinceGc += n;
  if (bodyBytesSinceGc < BODY_GC_EVERY_BYTES || collectYoung === undefined) return;
  bodyBytesSinceGc = 0;
  collectYoung();
}

// The release protocol (runtime/chunks.ts): download chunks are released once written to the
// socket; upload batches carry a release function the store calls once it has copied them.

/**
 * Calls the release function of every body chunk once the socket has taken it, so the store can
 * reuse its buffer (a download would otherwise leave one dead MiB buffer per MiB sent for the
 * garbage collector). Only the write callback tells when the socket is done with a chunk, and
 * Fastify pipes the stream into `res` without one: so `write` of this one response is wrapped.
 */
function releaseWhenWritten(res: ServerResponse): void {
  const write = res.write;
  res.write = function (this: ServerResponse, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    const release = chunk instanceof Uint8Array ? (chunk as Releasable)[RELEASE] : undefined;
    if (typeof release !== 'function') return Reflect.apply(write, this, [chunk, encoding, cb]) as boolean;
    const done = typeof encoding === 'function' ? encoding : cb;
    const after = (err?: Error | null) => {
      // Written (or failed for good): either way the socket holds the bytes no longer.
      release();
      if (typeof done === 'function') (done as (e?: Error | null) => void)(err);
    };
    return Reflect.apply(write, this, typeof encoding === 'string' ? [chunk, encoding, after] : [chunk, after]) as boolean;
  } as ServerResponse['write'];
}

/**
 * The request body as chunks of about BODY_BATCH_BYTES (the last one shorter). Reading pauses while
 * a full batch waits for the consumer, so at most one batch is held. A request that closes before
 * its body is complete (the client went away, the socket timed out) MUST end in an error, never in
 * a normal end: the core then aborts the upload and nothing becomes visible.
 */
export async function* requestBody(req: IncomingMessage, batchBytes = BODY_BATCH_BYTES, opts: { keepPartial?: boolean } = {}): AsyncGenerator<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let complete = false;
  const onData = (c: Buffer) => {
    parts.push(c);
    have += c.length;
    if (have >= batchBytes) {
      req.pause();
      wake?.();
    }
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onError = (e: Error) => {
    failure ??= e;
    wake?.();
  };
  const onClose = () => {
    if (!req.complete) failure ??= new Error('request closed before its body was complete');
    ended = true;
    wake?.();
  };
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('error', onError);
  req.once('close', onClose);
  try {
    for (;;) {
      if (failure !== undefined && !(opts.keepPartial === true && have > 0)) throw failure;
      if (have >= batchBytes || ((ended || failure !== undefined) && have > 0)) {
        const batch = parts.length === 1 ? parts[0]! : gather(parts, have);
        parts.length = 0;
        countBodyBytes(have);
        have = 0;
        yield batch;
        if (!ended) req.resume();
        continue;
      }
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (failure !== undefined) throw failure;
    if (!req.complete) throw new Error('request body incomplete');
    complete = true;
  } finally {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    // onError stays: an error emitted later must not go unheard. A body abandoned half-way (the
    // core refused it, the client failed) is not read any further, as with a stream's iterator.
    if (!complete) req.destroy();
  }
}

/**
 * Copies `parts` into one batch buffer, reused once the store has copied it (release protocol):
 * the 1 MiB batches of a large upload then cost no allocation, and leave nothing to collect.
 */
function gather(parts: readonly Buffer[], total: number): Buffer {
  // The short last batch of a body (all of a small one) gets a buffer of its own size.
  const pooled = total >= BODY_BATCH_BYTES / 4 && total <= BATCH_CAPACITY;
  const buf = pooled ? (batchFree.pop() ?? Buffer.allocUnsafeSlow(BATCH_CAPACITY)) : Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of parts) {
    p.copy(buf, at);
    at += p.length;
  }
  const batch = buf.subarray(0, total) as Buffer & Releasable;
  if (pooled) {
    let released = false;
    batch[RELEASE] = () => {
      if (released) return;
      released = true;
      if (batchFree.length < BATCH_FREE_MAX) batchFree.push(buf);
    };
  }
  return batch;
}
