// Builds the portal's front-end into dist/portal/web: index.html, hashed script and style
// under assets/, and the favicon. Everything is bundled at build time (no CDN); the
// control plane serves these files (src/portal/assets.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: here('public'),
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../../../dist/portal/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    // The Content Security Policy allows no inline script or style: keep every asset a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
});
