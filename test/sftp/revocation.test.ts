/**
 * Revocation reaches SFTP sessions and their running transfers within about a second: disabling a
 * user or an organisation, changing a role, removing the SSH key or the grant, an account
 * expiring. Each case signs in before the change, keeps an upload and a download running across
 * it, and sees both fail, nothing committed, and the session's next request refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type ssh2 from 'ssh2';
import { DIALECTS } from '../helpers/dialects.js';
import { sleep } from '../http/helpers.js';
import { serveSftp, type SftpServed } from './helpers.js';
import { connect, FX, OPEN, R, RawSftp, str, T, userKey, WRITE_NEW } from './raw.js';

const BIG = 32 * 1024 * 1024;
const PIECE = 200 * 1024;

for (const dialect of DIALECTS) {
  describe(`revocation reaches running SFTP sessions (${dialect})`, () => {
    let s: SftpServed;
    const clients: ssh2.Client[] = [];

    before(async () => {
      s = await serveSftp(dialect);
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Sluicegate', ik: '123456780' });
      await t.core.admin.folders.create(t.system, '/sg', { org: 'Sluicegate' });
      await t.core.admin.orgs.create(t.system, { name: 'Sluicegate Two', betriebsnummer: '98000006' });
      await t.core.admin.folders.create(t.system, '/sg2', { org: 'Sluicegate Two' });
      for (const dir of ['/sg', '/sg2']) {
        const big = Buffer.alloc(BIG, 5);
        await t.core.files.upload(
          t.system,
          `${dir}/big.bin`,
          (async function* () {
            yield big;
          })(),
        );
      }
    });
    after(async () => {
      for (const c of clients) c.end();
      await s.close();
    });

    const cases: { why: string; org?: string; revoke: (login: string) => Promise<unknown> }[] = [
      { why: 'user disabled', revoke: (l) => s.t.core.admin.users.update(s.t.system, l, { status: 'disabled' }) },
      { why: 'role changed', revoke: (l) => s.t.core.admin.users.update(s.t.system, l, { role: 'staff' }) },
      { why: 'organisation disabled', org: 'Sluicegate Two', revoke: () => s.t.core.admin.orgs.update(s.t.system, 'Sluicegate Two', { status: 'disabled' }) },
      {
        why: 'key removed',
        revoke: async (l) => {
          for (const k of await s.t.core.admin.keys.list(s.t.system, l)) await s.t.core.admin.keys.remove(s.t.system, l, k.id);
        },
      },
      { why: 'grant revoked', revoke: (l) => s.t.core.admin.grants.revoke(s.t.system, l, '/sg') },
      { why: 'account expired', revoke: () => sleep(1600) },
    ];

    for (const c of cases) {
      it(`${c.why}: a running upload and download fail, nothing is committed, the session is refused`, async () => {
        const { t } = s;
        const login = `s-${c.why.split(' ')[0]}`;
        const org = c.org ?? 'Sluicegate';
        const dir = org === 'Sluicegate' ? '/sg' : '/sg2';
        await t.user(login, { org });
        if (c.why === 'account expired') await t.core.admin.users.update(t.system, login, { expiresAt: Date.now() + 1500 });
        await t.core.admin.grants.set(t.system, login, dir, 'list,read,write');
        const key = userKey();
        await t.core.admin.keys.add(t.system, login, key.publicLine);
        const client = await connect(s.port, login, { key });
        clients.push(client);
        const sftp = await RawSftp.open(client);

        const up = (await sftp.open(`${dir}/${login}.bin`, WRITE_NEW)).handle!;
        assert.ok(up, 'upload opened');
        const down = (await sftp.open(`${dir}/big.bin`, OPEN.READ)).handle!;
        assert.ok(down, 'download opened');
        let wrote = 0;
        let read = 0;
        assert.equal((await sftp.write(up, wrote, Buffer.alloc(PIECE, 1))).code, FX.OK);
        wrote += PIECE;
        assert.equal((await sftp.read(down, read, PIECE)).type, R.DATA);
        read += PIECE;

        await c.revoke(login);
        const t0 = Date.now();
        let writeFailed = false;
        let readFailed = false;
        while ((!writeFailed || !readFailed) && Date.now() - t0 < 4000) {
          if (!writeFailed) {
            const w = await sftp.write(up, wrote, Buffer.alloc(PIECE, 2));
            if (w.code === FX.OK) wrote += PIECE;
            else writeFailed = true;
          }
          if (!readFailed) {
            const r = await sftp.read(down, read, PIECE);
            if (r.type === R.DATA) read += r.data!.length;
            else readFailed = true;
          }
          await sleep(50);
        }
        assert.ok(writeFailed, `${c.why}: the upload failed`);
        assert.ok(readFailed, `${c.why}: the download failed`);
        assert.ok(Date.now() - t0 < 3500, `${c.why}: within about a second (${Date.now() - t0} ms)`);
        assert.ok(read < BIG, `${c.why}: the download did not complete`);
        await sftp.close(up);
        await assert.rejects(t.core.files.stat(t.system, `${dir}/${login}.bin`), (e: { code?: string }) => e.code === 'NOT_FOUND');
        // The session's next request is refused too.
        const again = await sftp.request(T.OPENDIR, str(dir));
        assert.equal(again.type, R.STATUS, `${c.why}: OPENDIR refused`);
        assert.notEqual(again.code, FX.OK);
      });
    }
  });
}
