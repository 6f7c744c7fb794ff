/**
 * Test peers from Debian packages (OpenSSH client and server, rclone, ssh-audit, sshpass).
 * A missing tool is installed with apt-get when the tests run as root (as scripts/test.mjs does
 * for PostgreSQL); otherwise the test fails with a message saying what to install. Never skipped.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const IS_ROOT = process.getuid?.() === 0;
let updated = false;

function which(bin: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/bin', '/usr/lib/openssh'];
  for (const d of dirs) {
    const f = path.join(d, bin);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {}
  }
  return undefined;
}

function apt(args: string[]): void {
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || '').slice(-2000)}`);
}

/**
 * The absolute path of `bin`, installing Debian package `pkg` first when it is missing and we
 * are root. Throws (the test fails) when it cannot be had.
 */
export function requireTool(bin: string, pkg: string): string {
  let found = which(bin);
  if (found) return found;
  if (!IS_ROOT) throw new Error(`${bin} is needed by this test: install the Debian package "${pkg}" (or run the tests as root, which installs it)`);
  // Keep the package's own services (sshd) from starting: the tests start what they need.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !fs.existsSync(policy);
  if (ownPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    if (!updated) {
      apt(['update']);
      updated = true;
    }
    apt(['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confold', pkg]);
  } finally {
    if (ownPolicy) fs.rmSync(policy, { force: true });
  }
  found = which(bin);
  if (!found) throw new Error(`installed ${pkg}, but ${bin} is still not found`);
  return found;
}
