// Where the embedded identity provider keeps its state, under `<data-dir>/idp/`, and
// where under its authority it serves what is not OAuth's.
import { join } from 'node:path';

/** Where the Graph subset is mounted (routes/graph.ts): Graph's
 * `https://graph.microsoft.com/v1.0/...` is `{authority}/graph/v1.0/...` here, and a
 * token's groups overage points there (claims.ts). */
export const GRAPH_BASE_PATH = '/graph/v1.0';

/** Where the one Azure Resource Manager call the Azure CLI makes at login is answered
 * (routes/arm.ts): ARM's `https://management.azure.com/...` is `{authority}/arm/...`. */
export const ARM_BASE_PATH = '/arm';

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
