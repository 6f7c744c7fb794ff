/**
 * patches/ssh2+1.17.0.patch (applied by `npm ci` through patch-package) is in place: without it
 * SFTP still works, only slower, so nothing else would notice it missing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

describe('the ssh2 patch', () => {
  it('pools outgoing packets and takes padding from a random pool', () => {
    const crypto = require('ssh2/lib/protocol/crypto.js') as { releasePacket?: (b: Buffer) => void };
    assert.equal(typeof crypto.releasePacket, 'function', 'ssh2 is not patched: run npm ci (postinstall: patch-package)');
    // A buffer that did not come from the pool is ignored.
    crypto.releasePacket!(Buffer.alloc(16));
    const source = fs.readFileSync(require.resolve('ssh2/lib/protocol/crypto.js'), 'utf8');
    assert.doesNotMatch(source, /randomFillSync\(packet, 5 \+ payloadLen, padLen\)/, 'padding still drawn per packet');
    for (const f of ['ssh2/lib/server.js', 'ssh2/lib/client.js']) assert.match(fs.readFileSync(require.resolve(f), 'utf8'), /write\(data, \(\) => releasePacket\(data\)\)/, `${f} gives written packets back`);
  });
});
