// The gateway's catalog connections to a coordinator that lists several hosts: a
// node-postgres pool per host, and each query taken to the host the coordinator is at now
// (HostChoice). A new connection is asked once whether its server is what
// target_session_attrs asks; one that is not, or a host that does not answer, sends the
// query on to the next host. A query is sent once: a failure after it was sent is the
// caller's (as with one pool). A pool for reads may use a standby while no host is the
// primary (a failover under way).
import pg from 'pg';
import type { Logger } from 'pino';
import type { CatalogPool } from '../catalog/db.js';
import { describeHost, pgServerState, type HostChoice, type HostPort, type ServerState } from './hosts.js';

/** A host that does not answer (down, not refusing) holds a query up at most this long before the next is tried. */
const CONNECT_TIMEOUT_MS = 5_000;
const IS_PRIMARY: ServerState = { inRecovery: false, readOnly: false };

export class FollowingPool implements CatalogPool {
  private readonly pools = new Map<HostPort, pg.Pool>();
  /** Connections whose server answered as the primary (it stays one until it restarts,
   * which ends them; a standby's connections become the primary's when it is promoted). */
  private readonly primary = new WeakSet<pg.PoolClient>();

  constructor(
    private readonly choice: HostChoice,
    private readonly config: (at: HostPort) => pg.PoolConfig,
    private readonly log: Logger,
    /** Connections per host, at most. */
    private readonly max: number,
    /** Reads only: a standby will do while there is no primary. */
    private readonly standbyReads = false,
  ) {}

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(query: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const { conn: client } = await this.choice.open({
      open: (at) => this.poolAt(at).connect(),
      state: async (c) => {
        if (this.primary.has(c)) return IS_PRIMARY;
        const state = await pgServerState(c);
        if (!state.inRecovery && !state.readOnly) this.primary.add(c);
        return state;
      },
      discard: (c) => c.release(true),
      standbyFallback: this.standbyReads,
    });
    try {
      return await client.query<R>(query, values);
    } finally {
      client.release();
    }
  }

  async end(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
  }

  private poolAt(at: HostPort): pg.Pool {
    let pool = this.pools.get(at);
    if (!pool) {
      pool = new pg.Pool({ ...this.config(at), max: this.max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      pool.on('error', (e) => this.log.warn({ error: e.message, host: describeHost(at) }, 'gateway catalog connection failed'));
      // node-postgres emits a connection's failure on the client as well as failing its
      // query; the pool listens only while a client is idle. Without this, a server that
      // dies under a query (a coordinator restarting) would throw out of the gateway.
      pool.on('connect', (client) => client.on('error', () => undefined));
      this.pools.set(at, pool);
    }
    return pool;
  }
}
