// Runs on `npm ci` / `npm install` (the "prepare" lifecycle): builds dist/ and the web app
// (web/dist, scripts/build-web.mjs), and links the project's own `sluice` command into
// node_modules/.bin, so `npx sluice …` works in the checkout (npm links bins only for
// dependencies, not for the root package).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
const { buildWeb } = await import('./build-web.mjs');
await buildWeb();
const binDir = path.join(root, 'node_modules', '.bin');
fs.mkdirSync(binDir, { recursive: true });
const link = path.join(binDir, 'sluice');
fs.rmSync(link, { force: true });
fs.symlinkSync(path.relative(binDir, path.join(root, 'bin', 'sluice.js')), link);
