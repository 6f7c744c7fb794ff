// The web app's build (scripts/prepare.mjs runs it on `npm ci`; `npm run build:web` by hand).
// Output: web/dist/index.html and web/dist/assets/* with content hashes in their names, served by
// `sluice serve` (src/protocols/http/web-app.ts). Nothing is inlined (no data: URLs, no inline
// script or style), so the pages run under a strict Content-Security-Policy.
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  plugins: [preact({ devToolsInProd: false, prefreshEnabled: false, reactAliasesEnabled: false })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rolldownOptions: {
      output: {
        // Chunks of web/src/<area>/ are named after the area (console-users-….js), so the size
        // of what partners load can be told from what only staff load (scripts/build-web.mjs).
        chunkFileNames: (chunk) => {
          const m = /[\\/]web[\\/]src[\\/]([a-z0-9-]+)[\\/]/.exec(chunk.facadeModuleId ?? '');
          return m && m[1] !== 'shell' ? `assets/${m[1]}-[name]-[hash].js` : 'assets/[name]-[hash].js';
        },
      },
    },
  },
});
