/**
 * Resumable uploads over tus 1.0.0 (https://tus.io/protocols/resumable-upload), at /api/v1/uploads:
 *
 *   OPTIONS /api/v1/uploads        what this server speaks (no authentication)
 *   POST    /api/v1/uploads        creation: Upload-Length, Upload-Metadata (path, filename, …);
 *                                  creation-with-upload when the body is application/offset+octet-stream
 *   HEAD    /api/v1/uploads/ID     Upload-Offset, Upload-Length, Upload-Expires
 *   PATCH   /api/v1/uploads/ID     application/offset+octet-stream at Upload-Offset; Upload-Checksum
 *                                  "sha256 <base64>" per request (460 on mismatch)
 *   DELETE  /api/v1/uploads/ID     termination
 *
 * Extensions: creation, creation-with-upload, termination, checksum (sha256), expiration. No GET:
 * the finished file is downloaded from /api/v1/fs like any other. Authentication is the API's
 * (bearer token or session cookie, with its CSRF rule). This file only translates headers: every
 * decision (who may, where, how large, whether the bytes are kept) is the core's
 * (core/files/resumable.ts); errors are the API's JSON errors with the tus status codes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { parseFileMetadata, type Core, type ResumableStatus } from '../../core/index.js';
import { CoreError } from '../../core/errors.js';
import { principalOf } from './auth.js';
import { HttpLayerError } from './errors.js';
import type { Metrics } from './metrics.js';
import { requestBody } from './routes-fs.js';
import { withErrors } from './schemas.js';

export const TUS_PREFIX = '/api/v1/uploads';
const TUS_VERSION = '1.0.0';
const EXTENSIONS = 'creation,creation-with-upload,termination,checksum,expiration';
const OFFSET_TYPE = 'application/offset+octet-stream';
const DIGITS = /^\d{1,16}$/;

export interface TusDeps {
  readonly core: Core;
  readonly metrics: Metrics;
}

const bad = (message: string) => new CoreError('INVALID_INPUT', message);

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function lengthHeader(v: string | undefined, name: string): number {
  if (v === undefined || !DIGITS.test(v.trim())) throw bad(`${name} must be a non-negative whole number`);
  const n = Number(v.trim());
  if (!Number.isSafeInteger(n)) throw bad(`${name} is too large`);
  return n;
}

/** Upload-Metadata: comma-separated "key base64value" pairs (value optional). */
export function parseTusMetadata(raw: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (raw === undefined || raw.trim() === '') return out;
  if (raw.length > 4096) throw bad('Upload-Metadata too large');
  for (const pair of raw.split(',')) {
    const m = /^\s*([\x21-\x2b\x2d-\x7e]+)(?: +([A-Za-z0-9+/]*={0,2}))?\s*$/.exec(pair);
    if (!m) throw bad('Upload-Metadata must be "key base64value" pairs separated by commas');
    const key = m[1]!;
    if (out.has(key)) throw bad('Upload-Metadata repeats a key');
    const bytes = Buffer.from(m[2] ?? '', 'base64');
    const value = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: false });
    out.set(key, value);
  }
  return out;
}

/** The target file's path from the metadata: `path` (a folder) and `filename`, or `path` alone naming the file. */
export function targetOf(meta: Map<string, string>): string {
  const path = meta.get('path');
  const filename = meta.get('filename') ?? meta.get('name');
  if (filename === undefined) {
    if (path === undefined || path === '') throw bad('Upload-Metadata needs "filename" (and "path", the folder) or "path" naming the file');
    return path;
  }
  if (filename === '' || filename.includes('/')) throw new CoreError('INVALID_PATH', 'filename must be a name, without "/"');
  const folder = (path ?? '/').replace(/\/+$/, '');
  return `${folder.startsWith('/') ? '' : '/'}${folder}/${filename}`;
}

/** Upload-Checksum: "sha256 <base64 of the 32-byte digest>". */
export function parseChecksum(raw: string | undefined): Buffer | undefined {
  if (raw === undefined) return undefined;
  const m = /^\s*([A-Za-z0-9-]+) +([A-Za-z0-9+/]+={0,2})\s*$/.exec(raw);
  if (!m) throw bad('Upload-Checksum must be "<algorithm> <base64 digest>"');
  if (m[1]!.toLowerCase() !== 'sha256') throw bad('Upload-Checksum: only sha256 is supported');
  const digest = Buffer.from(m[2]!, 'base64');
  if (digest.length !== 32) throw bad('Upload-Checksum: a sha256 digest has 32 bytes');
  return digest;
}

function statusHeaders(reply: FastifyReply, s: ResumableStatus): void {
  reply.header('upload-offset', String(s.offset));
  if (!s.done) reply.header('upload-expires', new Date(s.expiresAt).toUTCString());
}

/** A core refusal of the body's checksum is tus's 460; everything else keeps the API's status. */
function tusError(e: unknown): unknown {
  if (e instanceof CoreError && e.code === 'INVALID_INPUT' && e.details?.checksum === 'mismatch') return new HttpLayerError(460, 'INVALID_INPUT', e.message);
  return e;
}

export async function tusRoutes(app: FastifyInstance, deps: TusDeps): Promise<void> {
  const { core, metrics } = deps;

  await app.register(async (scope) => {
    // Bodies are never parsed here: a PATCH (or creation-with-upload) body streams to the core.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    scope.addHook('onRequest', async (request, reply) => {
      reply.header('tus-resumable', TUS_VERSION);
      if (request.method === 'OPTIONS') return;
      if (one(request.headers['tus-resumable']) !== TUS_VERSION) {
        reply.header('tus-version', TUS_VERSION);
        throw new HttpLayerError(412, 'INVALID_INPUT', `Tus-Resumable ${TUS_VERSION} is required`);
      }
    });
    const r = scope.withTypeProvider<TypeBoxTypeProvider>();
    const tusHeader = Type.String({ description: 'must be 1.0.0 (else 412)' });
    const IdParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'the upload id from Location' }) });

    r.route({
      method: 'OPTIONS',
      url: TUS_PREFIX,
      config: { auth: 'none' },
      schema: {
        summary: 'tus: what this server supports',
        description: `Answers 204 with Tus-Version ${TUS_VERSION}, Tus-Extension (${EXTENSIONS}) and Tus-Checksum-Algorithm sha256.`,
        tags: ['uploads'],
        security: [],
        response: withErrors({ 204: Type.Null() }),
      },
      handler: async (_request, reply) => {
        reply.header('tus-version', TUS_VERSION);
        reply.header('tus-extension', EXTENSIONS);
        reply.header('tus-checksum-algorithm', 'sha256');
        return reply.code(204).send(null);
      },
    });

    r.route({
      method: 'POST',
      url: TUS_PREFIX,
      schema: {
        summary: 'tus: create a resumable upload',
        description:
          'Upload-Length is the file size (Upload-Defer-Length is not supported). Upload-Metadata names the target: "filename" ' +
          '(the file name) and "path" (the folder), or "path" alone naming the file; optional "records" and "categories" as for ' +
          'PUT (X-Sluice-Records, X-Sluice-Categories). Authorized like a PUT of that length: write permission on the folder, ' +
          "size limit and organisation quota, lockdown; refusals are the API's errors (404, 403, 413, 423). Answers 201 with " +
          'Location (/api/v1/uploads/ID), Upload-Expires (an upload not continued within the expiry is removed) and, when the ' +
          'request carried a body of type application/offset+octet-stream (creation-with-upload), Upload-Offset. The file ' +
          'appears under its path only once every byte arrived, hashed and committed exactly like a PUT.',
        tags: ['uploads'],
        headers: Type.Object({
          'tus-resumable': tusHeader,
          'upload-length': Type.String({ description: 'the file size in bytes' }),
          'upload-metadata': Type.Optional(Type.String({ description: 'comma-separated "key base64(value)": filename, path, records, categories' })),
          'upload-checksum': Type.Optional(Type.String({ description: 'creation-with-upload: "sha256 <base64 digest>" of the body' })),
        }),
        response: withErrors({ 201: Type.Null() }),
      },
      handler: async (request, reply) => {
        const p = principalOf(request);
        if (request.headers['upload-defer-length'] !== undefined) throw bad('Upload-Defer-Length is not supported: send Upload-Length');
        const size = lengthHeader(one(request.headers['upload-length']), 'Upload-Length');
        const rawMeta = one(request.headers['upload-metadata']);
        const meta = parseTusMetadata(rawMeta);
        const metadata = parseFileMetadata({ records: meta.get('records'), categories: meta.get('categories') });
        let s = await core.files.resumable.create(p, { path: targetOf(meta), size, tusMetadata: rawMeta, metadata });
        reply.header('location', `${TUS_PREFIX}/${s.id}`);
        if (isOffsetBody(request) && hasBody(request) && !s.done) s = await append(request, s.id, 0);
        statusHeaders(reply, s);
        return reply.code(201).send(null);
      },
    });

    r.route({
      method: 'HEAD',
      url: `${TUS_PREFIX}/:id`,
      // A HEAD route of its own (there is no GET): @fastify/swagger documents it only when asked.
      config: { swagger: { exposeHeadRoute: true } },
      schema: {
        summary: 'tus: the offset of an upload',
        description:
          'Upload-Offset (bytes the server holds, durably), Upload-Length, Upload-Expires, Upload-Metadata as sent. Only the owner sees an upload (others: 404).',
        tags: ['uploads'],
        params: IdParams,
        headers: Type.Object({ 'tus-resumable': tusHeader }),
        response: withErrors({ 200: Type.Null() }),
      },
      handler: async (request, reply) => {
        const s = await core.files.resumable.status(principalOf(request), request.params.id);
        statusHeaders(reply, s);
        reply.header('upload-length', String(s.size));
        if (s.tusMetadata) reply.header('upload-metadata', s.tusMetadata);
        reply.header('cache-control', 'no-store');
        return reply.code(200).send(null);
      },
    });

    r.route({
      method: 'PATCH',
      url: `${TUS_PREFIX}/:id`,
      schema: {
        summary: 'tus: send bytes of an upload',
        description:
          "Content-Type application/offset+octet-stream (else 415); Upload-Offset must equal the server's offset (else 409). " +
          'Optional Upload-Checksum "sha256 <base64 digest>" of this body: on a mismatch nothing of the body is kept (460). ' +
          'Without a checksum the bytes are committed as they arrive, in parts, so after an interruption HEAD reports ' +
          'everything received. Write permission and lockdown are checked again on every request. Answers 204 with the new ' +
          'Upload-Offset; with the last byte the file is committed (hashed, recorded, counted against the quota) before the answer.',
        tags: ['uploads'],
        params: IdParams,
        headers: Type.Object({
          'tus-resumable': tusHeader,
          'upload-offset': Type.String({ description: 'where this body starts' }),
          'upload-checksum': Type.Optional(Type.String({ description: '"sha256 <base64 digest>" of this body' })),
        }),
        consumes: [OFFSET_TYPE],
        response: withErrors({ 204: Type.Null() }),
      },
      handler: async (request, reply) => {
        principalOf(request);
        if (!isOffsetBody(request)) throw new HttpLayerError(415, 'INVALID_INPUT', `Content-Type must be ${OFFSET_TYPE}`);
        const offset = lengthHeader(one(request.headers['upload-offset']), 'Upload-Offset');
        const s = await append(request, request.params.id, offset);
        statusHeaders(reply, s);
        return reply.code(204).send(null);
      },
    });

    r.route({
      method: 'DELETE',
      url: `${TUS_PREFIX}/:id`,
      schema: {
        summary: 'tus: terminate an upload',
        description: 'The upload and the bytes received are removed (a file it already completed stays). Answers 204.',
        tags: ['uploads'],
        params: IdParams,
        headers: Type.Object({ 'tus-resumable': tusHeader }),
        response: withErrors({ 204: Type.Null() }),
      },
      handler: async (request, reply) => {
        await core.files.resumable.terminate(principalOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    });
  });

  /** Streams the request body into the upload at `offset`. */
  async function append(request: FastifyRequest, id: string, offset: number): Promise<ResumableStatus> {
    const p = principalOf(request);
    const cl = one(request.headers['content-length']);
    const length = cl !== undefined && request.headers['transfer-encoding'] === undefined ? lengthHeader(cl, 'Content-Length') : undefined;
    const sha256 = parseChecksum(one(request.headers['upload-checksum']));
    let n = 0;
    const counted = async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) {
        n += c.length;
        yield c;
      }
    };
    try {
      const s = await core.files.resumable.append(p, id, { offset, body: counted(requestBody(request.raw, undefined, { keepPartial: true })), length, sha256 });
      if (s.done) metrics.transfers.inc({ direction: 'upload', outcome: 'success' });
      return s;
    } catch (e) {
      throw tusError(e);
    } finally {
      metrics.bytesIn.inc({ protocol: p.protocol }, n);
    }
  }
}

function isOffsetBody(request: FastifyRequest): boolean {
  const ct = request.headers['content-type'];
  return typeof ct === 'string' && ct.split(';')[0]!.trim().toLowerCase() === OFFSET_TYPE;
}

function hasBody(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}
