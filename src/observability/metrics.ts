// Prometheus metrics (prom-client), served at /metrics by the control plane. Labels stay
// low-cardinality: no role names or addresses (those are in the audit log).
import client from 'prom-client';

export class Metrics {
  readonly registry = new client.Registry();

  readonly connectionsActive = new client.Gauge({
    name: 'pgwarden_connections_active',
    help: 'Signed-in sessions piped through the gateway now',
    registers: [this.registry],
  });
  readonly signInsPending = new client.Gauge({ name: 'pgwarden_sign_ins_pending', help: 'Connections in the sign-in phase now', registers: [this.registry] });
  readonly connectionsTotal = new client.Counter({
    name: 'pgwarden_connections_total',
    help: 'Client connections accepted by the gateway, by how they ended the sign-in phase',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly signIns = new client.Counter({
    name: 'pgwarden_sign_ins_total',
    help: 'Sign-ins by method (scram, entra, oauthbearer) and result (ok, failed, refused) with the reason code',
    labelNames: ['method', 'result', 'code'] as const,
    registers: [this.registry],
  });
  readonly signInSeconds = new client.Histogram({
    name: 'pgwarden_sign_in_duration_seconds',
    help: 'Time from the startup packet to the first ReadyForQuery, successful sign-ins',
    labelNames: ['method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly bytes = new client.Counter({
    name: 'pgwarden_bytes_total',
    help: 'Bytes piped after sign-in, by direction (counted when a session ends)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly throttled = new client.Counter({
    name: 'pgwarden_sign_ins_throttled_total',
    help: 'Sign-in attempts refused because of earlier failures of the same role from the same address',
    registers: [this.registry],
  });
  readonly failuresDelayed = new client.Counter({
    name: 'pgwarden_sign_in_failures_delayed_total',
    help: 'Failed sign-ins whose answer was held back because their address had failed often (any roles)',
    registers: [this.registry],
  });
  readonly throttledClients = new client.Gauge({
    name: 'pgwarden_throttled_clients',
    help: 'Role/address pairs whose sign-in attempts are refused right now (a client address alone is never refused)',
    registers: [this.registry],
  });
  readonly signInsWaitingForServer = new client.Gauge({
    name: 'pgwarden_sign_ins_waiting_for_server',
    help: 'Signed-in clients waiting for their turn to get a PostgreSQL session (it is slow or full)',
    registers: [this.registry],
  });
  readonly serverSessionsIdle = new client.Gauge({
    name: 'pgwarden_server_sessions_idle',
    help: 'Idle PostgreSQL sessions kept for the next client (--server-pool)',
    registers: [this.registry],
  });
  readonly poolServerSessions = new client.Gauge({
    name: 'pgwarden_pool_server_sessions',
    help: "The transaction pool's PostgreSQL sessions (--pool-port), by state",
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly poolClientsWaiting = new client.Gauge({
    name: 'pgwarden_pool_clients_waiting',
    help: 'Clients of the transaction pool waiting for a server session',
    registers: [this.registry],
  });
  readonly serverSessionsReused = new client.Counter({
    name: 'pgwarden_server_sessions_reused_total',
    help: 'Sign-ins that were given a kept PostgreSQL session instead of a new one',
    registers: [this.registry],
  });
  readonly nodeUp = new client.Gauge({
    name: 'pgwarden_node_up',
    help: '1 if the node answered the last probe',
    labelNames: ['node', 'kind'] as const,
    registers: [this.registry],
  });
  readonly reconcilerLag = new client.Gauge({
    name: 'pgwarden_reconciler_lag_seconds',
    help: 'Seconds since the node was last known to match the coordinator',
    labelNames: ['node'] as const,
    registers: [this.registry],
  });

  /** Run before each scrape: values computed from the state of other parts. */
  readonly beforeScrape: Array<() => void> = [];

  async scrape(): Promise<string> {
    for (const f of this.beforeScrape) f();
    return this.registry.metrics();
  }

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'pgwarden_process_' });
  }
}
