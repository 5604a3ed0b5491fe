// What pgwarden needs of the cluster it stands in front of: the embedded one
// (embedded.ts: servers it runs itself) or an existing one (external.ts: servers it
// reaches with an administrator's connection strings).
import pg from 'pg';
import type { AdminNode, ClusterAdmin } from './admin.js';
import type { ConnectionOptions } from 'node:tls';
import type { ClusterSecrets } from './data-dir.js';
import type { CatalogPool } from '../catalog/db.js';
import type { HostChoice, HostPort } from './hosts.js';

/** Where a PostgreSQL node listens: a Unix socket (path of the socket file) or TCP,
 * with TLS when `tls` is given (a remote coordinator). The gateway connects there. */
export type BackendTarget = { path: string } | { host: string; port: number; tls?: ConnectionOptions };

/** The coordinator as the gateway reaches it: at one of its hosts (several when its
 * connection string lists several, hosts.ts), each a BackendTarget. */
export interface BackendHosts {
  readonly choice: HostChoice;
  target(at: HostPort): BackendTarget;
}

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
  readonly backend: BackendHosts;
  /** A connection to the coordinator as pgwarden_gateway (the catalog watch's LISTEN). */
  gatewayClient(): Promise<pg.Client>;
  /** Connections to the coordinator as pgwarden_gateway: for catalog lookups with
   * `reads`, which may use a standby while the coordinator has no primary; else for writes. */
  gatewayPool(use?: 'reads'): CatalogPool;
  /** Runs `fn` on a connection to `node` as `user` with `password` (SCRAM). */
  withRole<T>(node: AdminNode, user: string, password: string, fn: (client: pg.Client) => Promise<T>): Promise<T>;
  /** Starts what pgwarden runs, and brings roles and schema up to date on every node. */
  start(): Promise<StartResult>;
  stop(): Promise<void>;
  describe(): NodeDescription[];
}

/** A connected client (errors after the connection are the caller's to handle). */
export async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Connects, runs `fn`, and always disconnects. */
export async function withClient<T>(config: pg.ClientConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withConnected(await connectClient(config), fn);
}

/** Runs `fn` on a connected client, and always disconnects. */
export async function withConnected<T>(client: pg.Client, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
