// Every setting's default, named once: the components fall back to these, and the CLI
// shows them in its help (src/cli/up-command.ts). docs/cli.md lists them too.
import { ADDRESS_FREE_FAILURES, ROLE_FREE_FAILURES } from './throttle.js';

export const DEFAULTS = {
  dataDir: './.pgwarden',
  /** Workers of a new embedded cluster; later starts keep what exists. */
  workers: 2,
  /** Authentication method of a new cluster. */
  authMethod: 'both',
  gatewayHost: '127.0.0.1',
  gatewayPort: 5432,
  apiHost: '127.0.0.1',
  apiPort: 8080,
  idpHost: '127.0.0.1',
  idpPort: 8443,
  authTimeoutSeconds: 30,
  backendTimeoutMs: 10_000,
  maxPendingAuth: 1_000,
  maxConnections: 10_000,
  throttleRoleFailures: ROLE_FREE_FAILURES,
  throttleAddressFailures: ADDRESS_FREE_FAILURES,
  serverPool: 20,
  serverIdleTimeoutSeconds: 60,
  /** How long a signed-in client waits for PostgreSQL to start its session while it is slow
   * or full, before 53300/57P03 "the database cluster is overloaded" (PgBouncer's query_wait_timeout). */
  serverWaitTimeoutSeconds: 120,
  /** New server sessions being opened at once; more sign-ins wait their turn (opening-queue.ts). */
  serverOpenConcurrency: 20,
  /** Server sessions per role and database on the transaction pool's port (PgBouncer's default_pool_size). */
  poolSize: 20,
  /** How long a client of the transaction pool waits for a server session (PgBouncer's query_wait_timeout). */
  poolWaitTimeoutSeconds: 120,
  drainTimeoutSeconds: 30,
  clockSkewSeconds: 300,
  entraAuthority: 'https://login.microsoftonline.com',
  graphEndpoint: 'https://graph.microsoft.com',
  logLevel: 'info',
} as const;

/** The log levels an operator chooses from (`log-level`). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

/** `o` without its undefined values, so that optional settings can be passed on as they
 * are, however strict the types: `{ ...defined({ workers: opts.workers }) }`. */
export function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
