/**
 * ssh-audit (the Debian package) against the SFTP listener: no weak algorithm, no warning except
 * the strict-KEX marker that this ssh-audit version (2.5.0, older than Terrapin) does not know,
 * and the host key fingerprints it reports are ours.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run, serveSftp, type SftpServed } from './helpers.js';
import { requireTool } from './tools.js';

describe('ssh-audit', () => {
  let s: SftpServed;
  let audit: string;
  before(async () => {
    audit = requireTool('ssh-audit', 'ssh-audit');
    s = await serveSftp('sqlite');
  });
  after(() => s?.close());

  it('reports no weak algorithm', async () => {
    const r = await run(audit, ['-n', '-b', '-p', String(s.port), '127.0.0.1'], { timeoutMs: 60_000 });
    const lines = r.stdout.split('\n');
    assert.ok(
      lines.some((l) => l.startsWith('(kex) curve25519-sha256 ')),
      `no audit output: ${r.stdout}${r.stderr}`,
    );
    const findings = lines.filter((l) => /-- \[(warn|fail)\]/.test(l));
    const unexpected = findings.filter((l) => l.trim() !== '(kex) kex-strict-s-v00@openssh.com -- [warn] unknown algorithm');
    assert.deepEqual(unexpected, [], `ssh-audit found weak algorithms:\n${r.stdout}`);
    assert.ok(!lines.some((l) => /\[fail\]/.test(l)));
    for (const k of s.hostKeys)
      assert.ok(
        lines.some((l) => l.startsWith(`(fin) ${k.type}: ${k.fingerprint}`)),
        `fingerprint of ${k.type}`,
      );
  });
});
