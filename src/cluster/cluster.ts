// What pgwarden needs of the cluster it stands in front of: the embedded one
// (embedded.ts: servers it runs itself) or an existing one (external.ts: servers it
// reaches with an administrator's connection strings).
import type pg from 'pg';
import type { ClusterAdmin } from '../control/cluster-admin.js';
import type { BackendTarget } from '../gateway/backend.js';
import type { ClusterSecrets } from './data-dir.js';

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
  /** Where the gateway takes every session: the coordinator. */
  readonly backend: BackendTarget;
  /** pgwarden_gateway's connection to the coordinator (catalog lookups, LISTEN). */
  gatewayConnection(): pg.ClientConfig;
  gatewayPool(): pg.Pool;
  /** Starts what pgwarden runs, and brings roles and schema up to date on every node. */
  start(): Promise<StartResult>;
  stop(): Promise<void>;
  describe(): NodeDescription[];
}
