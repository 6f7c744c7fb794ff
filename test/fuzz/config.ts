/**
 * Fuzzing budgets. `npm test` runs every property with a fixed seed and a short budget (scale 1),
 * so a failure reproduces; `npm run fuzz` (scripts/fuzz.mjs) runs the same properties with a
 * larger scale and a fresh seed it prints, and a failure found there is kept as a regression case
 * next to the property (the `examples` of each property).
 */
const scale = Number(process.env.SLUICE_FUZZ_SCALE ?? '1');
export const FUZZ_SEED = Number(process.env.SLUICE_FUZZ_SEED ?? '20261207');

/** fast-check parameters for a property that runs `n` times at scale 1. */
export function budget(n: number): { numRuns: number; seed: number; endOnFailure: boolean } {
  return { numRuns: Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1))), seed: FUZZ_SEED, endOnFailure: true };
}
