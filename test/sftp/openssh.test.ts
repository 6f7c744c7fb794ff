/**
 * OpenSSH's `sftp` in batch mode against the SFTP front end: upload, list, download, rename,
 * delete, folders, with results checked by SHA-256 and through the HTTP API (the same core), and
 * the ledger entries each operation leaves (protocol sftp, client version, key fingerprint).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, ledger, tokenFor } from '../http/helpers.js';
import { serveSftp, sftpBatch, sshKeygen, type ClientKey, type SftpServed } from './helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const dialect of DIALECTS) {
  describe(`sftp with OpenSSH sftp (${dialect})`, () => {
    let s: SftpServed;
    let key: ClientKey;
    let token: string;
    const local = (name: string) => path.join(s.dir, name);

    before(async () => {
      s = await serveSftp(dialect);
      const { t } = s;
      await t.core.admin.orgs.create(t.system, { name: 'Muster' });
      await t.core.admin.folders.create(t.system, '/muster/inbox', { org: 'Muster' });
      await t.user('muster', { org: 'Muster' });
      await t.core.admin.grants.set(t.system, 'muster', '/muster/inbox', 'list,read,write,delete');
      key = await sshKeygen(s.dir, 'id_muster');
      await t.core.admin.keys.add(t.system, 'muster', key.publicLine);
      token = await tokenFor(t, 'muster');
    });
    after(() => s?.close());

    it('upload, list, download, rename and delete a file; the HTTP API sees the same tree', async () => {
      const big = randomBytes(5 * 1024 * 1024 + 17);
      fs.writeFileSync(local('big.bin'), big);
      fs.writeFileSync(local('empty.bin'), '');
      const r = await sftpBatch(
        s,
        'muster',
        key,
        [
          'cd /muster/inbox',
          'put big.bin',
          'put empty.bin',
          'ls -l',
          'get big.bin big.copy',
          'rename big.bin "Bericht 2026.bin"',
          'ls -1',
          'rm empty.bin',
          'mkdir sub',
          'ls -1',
          'rmdir sub',
          'pwd',
        ],
        [],
        s.dir,
      );
      assert.equal(r.code, 0, `sftp failed: ${r.stderr}\n${r.stdout}`);
      assert.equal(sha(fs.readFileSync(local('big.copy'))), sha(big), 'downloaded copy matches');
      assert.match(r.stdout, /-rw-r--r--\s+1 sluice\s+sluice\s+5242897 .* big\.bin/, 'ls -l shows the size');
      assert.match(r.stdout, /Remote working directory: \/muster\/inbox/);

      const res = await fetch(`${s.httpBase}/api/v1/fs/muster/inbox/`, { headers: bearer(token) });
      const body = (await res.json()) as { entries: { name: string; size: number; sha256: string }[] };
      assert.deepEqual(
        body.entries.map((e) => [e.name, e.size, e.sha256]),
        [['Bericht 2026.bin', big.length, sha(big)]],
      );
      const dl = await fetch(`${s.httpBase}/api/v1/fs/muster/inbox/Bericht%202026.bin`, { headers: bearer(token) });
      assert.equal(sha(Buffer.from(await dl.arrayBuffer())), sha(big));
    });

    it('uses large requests (limits@openssh.com) and keeps one download stream per file', async () => {
      const data = randomBytes(8 * 1024 * 1024);
      fs.writeFileSync(local('eight.bin'), data);
      const before = s.logs.length;
      const r = await sftpBatch(s, 'muster', key, ['put eight.bin /muster/inbox/eight.bin', 'get /muster/inbox/eight.bin eight.copy'], [], s.dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(fs.readFileSync(local('eight.copy'))), sha(data));
      const transfers = s.logs.slice(before).filter((l) => l.msg === 'sftp transfer');
      const down = transfers.find((l) => l.op === 'download');
      assert.equal(down?.streams, 1, 'sequential reads are served from one core download');
      const closed = s.logs.slice(before).find((l) => l.msg === 'sftp session closed');
      // 8 MiB in 255 KiB requests is ~33 WRITEs and ~33 READs; with 32 KiB requests it would be 512.
      assert.ok(Number(closed?.requests) < 120, `requests: ${String(closed?.requests)}`);
      const reads = await ledger(s.t, { action: 'file.read', target: '/muster/inbox/eight.bin' });
      assert.equal(reads.length, 1, 'one read recorded for the whole download');
    });

    it('records every operation in the ledger with protocol sftp, the client version and the key', async () => {
      const events = (await ledger(s.t)).filter((e) => e.protocol === 'sftp');
      const actions = new Set(events.map((e) => `${e.action}:${e.outcome}`));
      for (const a of [
        'auth.login:success',
        'file.write:success',
        'file.read:success',
        'file.read.end:success',
        'entry.rename:success',
        'file.delete:success',
        'folder.create:success',
        'folder.delete:success',
        'folder.list:success',
      ]) {
        assert.ok(actions.has(a), `missing ${a} in ${[...actions].join(', ')}`);
      }
      for (const e of events) {
        const d = JSON.parse(e.detail) as Record<string, unknown>;
        assert.match(String(d.client), /^SSH-2\.0-OpenSSH_/, `${e.action} has the client version`);
        assert.equal(d.method, 'publickey', e.action);
      }
      const login = events.find((e) => e.action === 'auth.login')!;
      const fp = JSON.parse(login.detail).fingerprint as string;
      const keys = await s.t.core.admin.keys.list(s.t.system, 'muster');
      assert.equal(fp, keys[0]!.fingerprint);
    });

    it('answers what is not allowed with the SFTP status and leaves nothing behind', async () => {
      fs.writeFileSync(local('x.bin'), 'x');
      const cases: [string[], RegExp][] = [
        [['put x.bin /other/x.bin'], /No such file|not found/i],
        [['get /muster/inbox/none.bin'], /not found|No such file/i],
        // '..' is resolved as sftp-server does, clamped at the root: /etc/passwd, which does not exist.
        [['put x.bin /muster/inbox/../../etc/passwd'], /No such file|not found/i],
        [['put x.bin /muster/inbox/con.txt'], /Failure/i],
        [['ln -s /muster/inbox/x /muster/inbox/y'], /unsupported|Operation unsupported/i],
      ];
      for (const [cmds, expect] of cases) {
        const r = await sftpBatch(s, 'muster', key, cmds, [], s.dir);
        assert.notEqual(r.code, 0, `${cmds.join('; ')} should fail`);
        assert.match(r.stderr + r.stdout, expect, cmds.join('; '));
      }
      const list = await s.t.core.files.list(s.t.system, '/muster/inbox');
      assert.deepEqual(list.entries.map((e) => e.name).sort(), ['Bericht 2026.bin', 'eight.bin']);
    });

    it('works with each offered cipher and host key type (AES-CTR with encrypt-then-MAC); SHA-1 host keys, CBC and CTR without EtM are refused', async () => {
      for (const opt of [
        'Ciphers=aes128-gcm@openssh.com',
        'Ciphers=aes256-gcm@openssh.com',
        'Ciphers=chacha20-poly1305@openssh.com',
        'Ciphers=aes128-ctr',
        'Ciphers=aes256-ctr',
        'MACs=hmac-sha2-512-etm@openssh.com',
        'HostKeyAlgorithms=ssh-ed25519',
        'HostKeyAlgorithms=rsa-sha2-512',
        'HostKeyAlgorithms=rsa-sha2-256',
        'KexAlgorithms=curve25519-sha256',
        'KexAlgorithms=diffie-hellman-group16-sha512',
      ]) {
        const r = await sftpBatch(s, 'muster', key, ['ls /muster'], ['-o', opt, ...(opt.startsWith('MACs') ? ['-o', 'Ciphers=aes256-ctr'] : [])], s.dir);
        assert.equal(r.code, 0, `${opt}: ${r.stderr}`);
      }
      for (const opt of [
        'HostKeyAlgorithms=ssh-rsa',
        'Ciphers=aes128-cbc',
        'KexAlgorithms=diffie-hellman-group14-sha1',
        'KexAlgorithms=ecdh-sha2-nistp256',
        'MACs=hmac-sha1',
        'MACs=hmac-sha2-256',
        'MACs=hmac-sha2-512',
        'Compression=yes',
      ]) {
        const r = await sftpBatch(s, 'muster', key, ['ls /muster'], ['-o', opt, ...(opt.startsWith('MACs') ? ['-o', 'Ciphers=aes128-ctr'] : [])], s.dir);
        if (opt === 'Compression=yes') {
          assert.equal(r.code, 0, 'compression is merely not agreed');
          continue;
        }
        assert.notEqual(r.code, 0, `${opt} was accepted`);
        assert.match(r.stderr, /no matching|Unable to negotiate|Connection closed/i, opt);
      }
    });

    it('a key that is not registered, or no key at all, gets no session', async () => {
      const stranger = await sshKeygen(s.dir, 'id_stranger');
      for (const k of [stranger, undefined]) {
        const r = await sftpBatch(s, 'muster', k, ['ls /'], [], s.dir);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Permission denied/);
      }
    });
  });
}
