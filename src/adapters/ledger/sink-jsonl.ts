/**
 * An append-only JSONL file of checkpoints, meant for another volume or a write-once mount.
 * Each append opens with O_APPEND, writes one line and fsyncs before returning.
 */
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { AnchorSink, Checkpoint } from '../../ports/ledger-anchor.js';

export function createJsonlSink(file: string): AnchorSink {
  return {
    name: `file:${file}`,
    async append(cp: Checkpoint) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const fh = await open(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
      try {
        await fh.write(JSON.stringify({ type: 'sluice.checkpoint', seq: cp.seq, hash: cp.hash, ts: cp.ts, keyId: cp.keyId, signature: cp.signature }) + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async readAll() {
      if (!fs.existsSync(file)) return [];
      const out: Checkpoint[] = [];
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const v = JSON.parse(line) as Partial<Checkpoint> & { type?: string };
          if (
            v.type === 'sluice.checkpoint' &&
            typeof v.seq === 'number' &&
            typeof v.hash === 'string' &&
            typeof v.ts === 'number' &&
            typeof v.keyId === 'string' &&
            typeof v.signature === 'string'
          ) {
            out.push({ seq: v.seq, hash: v.hash, ts: v.ts, keyId: v.keyId, signature: v.signature });
          } else out.push({ seq: -1, hash: '', ts: 0, keyId: '', signature: '' });
        } catch {
          out.push({ seq: -1, hash: '', ts: 0, keyId: '', signature: '' }); // a damaged line is reported by verify
        }
      }
      return out;
    },
  };
}
