#!/usr/bin/env node
// Runs on `npm ci` / `npm install` (postinstall): builds Sluice's own native module, native/sluice
// (in-place AES-256-GCM for the encrypted store's segments against the OpenSSL inside Node, and a
// plain copy for shared memory), with node-gyp as npm ships it and Node's own headers (npm's
// nodedir setting). Where it cannot be built (no C compiler), Sluice runs with node:crypto's
// cipher and V8's copies instead, slower; this says so and does not fail the install.
// `npm test` checks that it was built.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dir = path.join(root, 'native', 'sluice');
// npm passes its node-gyp as npm_config_node_gyp to lifecycle scripts; run by hand, use npm's.
const gyp =
  process.env.npm_config_node_gyp ||
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const args = [gyp, 'rebuild', '--directory', dir];
if (!process.env.npm_config_nodedir) args.push(`--nodedir=${path.resolve(path.dirname(process.execPath), '..')}`);
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status === 0) {
  console.log('native/sluice built');
} else {
  process.stderr.write(
    `${r.stdout ?? ''}${r.stderr ?? ''}`
      .split('\n')
      .filter((l) => !l.startsWith('gyp info'))
      .join('\n'),
  );
  console.warn('WARNING: native/sluice could not be built; the encrypted store uses node:crypto (slower)');
}
