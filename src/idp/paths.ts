// Where the embedded identity provider keeps its state, under `<data-dir>/idp/`.
import { join } from 'node:path';

export interface IdpPaths {
  readonly dir: string;
  /** Tenant, users, service principals, groups, public clients (0600). */
  readonly directory: string;
  /** Signing keys and the refresh-token key (0600). */
  readonly keys: string;
  /** Where the running provider listens, for CLI commands in other processes. */
  readonly endpoint: string;
}

export function idpPaths(dataDir: string): IdpPaths {
  const dir = join(dataDir, 'idp');
  return {
    dir,
    directory: join(dir, 'directory.json'),
    keys: join(dir, 'keys.json'),
    endpoint: join(dir, 'endpoint.json'),
  };
}
