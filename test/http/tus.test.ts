/**
 * Resumable uploads over tus 1.0 (/api/v1/uploads), through real HTTP: raw requests for the
 * protocol's edges, tus-js-client for a real client's resume, and the real `sluice serve` killed
 * with SIGKILL in the middle of a PATCH for a resume after a crash.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { DIALECTS } from '../helpers/dialects.js';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { paths } from '../../src/app/instance.js';
import { testInstance } from '../helpers/instance.js';
import { bearer, serve, sha256, tokenFor, type Served } from './helpers.js';

const KiB = 1024;
const PART = 256 * KiB;
const TUS = { 'tus-resumable': '1.0.0' };
const meta = (o: Record<string, string>) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

interface Client {
  base: string;
  token: string;
}

async function create(c: Client, folder: string, filename: string, size: number, extra: Record<string, string> = {}) {
  const r = await fetch(`${c.base}/api/v1/uploads`, {
    method: 'POST',
    headers: { ...bearer(c.token), ...TUS, 'upload-length': String(size), 'upload-metadata': meta({ path: folder, filename }), ...extra },
  });
  const body = await r.text();
  return { status: r.status, location: r.headers.get('location'), expires: r.headers.get('upload-expires'), body, headers: r.headers };
}

const urlOf = (c: Client, location: string) => new URL(location, c.base).toString();

async function patch(c: Client, location: string, offset: number, body: Buffer, extra: Record<string, string> = {}) {
  const r = await fetch(urlOf(c, location), {
    method: 'PATCH',
    headers: { ...bearer(c.token), ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...extra },
    body,
  });
  const text = await r.text();
  return { status: r.status, offset: r.headers.get('upload-offset'), text };
}

async function head(c: Client, location: string) {
  const r = await fetch(urlOf(c, location), { method: 'HEAD', headers: { ...bearer(c.token), ...TUS } });
  return { status: r.status, offset: r.headers.get('upload-offset'), length: r.headers.get('upload-length'), headers: r.headers };
}

async function stat(c: Client, p: string) {
  const r = await fetch(`${c.base}/api/v1/fs-ops/stat?path=${encodeURIComponent(p)}`, { headers: bearer(c.token) });
  return { status: r.status, body: (await r.json()) as { size?: number; sha256?: string } };
}

/** Sends `sent` bytes of a PATCH that declares `total`, then cuts the connection. */
function cutPatch(port: number, token: string, location: string, offset: number, body: Buffer, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(
        [
          `PATCH ${location} HTTP/1.1`,
          'Host: 127.0.0.1',
          `Authorization: Bearer ${token}`,
          'Tus-Resumable: 1.0.0',
          'Content-Type: application/offset+octet-stream',
          `Upload-Offset: ${offset}`,
          `Content-Length: ${body.length}`,
          '',
          '',
        ].join('\r\n'),
      );
      s.write(body.subarray(0, sent), () => setTimeout(() => (s.destroy(), resolve()), 300));
    });
    s.on('error', () => undefined);
  });
}

async function waitFor<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const dialect of DIALECTS) {
  describe(`tus uploads (${dialect})`, () => {
    let s: Served;
    let ann: Client;
    let bob: Client;
    let db: Awaited<ReturnType<typeof openDatabase>>;

    before(async () => {
      s = await serve(dialect, { SLUICE_UPLOAD_PART_BYTES: String(PART) });
      db = await openDatabase({ url: s.t.config.databaseUrl, sqlitePath: paths(s.t.config).sqlite });
      const sys = s.t.system;
      await s.t.core.admin.orgs.create(sys, { name: 'Acme', ik: '123456780' });
      await s.t.core.admin.folders.create(sys, '/acme', { org: 'Acme' });
      await s.t.user('ann', { org: 'Acme' });
      await s.t.core.admin.grants.set(sys, 'ann', '/acme', 'list,read,write,delete');
      await s.t.core.admin.orgs.create(sys, { name: 'Bobs', betriebsnummer: '98000006' });
      await s.t.core.admin.folders.create(sys, '/bobs', { org: 'Bobs' });
      await s.t.user('bob', { org: 'Bobs' });
      await s.t.core.admin.grants.set(sys, 'bob', '/bobs', 'list,read,write,delete');
      ann = { base: s.base, token: await tokenFor(s.t, 'ann') };
      bob = { base: s.base, token: await tokenFor(s.t, 'bob') };
    });
    after(async () => {
      await db.close();
      await s.close();
    });

    it('OPTIONS names the version and extensions; other requests need Tus-Resumable (412)', async () => {
      const o = await fetch(`${s.base}/api/v1/uploads`, { method: 'OPTIONS' });
      assert.equal(o.status, 204);
      assert.equal(o.headers.get('tus-version'), '1.0.0');
      assert.match(o.headers.get('tus-extension') ?? '', /creation.*termination.*checksum/);
      assert.equal(o.headers.get('tus-checksum-algorithm'), 'sha256');
      const r = await fetch(`${s.base}/api/v1/uploads`, { method: 'POST', headers: { ...bearer(ann.token), 'upload-length': '3' } });
      assert.equal(r.status, 412);
      assert.equal(r.headers.get('tus-version'), '1.0.0');
      const anon = await fetch(`${s.base}/api/v1/uploads`, { method: 'POST', headers: { ...TUS, 'upload-length': '3' } });
      assert.equal(anon.status, 401);
      const doc = (await (await fetch(`${s.base}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      assert.deepEqual(Object.keys(doc.paths['/api/v1/uploads'] ?? {}).sort(), ['options', 'post']);
      assert.deepEqual(Object.keys(doc.paths['/api/v1/uploads/{id}'] ?? {}).sort(), ['delete', 'head', 'patch']);
    });

    it('create, patch in chunks: invisible until the last byte, then the file with the right sha256, one file.write event', async () => {
      const data = randomBytes(3 * PART + 12_345);
      const c = await create(ann, '/acme', 'report.bin', data.length);
      assert.equal(c.status, 201, c.body);
      assert.match(c.location ?? '', /^\/api\/v1\/uploads\/[0-9a-f-]{36}$/);
      assert.ok(c.expires && Date.parse(c.expires) > Date.now());
      const chunk = 400 * KiB;
      for (let off = 0; off < data.length; off += chunk) {
        const before = await stat(ann, '/acme/report.bin');
        assert.equal(before.status, 404, `invisible at ${off}`);
        const h = await head(ann, c.location!);
        assert.equal(h.status, 200);
        assert.equal(h.offset, String(off));
        assert.equal(h.length, String(data.length));
        const p = await patch(ann, c.location!, off, data.subarray(off, off + chunk));
        assert.equal(p.status, 204, p.text);
        assert.equal(p.offset, String(Math.min(off + chunk, data.length)));
      }
      const st = await stat(ann, '/acme/report.bin');
      assert.equal(st.status, 200);
      assert.equal(st.body.sha256, sha256(data));
      assert.equal(st.body.size, data.length);
      const got = Buffer.from(await (await fetch(`${s.base}/api/v1/fs/acme/report.bin`, { headers: bearer(ann.token) })).arrayBuffer());
      assert.ok(got.equals(data));
      const events = await s.t.core.audit.events(s.t.system, { action: 'file.write', limit: 10_000 });
      const writes = events.filter((e) => e.outcome === 'success' && e.path === '/acme/report.bin');
      assert.equal(writes.length, 1);
      assert.equal(writes[0]!.sha256, sha256(data));
      // Parts are gone once the file is committed; HEAD still answers for the finished upload.
      assert.equal((await db.db.selectFrom('upload_parts').selectAll().execute()).length, 0);
      assert.equal((await head(ann, c.location!)).offset, String(data.length));
      // A PATCH on a finished upload is a conflict.
      assert.equal((await patch(ann, c.location!, data.length, Buffer.alloc(1))).status, 409);
    });

    it('creation-with-upload keeps the body sent with the POST; an empty upload is a file at once', async () => {
      const data = randomBytes(PART + 333);
      const head1 = data.subarray(0, 1000);
      const c = await create(ann, '/acme', 'with-body.bin', data.length, { 'content-type': 'application/offset+octet-stream' });
      assert.equal(c.status, 201);
      assert.equal(c.headers.get('upload-offset'), '0');
      const r = await fetch(`${s.base}/api/v1/uploads`, {
        method: 'POST',
        headers: {
          ...bearer(ann.token),
          ...TUS,
          'upload-length': String(data.length),
          'upload-metadata': meta({ path: '/acme', filename: 'with-body2.bin' }),
          'content-type': 'application/offset+octet-stream',
        },
        body: head1,
      });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('upload-offset'), String(head1.length));
      const loc = r.headers.get('location')!;
      assert.equal((await patch(ann, loc, head1.length, data.subarray(head1.length))).status, 204);
      assert.equal((await stat(ann, '/acme/with-body2.bin')).body.sha256, sha256(data));
      const empty = await create(ann, '/acme', 'empty.bin', 0);
      assert.equal(empty.status, 201);
      const st = await stat(ann, '/acme/empty.bin');
      assert.equal(st.status, 200);
      assert.equal(st.body.size, 0);
      assert.equal(st.body.sha256, sha256(Buffer.alloc(0)));
    });

    it('an upload that arrived as one part becomes its file without a second copy; several parts are joined', async () => {
      const objects = path.join(s.t.dataDir, 'blobs', 'objects');
      fs.mkdirSync(objects, { recursive: true });
      const touched = async (run: () => Promise<void>) => {
        const names = new Set<string>();
        const w = fs.watch(objects, { recursive: true }, (_event, name) => {
          const n = String(name ?? '');
          if (/[0-9a-f-]{36}$/.test(n)) names.add(n.slice(-36));
        });
        try {
          await run();
          await new Promise((r) => setTimeout(r, 300));
        } finally {
          w.close();
        }
        return names;
      };
      const one = randomBytes(PART - 1000);
      const c1 = await create(ann, '/acme', 'one-part.bin', one.length);
      const t1 = await touched(async () => assert.equal((await patch(ann, c1.location!, 0, one)).status, 204));
      const two = randomBytes(PART + 1000);
      const c2 = await create(ann, '/acme', 'two-parts.bin', two.length);
      const t2 = await touched(async () => assert.equal((await patch(ann, c2.location!, 0, two)).status, 204));
      const keyOf = async (name: string) => (await db.db.selectFrom('files').select('blob_key').where('name', '=', name).executeTakeFirstOrThrow()).blob_key;
      assert.deepEqual([...t1], [await keyOf('one-part.bin')], 'one object written: the part is the file');
      assert.equal(t2.size, 3, 'two parts and the joined file');
      assert.ok(t2.has(await keyOf('two-parts.bin')));
      for (const [name, data] of [
        ['one-part.bin', one],
        ['two-parts.bin', two],
      ] as const) {
        const got = Buffer.from(await (await fetch(`${s.base}/api/v1/fs/acme/${name}`, { headers: bearer(ann.token) })).arrayBuffer());
        assert.equal(sha256(got), sha256(data), name);
        assert.equal((await stat(ann, `/acme/${name}`)).body.sha256, sha256(data));
      }
      const v = await s.t.core.backup.verify(s.t.system);
      assert.equal(v.counts.missing + v.counts.corrupt + v.counts.orphans, 0, JSON.stringify(v.counts));
    });

    it('wrong offset → 409; wrong content type → 415; another user → 404', async () => {
      const c = await create(ann, '/acme', 'offsets.bin', 100);
      assert.equal(c.status, 201);
      assert.equal((await patch(ann, c.location!, 5, Buffer.alloc(10))).status, 409);
      const r = await fetch(urlOf(ann, c.location!), {
        method: 'PATCH',
        headers: { ...bearer(ann.token), ...TUS, 'content-type': 'application/octet-stream', 'upload-offset': '0' },
        body: Buffer.alloc(10),
      });
      assert.equal(r.status, 415);
      assert.equal((await head(bob, c.location!)).status, 404);
      assert.equal((await patch(bob, c.location!, 0, Buffer.alloc(10))).status, 404);
      const del = await fetch(urlOf(bob, c.location!), { method: 'DELETE', headers: { ...bearer(bob.token), ...TUS } });
      assert.equal(del.status, 404);
      assert.equal((await head(ann, c.location!)).offset, '0');
      // Bob may not even create an upload in Acme's folder: not found, and recorded.
      const b = await create(bob, '/acme', 'intrude.bin', 10);
      assert.equal(b.status, 404);
    });

    it('checksum: a mismatch is 460 and keeps nothing; a matching one is kept', async () => {
      const data = randomBytes(PART + 999);
      const c = await create(ann, '/acme', 'sum.bin', data.length);
      const first = data.subarray(0, PART + 10);
      const wrong = await patch(ann, c.location!, 0, first, { 'upload-checksum': `sha256 ${Buffer.alloc(32, 7).toString('base64')}` });
      assert.equal(wrong.status, 460, wrong.text);
      assert.equal((await head(ann, c.location!)).offset, '0');
      const bad = await patch(ann, c.location!, 0, first, { 'upload-checksum': 'md5 AAAA' });
      assert.equal(bad.status, 400);
      const good = await patch(ann, c.location!, 0, first, { 'upload-checksum': `sha256 ${Buffer.from(sha256(first), 'hex').toString('base64')}` });
      assert.equal(good.status, 204, good.text);
      assert.equal(good.offset, String(first.length));
      const rest = data.subarray(first.length);
      const last = await patch(ann, c.location!, first.length, rest, { 'upload-checksum': `sha256 ${Buffer.from(sha256(rest), 'hex').toString('base64')}` });
      assert.equal(last.status, 204);
      assert.equal((await stat(ann, '/acme/sum.bin')).body.sha256, sha256(data));
    });

    it('termination removes the upload and its parts', async () => {
      const data = randomBytes(2 * PART + 5);
      const c = await create(ann, '/acme', 'gone.bin', data.length + 100);
      assert.equal((await patch(ann, c.location!, 0, data)).status, 204);
      const id = c.location!.split('/').pop()!;
      const parts = await db.db.selectFrom('upload_parts').select('blob_key').where('upload_id', '=', id).execute();
      assert.ok(parts.length >= 2);
      const del = await fetch(urlOf(ann, c.location!), { method: 'DELETE', headers: { ...bearer(ann.token), ...TUS } });
      assert.equal(del.status, 204);
      assert.equal((await head(ann, c.location!)).status, 404);
      assert.equal((await db.db.selectFrom('upload_parts').selectAll().where('upload_id', '=', id).execute()).length, 0);
      for (const part of parts)
        assert.equal(await db.db.selectFrom('blob_pending').selectAll().where('blob_key', '=', part.blob_key).executeTakeFirst(), undefined);
      assert.equal((await stat(ann, '/acme/gone.bin')).status, 404);
    });

    it('an interrupted PATCH keeps what arrived; the resume re-sends nothing already held', async () => {
      const data = randomBytes(4 * PART);
      const c = await create(ann, '/acme', 'cut.bin', data.length);
      const sent = 2 * PART + 70_000;
      await cutPatch(s.port, ann.token, c.location!, 0, data, sent);
      const h = await waitFor(
        () => head(ann, c.location!),
        (v) => Number(v.offset) === sent,
      );
      // Every byte that arrived is kept, also those of the part the connection broke off in.
      const offset = Number(h.offset);
      assert.equal(offset, sent);
      const p = await patch(ann, c.location!, offset, data.subarray(offset));
      assert.equal(p.status, 204);
      assert.equal((await stat(ann, '/acme/cut.bin')).body.sha256, sha256(data));
    });

    it('tus-js-client: upload aborted past half, resumed from its URL, at most one chunk sent twice', async () => {
      const data = randomBytes(8 * PART);
      const chunkSize = PART;
      let url: string | null = null;
      let sentBefore = 0;
      await new Promise<void>((resolve, reject) => {
        const up: tus.Upload = new tus.Upload(data, {
          endpoint: `${s.base}/api/v1/uploads`,
          headers: bearer(ann.token),
          chunkSize,
          metadata: { path: '/acme', filename: 'client.bin' },
          retryDelays: [],
          onProgress(bytes) {
            sentBefore = bytes;
            if (bytes > data.length / 2) {
              url = up.url;
              void up.abort().then(resolve, reject);
            }
          },
          onError: reject,
          onSuccess: () => reject(new Error('finished before the abort')),
        });
        up.start();
      });
      assert.ok(url);
      assert.equal((await stat(ann, '/acme/client.bin')).status, 404);
      const resumedAt = Number((await head(ann, url)).offset);
      await new Promise<void>((resolve, reject) => {
        const up = new tus.Upload(data, {
          uploadUrl: url,
          headers: bearer(ann.token),
          chunkSize,
          retryDelays: [],
          onError: reject,
          onSuccess: () => resolve(),
        });
        up.start();
      });
      const resent = sentBefore - resumedAt;
      assert.ok(resent <= chunkSize, `re-sent ${resent} bytes, a chunk is ${chunkSize}`);
      assert.equal((await stat(ann, '/acme/client.bin')).body.sha256, sha256(data));
    });

    it('refused at creation: quota, size limit; stopped mid-way: lockdown, a revoked grant', async () => {
      await s.t.core.admin.orgs.update(s.t.system, 'Acme', { quotaBytes: 10_000_000 });
      const q = await create(ann, '/acme', 'huge.bin', 20_000_000);
      assert.equal(q.status, 413);
      assert.match(q.body, /QUOTA_EXCEEDED/);
      await s.t.core.admin.orgs.update(s.t.system, 'Acme', { quotaBytes: null });

      const c = await create(ann, '/acme', 'locked.bin', 1000);
      assert.equal(c.status, 201);
      await s.t.core.lockdown.set(s.t.system, { mode: 'read-only', reason: 'test' });
      try {
        const l = await create(ann, '/acme', 'locked2.bin', 10);
        assert.equal(l.status, 423);
        const p = await patch(ann, c.location!, 0, Buffer.alloc(10));
        assert.equal(p.status, 423);
      } finally {
        await s.t.core.lockdown.set(s.t.system, { mode: 'off' });
      }
      assert.equal((await patch(ann, c.location!, 0, Buffer.alloc(10))).status, 204);
      await s.t.core.admin.grants.set(s.t.system, 'ann', '/acme', 'list,read');
      try {
        const p = await patch(ann, c.location!, 10, Buffer.alloc(10));
        assert.ok(p.status === 403 || p.status === 404, `revoked: ${p.status}`);
        assert.equal((await head(ann, c.location!)).status === 200, false);
      } finally {
        await s.t.core.admin.grants.set(s.t.system, 'ann', '/acme', 'list,read,write,delete');
      }
      assert.equal((await head(ann, c.location!)).offset, '10');
    });

    it('an expired upload is swept with its parts', async () => {
      const c = await create(ann, '/acme', 'old.bin', 3 * PART);
      assert.equal((await patch(ann, c.location!, 0, randomBytes(PART + 1))).status, 204);
      const id = c.location!.split('/').pop()!;
      const parts = await db.db.selectFrom('upload_parts').select('blob_key').where('upload_id', '=', id).execute();
      assert.ok(parts.length >= 1);
      await db.db.updateTable('uploads').set({ expires_at: 1 }).where('id', '=', id).execute();
      assert.equal((await head(ann, c.location!)).status, 404);
      assert.ok((await s.t.core.maintenance.sweepUploads()) >= 1);
      assert.equal(await db.db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst(), undefined);
      for (const part of parts) {
        assert.equal(await db.db.selectFrom('blob_pending').selectAll().where('blob_key', '=', part.blob_key).executeTakeFirst(), undefined);
      }
    });
  });

  describe(`tus upload across kill -9 of sluice serve (${dialect})`, () => {
    let child: ChildProcess | undefined;
    after(() => child?.kill('SIGKILL'));

    it('resumes after the server was killed mid-PATCH, losing at most one part', async () => {
      const t = await testInstance(dialect);
      await t.core.admin.orgs.create(t.system, { name: 'Acme', ik: '123456780' });
      await t.core.admin.folders.create(t.system, '/acme', { org: 'Acme' });
      await t.user('ann', { org: 'Acme' });
      await t.core.admin.grants.set(t.system, 'ann', '/acme', 'list,read,write');
      const token = await tokenFor(t, 'ann');
      const env: Record<string, string> = {
        SLUICE_DATA_DIR: t.dataDir,
        SLUICE_UPLOAD_PART_BYTES: String(PART),
        ...(t.config.databaseUrl ? { SLUICE_DATABASE_URL: t.config.databaseUrl } : {}),
      };
      await t.close();
      const data = randomBytes(8 * PART);

      let port = await freePort();
      child = startServer({ ...env, SLUICE_HTTP_LISTEN: `127.0.0.1:${port}` });
      await waitReady(port);
      let c: Client = { base: `http://127.0.0.1:${port}`, token };
      const created = await create(c, '/acme', 'crash.bin', data.length);
      assert.equal(created.status, 201);
      // Half the file in one PATCH, then the server dies with the request still open.
      const sent = 4 * PART + 1000;
      await new Promise<void>((resolve) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'PATCH',
          path: created.location!,
          headers: {
            ...bearer(token),
            ...TUS,
            'content-type': 'application/offset+octet-stream',
            'upload-offset': '0',
            'content-length': String(data.length),
          },
        });
        req.on('error', () => undefined);
        req.write(data.subarray(0, sent), () => setTimeout(resolve, 500));
      });
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));

      port = await freePort();
      child = startServer({ ...env, SLUICE_HTTP_LISTEN: `127.0.0.1:${port}` });
      await waitReady(port);
      c = { base: `http://127.0.0.1:${port}`, token };
      const h = await head(c, created.location!);
      assert.equal(h.status, 200);
      const offset = Number(h.offset);
      assert.ok(offset <= sent && sent - offset <= PART, `offset ${offset} after ${sent} sent: at most one part (${PART}) lost`);
      assert.equal((await stat(c, '/acme/crash.bin')).status, 404);
      const p = await patch(c, created.location!, offset, data.subarray(offset));
      assert.equal(p.status, 204, p.text);
      assert.equal((await stat(c, '/acme/crash.bin')).body.sha256, sha256(data));
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
      child = undefined;
      await t.cleanup();
    });
  });
}

const ROOT = path.resolve(import.meta.dirname, '../..');

function startServer(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', SLUICE_LOG_LEVEL: 'warn', SLUICE_SFTP_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function waitReady(port: number, ms = 120_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}
