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
    for (const f of ['ssh2/lib/server.js', 'ssh2/lib/client.js'])
      assert.match(fs.readFileSync(require.resolve(f), 'utf8'), /write\(data, \(\) => releasePacket\(data\)\)/, `${f} gives written packets back`);
  });

  it("lets the application copy channel data into packets, and Sluice's server does", async () => {
    const Protocol = require('ssh2/lib/protocol/Protocol.js') as { setChannelDataCopy?: (fn: unknown) => void };
    assert.equal(typeof Protocol.setChannelDataCopy, 'function');
    assert.throws(() => Protocol.setChannelDataCopy!('no'), /must be a function/);
    const source = fs.readFileSync(require.resolve('ssh2/lib/protocol/Protocol.js'), 'utf8');
    const channelData = source.slice(source.indexOf('  channelData(chan, data) {'), source.indexOf('  channelExtData('));
    assert.match(channelData, /copyChannelData\(packet, data, p \+= 4\)/);
    // Sluice's SFTP server installs its copy when it loads (this file does not import it before).
    const set = Protocol.setChannelDataCopy!;
    let installed: ((packet: Buffer, data: Buffer, at: number) => void) | undefined;
    Protocol.setChannelDataCopy = (fn: unknown) => {
      installed = fn as typeof installed;
      set(fn);
    };
    try {
      await import('./server.js');
    } finally {
      Protocol.setChannelDataCopy = set;
    }
    assert.ok(installed, 'the SFTP server did not install a channel data copy');
    const data = Buffer.from(new SharedArrayBuffer(8));
    data.set([1, 2, 3, 4, 5, 6, 7, 8]);
    const packet = Buffer.alloc(12);
    installed(packet, data.subarray(2, 6), 3);
    assert.deepEqual([...packet], [0, 0, 0, 3, 4, 5, 6, 0, 0, 0, 0, 0]);
    assert.throws(() => installed!(packet, data, 5), /outside the buffer/);
  });
});
