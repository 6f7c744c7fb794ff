/**
 * Several files and folders as one zip stream:
 *
 *   GET /api/v1/fs-ops/zip?path=/a/x.csv&path=/a/in   → application/zip, Content-Disposition attachment
 *
 * The core says what goes in (core.files.archive: every path looked up, every folder page listed,
 * each gated and recorded) and every file's bytes come from core.files.openDownload — authorized,
 * its file.read event committed before the first byte, counted by the download budgets — opened
 * only when the archive reaches that file, so one file is read at a time and memory stays bounded
 * (yazl keeps one small record per entry for the central directory). Entries are stored, not
 * compressed: the bytes are read and sent at download speed. A refusal after the archive began
 * (a budget tripped, a lockdown, a file removed meanwhile) cuts the stream: the client gets a
 * broken archive, never a silently incomplete one, and the ledger says why.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { create as contentDisposition } from 'content-disposition';
import { ZipFile } from 'yazl';
import type { Core } from '../../core/index.js';
import { principalOf } from './auth.js';
import { PathString, withErrors } from './schemas.js';
import { DOWNLOAD_CSP } from './security-headers.js';

export async function archiveRoutes(app: FastifyInstance, deps: { core: Core }): Promise<void> {
  const { core } = deps;
  app.withTypeProvider<TypeBoxTypeProvider>().route({
    method: 'GET',
    url: '/api/v1/fs-ops/zip',
    schema: {
      summary: 'Download several files and folders as one zip stream',
      description:
        'Repeat `path` for each file or folder (up to 1,000; at most 50,000 entries in all). Folders are included with ' +
        'everything below them that the caller may see. Each file is read exactly as a download: authorized, recorded in the ' +
        'ledger (file.read) and counted by the download budgets. Streamed (ZIP64 when needed), entries stored uncompressed; ' +
        'Content-Disposition attachment. A path that cannot be seen answers 404 before anything is sent; a refusal after the ' +
        'stream began (budget, lockdown) cuts the stream.',
      tags: ['files'],
      querystring: Type.Object({ path: Type.Union([PathString, Type.Array(PathString, { minItems: 1, maxItems: 1000 })]) }, { additionalProperties: false }),
      produces: ['application/zip'],
      response: withErrors({ 200: Type.String({ format: 'binary', description: 'the zip archive' }) }),
    },
    handler: async (request, reply) => {
      const p = principalOf(request);
      const q = request.query.path;
      const paths = Array.isArray(q) ? q : [q];
      const entries = core.files.archive(p, paths);
      // The first entry is looked up before the answer starts: an unknown path is a clean 404.
      const first = await entries.next();
      const zip = new ZipFile();
      const out = zip.outputStream;
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        request.log.warn({ err, reqId: request.id }, 'zip stream cut');
        (out as NodeJS.ReadableStream & { destroy(e?: Error): void }).destroy(err instanceof Error ? err : new Error(String(err)));
      };
      zip.on('error', fail);
      request.raw.once('close', () => {
        if (!reply.raw.writableFinished) fail(new Error('client went away'));
      });
      const add = (e: { type: 'file' | 'folder'; path: string; name: string; size: number; modified: number }) => {
        const mtime = new Date(e.modified);
        if (e.type === 'folder') return zip.addEmptyDirectory(e.name, { mtime });
        zip.addReadStreamLazy(e.name, { mtime, size: e.size, compress: false }, (cb) => {
          core.files.openDownload(p, e.path).then(
            (dl) => cb(null, dl.stream),
            (err: unknown) => cb(err, undefined as never),
          );
        });
      };
      if (first.done !== true) add(first.value);
      // The rest of the walk runs while the archive streams.
      void (async () => {
        try {
          for await (const e of entries) {
            if (failed) return;
            add(e);
          }
          zip.end();
        } catch (e) {
          fail(e);
        }
      })();
      const single = paths.length === 1 && first.done !== true ? first.value.name.split('/')[0] : undefined;
      reply.header('content-type', 'application/zip');
      reply.header('content-disposition', contentDisposition(`${single ?? 'files'}.zip`, { type: 'attachment' }));
      reply.header('content-security-policy', DOWNLOAD_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('cache-control', 'no-store');
      return reply.send(out);
    },
  });
}
