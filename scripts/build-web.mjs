// Builds the web app (web/, Vite + Preact) into web/dist: index.html and assets/ with content
// hashes in their names, which `sluice serve` serves at / (src/protocols/http/web-app.ts).
// Run by scripts/prepare.mjs on `npm ci`; by hand: `npm run build:web`. Prints the gzip size of
// what the partner screens load (the entry, its imports and the partner screens' chunks).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { build } from 'vite';

const root = path.resolve(import.meta.dirname, '..');
const web = path.join(root, 'web');

export async function buildWeb({ quiet = false } = {}) {
  await build({ configFile: path.join(web, 'vite.config.mjs'), logLevel: quiet ? 'silent' : 'warn' });
  const sizes = bundleSizes();
  if (!quiet)
    console.log(
      `web app built: web/dist (partner screens ${(sizes.partnerGzip / 1024).toFixed(1)} KiB gzip, all assets ${(sizes.allGzip / 1024).toFixed(1)} KiB gzip)`,
    );
  return sizes;
}

/** Gzip sizes: everything in web/dist/assets, and what the partner screens need (not the console). */
export function bundleSizes() {
  const dir = path.join(web, 'dist', 'assets');
  let allGzip = 0;
  let partnerGzip = 0;
  for (const name of fs.readdirSync(dir)) {
    const n = zlib.gzipSync(fs.readFileSync(path.join(dir, name)), { level: 9 }).length;
    allGzip += n;
    if (!/^console/i.test(name)) partnerGzip += n;
  }
  partnerGzip += zlib.gzipSync(fs.readFileSync(path.join(web, 'dist', 'index.html')), { level: 9 }).length;
  return { allGzip, partnerGzip };
}

if (import.meta.url === `file://${process.argv[1]}`) await buildWeb();
