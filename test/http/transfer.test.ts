/**
 * The transfer path of the HTTP front end under load: request bodies gathered into reused batch
 * buffers, downloads whose buffers go back to the store once the socket has them (the release
 * protocol of adapters/storage/common.ts), large objects through the crypto workers. Whatever is
 * reused, every byte must arrive where it belongs: many concurrent uploads and downloads, bodies in
 * many small writes, downloads abandoned half-way.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, serve, sha256, tokenFor, type Served } from './helpers.js';

const MiB = 1024 * 1024;

for (const dialect of DIALECTS.slice(0, 1)) {
  describe(`HTTP transfer path (${dialect})`, () => {
    let s: Served;
    let tok: string;
    const fsUrl = (p: string) => `${s.base}/api/v1/fs${p}`;

    before(async () => {
      s = await serve(dialect);
      await s.t.core.admin.orgs.create(s.t.system, { name: 'Ann Co' });
      await s.t.core.admin.folders.create(s.t.system, '/x', { org: 'Ann Co' });
      await s.t.user('ann', { org: 'Ann Co' });
      await s.t.core.admin.grants.set(s.t.system, 'ann', '/x', 'list,read,write,delete');
      tok = await tokenFor(s.t, 'ann');
    });
    after(() => s.close());

    it('concurrent uploads and downloads of multi-MiB files each get their own bytes', async () => {
      const files = Array.from({ length: 6 }, (_, i) => ({ name: `/x/f${i}.bin`, data: randomBytes(3 * MiB + i * 777_777) }));
      const ups = await Promise.all(files.map((f) => fetch(fsUrl(f.name), { method: 'PUT', headers: bearer(tok), body: f.data })));
      for (const [i, r] of ups.entries()) {
        assert.equal(r.status, 201, `upload ${i}`);
        assert.equal(((await r.json()) as { sha256: string }).sha256, sha256(files[i]!.data), `upload ${i}`);
      }
      // downloads and re-uploads at once, twice over
      for (let round = 0; round < 2; round++) {
        const [downs] = await Promise.all([
          Promise.all(files.map(async (f) => Buffer.from(await (await fetch(fsUrl(f.name), { headers: bearer(tok) })).arrayBuffer()))),
          Promise.all(files.map((f, i) => fetch(fsUrl(`/x/copy${i}.bin`), { method: 'PUT', headers: bearer(tok), body: f.data }).then((r) => r.arrayBuffer()))),
        ]);
        for (const [i, got] of downs.entries()) assert.ok(got.equals(files[i]!.data), `round ${round}, download ${i}`);
      }
      const copies = await Promise.all(
        files.map(async (_, i) => Buffer.from(await (await fetch(fsUrl(`/x/copy${i}.bin`), { headers: bearer(tok) })).arrayBuffer())),
      );
      for (const [i, got] of copies.entries()) assert.ok(got.equals(files[i]!.data), `copy ${i}`);
    });

    it('a body sent in many small writes arrives whole', async () => {
      const data = randomBytes(2 * MiB + 3);
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(fsUrl('/x/small-writes.bin'), { method: 'PUT', headers: { ...bearer(tok), 'content-length': String(data.length) } }, (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        void (async () => {
          for (let pos = 0; pos < data.length;) {
            const n = Math.min(data.length - pos, 1 + ((pos * 7919) % 9000));
            if (!req.write(data.subarray(pos, pos + n))) await new Promise((r) => req.once('drain', r));
            pos += n;
          }
          req.end();
        })();
      });
      assert.equal(res.status, 201, res.body);
      assert.equal((JSON.parse(res.body) as { sha256: string }).sha256, sha256(data));
    });

    it('downloads abandoned half-way leave the server serving correct bytes', async () => {
      const data = randomBytes(6 * MiB);
      assert.equal((await fetch(fsUrl('/x/big.bin'), { method: 'PUT', headers: bearer(tok), body: data })).status, 201);
      for (let i = 0; i < 4; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = http.get(fsUrl('/x/big.bin'), { headers: bearer(tok) }, (r) => {
            let got = 0;
            r.on('data', (c: Buffer) => {
              got += c.length;
              if (got > MiB) req.destroy();
            });
            r.on('close', () => resolve());
          });
          req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || req.destroyed ? resolve() : reject(e)));
        });
      }
      const whole = Buffer.from(await (await fetch(fsUrl('/x/big.bin'), { headers: bearer(tok) })).arrayBuffer());
      assert.ok(whole.equals(data));
      const part = await fetch(fsUrl('/x/big.bin'), { headers: { ...bearer(tok), range: `bytes=${MiB - 5}-${4 * MiB + 5}` } });
      assert.equal(part.status, 206);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(MiB - 5, 4 * MiB + 6)));
    });
  });
}
