/**
 * SSH host keys: generated per install (ed25519 and RSA 3072), mode 0600, never replaced, loaded
 * only when private; `sluice status` prints the fingerprints ssh-keygen prints.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { generateValid, initHostKeys, KINDS, loadHostKeys } from '../../src/app/host-keys.js';
import { prepareDataDir } from '../../src/app/instance.js';
import { loadConfig } from '../../src/config/config.js';
import { tempDir, type TempDir } from '../helpers/dialects.js';
import { requireTool } from './tools.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('SSH host keys', () => {
  let dir: TempDir;
  let keys: string;
  before(() => {
    dir = tempDir('hostkeys');
    keys = path.join(dir.path, 'keys');
  });
  after(() => dir.cleanup());

  it('are created once, ed25519 and RSA 3072, private files 0600', () => {
    assert.deepEqual(initHostKeys(keys).created, ['ssh-ed25519', 'ssh-rsa']);
    const before = ['ssh_host_ed25519_key', 'ssh_host_rsa_key'].map((f) => fs.readFileSync(path.join(keys, f), 'utf8'));
    assert.deepEqual(initHostKeys(keys).created, [], 'a second run creates nothing');
    for (const [i, f] of ['ssh_host_ed25519_key', 'ssh_host_rsa_key'].entries()) {
      assert.equal(fs.readFileSync(path.join(keys, f), 'utf8'), before[i], `${f} was not replaced`);
      assert.equal(fs.statSync(path.join(keys, f)).mode & 0o777, 0o600, f);
    }
    const loaded = loadHostKeys(keys);
    assert.deepEqual(
      loaded.map((k) => k.type),
      ['ssh-ed25519', 'ssh-rsa'],
    );
    const rsa = ssh2.utils.parseKey(loaded[1]!.privateKey);
    assert.ok(!(rsa instanceof Error));
    const blob = (rsa as ssh2.ParsedKey).getPublicSSH();
    const nLen = blob.readUInt32BE(4 + 7 + 4 + blob.readUInt32BE(4 + 7));
    assert.ok(nLen >= 384, `RSA modulus of ${nLen} bytes`);
    assert.equal(fs.readdirSync(keys).filter((f) => f.includes('.tmp-')).length, 0, 'no temporary files left');
  });

  it('generated ed25519 keys always parse back (ssh2 sometimes writes a malformed one: it is replaced)', () => {
    const ed = KINDS[0];
    let malformed = 0;
    for (let i = 0; i < 2000; i++) {
      const raw = ed.generate();
      if (ssh2.utils.parseKey(raw.private) instanceof Error) malformed++;
      const pair = generateValid(ed.type, ed.generate);
      const k = ssh2.utils.parseKey(pair.private) as ssh2.ParsedKey;
      assert.ok(!(k instanceof Error) && k.type === 'ssh-ed25519' && k.isPrivateKey());
    }
    // Not an assertion on ssh2 (it may be fixed): only a note of what the retry is for.
    if (malformed) console.log(`# ssh2 generated ${malformed} malformed ed25519 keys out of 2000`);
  });

  it('fingerprints are the ones ssh-keygen prints', () => {
    const keygen = requireTool('ssh-keygen', 'openssh-client');
    for (const k of loadHostKeys(keys)) {
      const r = spawnSync(keygen, ['-l', '-E', 'sha256', '-f', `${k.file}.pub`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.split(' ')[1], k.fingerprint);
      const priv = spawnSync(keygen, ['-l', '-E', 'sha256', '-f', k.file], { encoding: 'utf8' });
      assert.equal(priv.stdout.split(' ')[1], k.fingerprint, 'the private key file is a valid OpenSSH key');
    }
  });

  it('a key readable by group or others, a symlink or garbage is refused', () => {
    const ed = path.join(keys, 'ssh_host_ed25519_key');
    const saved = fs.readFileSync(ed);
    try {
      fs.chmodSync(ed, 0o640);
      assert.throws(() => loadHostKeys(keys), { code: 'UNAVAILABLE', message: /ssh_host_ed25519_key is accessible by group or others/ });
      fs.chmodSync(ed, 0o604);
      assert.throws(() => loadHostKeys(keys), { code: 'UNAVAILABLE' });
      fs.chmodSync(ed, 0o600);
      fs.writeFileSync(ed, 'not a key\n');
      assert.throws(
        () => loadHostKeys(keys),
        (e: Error) => /not an unencrypted ssh-ed25519 private key/.test(e.message) && !e.message.includes('not a key\n'),
      );
      fs.rmSync(ed);
      fs.writeFileSync(path.join(dir.path, 'elsewhere'), saved, { mode: 0o600 });
      fs.symlinkSync(path.join(dir.path, 'elsewhere'), ed);
      assert.throws(() => loadHostKeys(keys), { code: 'UNAVAILABLE', message: /ssh_host_ed25519_key/ });
      fs.rmSync(ed);
      // The RSA key file holding an ed25519 key is the wrong type.
      fs.writeFileSync(ed, saved, { mode: 0o600 });
      const rsa = path.join(keys, 'ssh_host_rsa_key');
      const savedRsa = fs.readFileSync(rsa);
      fs.writeFileSync(rsa, saved);
      assert.throws(() => loadHostKeys(keys), { message: /ssh_host_rsa_key is not an unencrypted ssh-rsa private key/ });
      fs.writeFileSync(rsa, savedRsa);
    } finally {
      fs.rmSync(ed, { force: true });
      fs.writeFileSync(ed, saved, { mode: 0o600 });
    }
    assert.equal(loadHostKeys(keys).length, 2);
  });

  it('a data directory from before host keys gets them (prepareDataDir, also run by sluice serve)', () => {
    const data = path.join(dir.path, 'data');
    const cfg = loadConfig({ SLUICE_DATA_DIR: data, SLUICE_LOG_LEVEL: 'silent' });
    prepareDataDir(cfg);
    const first = loadHostKeys(path.join(data, 'keys'));
    for (const f of ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']) fs.rmSync(path.join(data, 'keys', f));
    prepareDataDir(cfg);
    const second = loadHostKeys(path.join(data, 'keys'));
    assert.notEqual(second[0]!.fingerprint, first[0]!.fingerprint, 'a missing ed25519 key is created anew');
    assert.equal(second[1]!.fingerprint, first[1]!.fingerprint, 'the existing RSA key is kept');
  });

  it('sluice status prints the fingerprints', () => {
    const data = path.join(dir.path, 'cli-data');
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', SLUICE_DATA_DIR: data, SLUICE_LOG_LEVEL: 'error', SLUICE_ADMIN: 'admin' },
        encoding: 'utf8',
        timeout: 60_000,
      });
    assert.equal(run(['init']).status, 0);
    const expected = loadHostKeys(path.join(data, 'keys'));
    const text = run(['status']);
    assert.equal(text.status, 0, text.stderr);
    for (const k of expected) assert.ok(text.stdout.includes(`${k.fingerprint} (${k.type})`), text.stdout);
    const json = JSON.parse(run(['status', '--json']).stdout) as { sshHostKeys: { type: string; fingerprint: string }[] };
    assert.deepEqual(
      json.sshHostKeys,
      expected.map((k) => ({ type: k.type, fingerprint: k.fingerprint })),
    );
  });
});
