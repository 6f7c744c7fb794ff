/**
 * Child process for the group-commit crash test (test/core/group-commit.test.ts): 16 concurrent
 * writers append events through recordEvent until killed, and print "w i seq" for each append
 * the moment its promise resolves — what a caller would treat as acknowledged. The parent kills
 * this process with SIGKILL in the middle and checks every acknowledged event is in the ledger.
 *
 *   node --import tsx test/helpers/ledger-writer-child.ts <sqlitePath> [postgres-url]
 */
import fs from 'node:fs';
import { openDatabase } from '../../src/adapters/db/connect.js';
import { groupCommitStats, recordEvent } from '../../src/core/tx.js';
import { systemClock } from '../../src/ports/clock.js';

const [sqlitePath, url] = process.argv.slice(2);
const { db } = await openDatabase({ url, sqlitePath: sqlitePath! });
fs.writeSync(1, 'ready\n');
await Promise.all(
  Array.from({ length: 16 }, async (_, w) => {
    for (let i = 0; ; i++) {
      const seq = await recordEvent(db, systemClock, { action: 'ledger.probe', outcome: 'success', detail: { probe: 'crash', w, i } });
      // Synchronous: the line is out before anything else runs.
      fs.writeSync(1, `${w} ${i} ${seq}\n`);
      if (i % 50 === 0) {
        const s = groupCommitStats(db);
        fs.writeSync(1, `stats ${s.commits} ${s.members}\n`);
      }
    }
  }),
);
