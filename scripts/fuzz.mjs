#!/usr/bin/env node
// `npm run fuzz`: the property tests of test/fuzz/ (path parser, HTTP input schemas, SFTP codec
// and request handling) with a larger budget and a fresh seed. `npm test` runs the same files with
// a fixed seed and a short budget.
//
//   npm run fuzz                 scale 25, a random seed (printed: rerun with it to reproduce)
//   npm run fuzz -- 100          scale 100
//   SLUICE_FUZZ_SEED=123 npm run fuzz
//
// A failure prints fast-check's counterexample and seed; keep it as a regression case (an
// explicit example next to the property) when you fix it. SQLite only: no PostgreSQL needed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scale = process.argv[2] ?? process.env.SLUICE_FUZZ_SCALE ?? '25';
const seed = process.env.SLUICE_FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
const files = fs
  .readdirSync(path.join(ROOT, 'test/fuzz'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/fuzz/${f}`);
console.log(`[fuzz] scale ${scale}, seed ${seed} (SLUICE_FUZZ_SEED=${seed} reproduces), ${files.length} files`);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_') || k.startsWith('SLUICE_FUZZ_')));
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=3600000', ...files], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...env, SLUICE_FUZZ_SCALE: scale, SLUICE_FUZZ_SEED: seed },
});
child.on('exit', (code, signal) => {
  console.log(`[fuzz] seed ${seed}: ${code === 0 ? 'no failures' : `FAILED (exit ${code ?? signal})`}`);
  process.exit(code ?? 1);
});
