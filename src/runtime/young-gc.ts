/**
 * Collections of V8's young generation on demand, for moments the code knows about and V8's own
 * heuristics do not: the HTTP front end (routes-fs.ts, request bodies; server.ts, memory at rest)
 * and the crypto worker (after each run: storage/crypto-worker.ts). A young collection costs about
 * a millisecond on the main heap, a fraction of that on a worker's. And full collections, rarely
 * (collectFull).
 *
 * The collector is V8's own `gc`, which only --expose-gc makes reachable: the flag is switched on
 * just long enough to create one context that has it and switched off again at once, so no other
 * code sees a `gc` global. Where that is refused, `collectYoung` is undefined and nothing is
 * collected early.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** V8's `gc` (see above), or undefined where it is refused. */
const gc: ((opts?: { type: string }) => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    const f: unknown = vm.runInNewContext('gc');
    v8.setFlagsFromString('--no-expose-gc');
    return typeof f === 'function' ? (f as (opts?: { type: string }) => void) : undefined;
  } catch {
    return undefined;
  }
})();

export const collectYoung: (() => void) | undefined = gc && (() => gc({ type: 'minor' }));

/**
 * A full collection: for memory V8 does not see growing (buffers shared with worker threads, which
 * its external-memory heuristics do not count; storage/common.ts asks for one after every 64 MiB
 * of them). Costs a few milliseconds on the main heap.
 */
export const collectFull: (() => void) | undefined = gc && (() => gc({ type: 'major' }));
