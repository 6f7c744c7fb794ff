/**
 * Collections of V8's young generation on demand, for the two moments the HTTP front end knows
 * about and V8's own heuristics do not (see routes-fs.ts, request bodies, and server.ts, memory at
 * rest). A young collection costs about a millisecond on this heap.
 *
 * The collector is V8's own `gc`, which only --expose-gc makes reachable: the flag is switched on
 * just long enough to create one context that has it and switched off again at once, so no other
 * code sees a `gc` global. Where that is refused, `collectYoung` is undefined and nothing is
 * collected early.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export const collectYoung: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    v8.setFlagsFromString('--no-expose-gc');
    if (typeof gc !== 'function') return undefined;
    return () => (gc as (opts: { type: string }) => void)({ type: 'minor' });
  } catch {
    return undefined;
  }
})();
