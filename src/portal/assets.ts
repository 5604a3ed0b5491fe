// The portal's front-end as built by `npm run build` (vite, see src/portal/web/): one
// index.html and hashed files under assets/. The server reads index.html once and serves
// assets/ as immutable files; nothing is fetched from anywhere else (no CDN).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/portal/web of this package, whether this file runs from src/ (tsx) or dist/. */
export function defaultAssetsDir(): string {
  const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return join(packageRoot, 'dist', 'portal', 'web');
}

export interface PortalAssets {
  readonly dir: string;
  /** The page, or undefined when the front-end was not built. */
  readonly indexHtml: string | undefined;
  readonly favicon: Buffer | undefined;
}

export function loadAssets(dir: string): PortalAssets {
  const read = (name: string): Buffer | undefined => {
    const path = join(dir, name);
    return existsSync(path) ? readFileSync(path) : undefined;
  };
  return { dir, indexHtml: read('index.html')?.toString('utf8'), favicon: read('favicon.svg') };
}
