// What pgwarden needs of the cluster it stands in front of: the embedded one
// (embedded.ts: servers it runs itself) or an existing one (external.ts: servers it
// reaches with an administrator's connection strings).
import pg from 'pg';
import type { AdminNode, ClusterAdmin } from './admin.js';
import type { ConnectionOptions } from 'node:tls';
import type { ClusterSecrets } from './data-dir.js';

/** Where a PostgreSQL node listens: a Unix socket (path of the socket file) or TCP,
 * with TLS when `tls` is given (a remote coordinator). The gateway connects there. */
export type BackendTarget = { path: string } | { host: string; port: number; tls?: ConnectionOptions };

export interface StartResult {
  /** Set when pgwarden generated the citus password on this start (to print it once). */
  generatedCitusPassword?: string;
}

export interface NodeDescription {
  readonly name: string;
  readonly kind: 'coordinator' | 'worker';
  /** Where it is, for people: a socket directory and pid, or host:port. */
  readonly where: string;
}

export interface Cluster extends ClusterAdmin {
  readonly dataDir: string;
  readonly secrets: ClusterSecrets;
  readonly gatewaySecret: Buffer;
  readonly mockKey: Buffer;
  readonly citusPasswordFile: string;
  /** The database the start banner's connection strings name: the service's `citus` on
   * an embedded cluster, the coordinator connection's on an existing one. */
  readonly clientDatabase: string;
  /** Where the gateway takes every session: the coordinator. */
  readonly backend: BackendTarget;
  /** pgwarden_gateway's connection to the coordinator (catalog lookups, LISTEN). */
  gatewayConnection(): pg.ClientConfig;
  gatewayPool(): pg.Pool;
  /** Runs `fn` on a connection to `node` as `user` with `password` (SCRAM). */
  withRole<T>(node: AdminNode, user: string, password: string, fn: (client: pg.Client) => Promise<T>): Promise<T>;
  /** Starts what pgwarden runs, and brings roles and schema up to date on every node. */
  start(): Promise<StartResult>;
  stop(): Promise<void>;
  describe(): NodeDescription[];
}

/** Connects, runs `fn`, and always disconnects. */
export async function withClient<T>(config: pg.ClientConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
