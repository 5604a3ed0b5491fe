// The files of a pgwarden data directory, named once. The embedded identity provider's
// files are under idp/ (src/idp/paths.ts), the TLS material under tls/
// (src/tls/certificates.ts).
//
//   <data-dir>/
//     cluster.json        the embedded cluster's layout: workers, Citus, binaries, ports
//     secrets.json        0600: superuser and gateway-role passwords, mock-secret key, gateway secret
//     citus.password      0600: the built-in role's password
//     entra-admin.json    0600: the embedded provider's first user, an Entra admin
//     api.json            where the running API listens (for the CLI)
//     pgwarden.pid        the running pgwarden
//     reload.json         how its last reload went (SIGHUP, `pgwarden reload`)
//     nodes/<name>/       PGDATA of each embedded node
//     logs/               pgwarden.log and each server's log
import { join } from 'node:path';

export interface DataDirPaths {
  readonly clusterLayout: string;
  readonly secrets: string;
  readonly citusPassword: string;
  readonly entraAdmin: string;
  readonly api: string;
  readonly pid: string;
  readonly reload: string;
  readonly nodes: string;
  readonly logs: string;
  readonly pgwardenLog: string;
  /** A node's PGDATA and the log of its server. */
  node(name: string): { dataDir: string; log: string };
}

export function dataDirPaths(dataDir: string): DataDirPaths {
  const logs = join(dataDir, 'logs');
  return {
    clusterLayout: join(dataDir, 'cluster.json'),
    secrets: join(dataDir, 'secrets.json'),
    citusPassword: join(dataDir, 'citus.password'),
    entraAdmin: join(dataDir, 'entra-admin.json'),
    api: join(dataDir, 'api.json'),
    pid: join(dataDir, 'pgwarden.pid'),
    reload: join(dataDir, 'reload.json'),
    nodes: join(dataDir, 'nodes'),
    logs,
    pgwardenLog: join(logs, 'pgwarden.log'),
    node: (name) => ({ dataDir: join(dataDir, 'nodes', name), log: join(logs, `${name}.log`) }),
  };
}
