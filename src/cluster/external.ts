// An existing cluster instead of the embedded one: pgwarden runs no servers, and reaches
// the coordinator and each worker with an administrator's connection string
// (`pgwarden up --coordinator CONNINFO --worker CONNINFO ...`). The administrator must be
// a superuser on every node: pgwarden creates roles, reads role secrets through a
// SECURITY DEFINER function over pg_authid, and installs its schema on the coordinator
// (docs/existing-cluster.md).
import pg from 'pg';
import type { Logger } from 'pino';
import type { AuthMethod } from '../catalog/auth-method.js';
import type { AdminNode } from './admin.js';
import type { BackendTarget } from './cluster.js';
import { PgwardenError } from '../util/errors.js';
import { bootstrapCluster } from './bootstrap.js';
import { GATEWAY_ROLE } from '../catalog/roles.js';
import { withClient, type Cluster, type NodeDescription, type StartResult } from './cluster.js';
import { parseConnInfo, pgConfig, redact, tlsOptions, type ConnInfo } from './conninfo.js';
import { DataDir, DataDirBacked } from './data-dir.js';
import { checkServer } from './server-version.js';
import { DEFAULTS } from '../util/defaults.js';

export interface ExternalClusterOptions {
  dataDir: string;
  /** The coordinator's connection string, as an administrator (superuser). */
  coordinator: string;
  /** Each worker's connection string, as an administrator. */
  workers: string[];
  citusPassword?: string;
  authMethod?: AuthMethod;
  log: Logger;
}

interface ExternalNode extends AdminNode {
  readonly conn: ConnInfo;
}

export class ExternalCluster extends DataDirBacked implements Cluster {
  private constructor(
    dir: DataDir,
    private readonly nodes: ExternalNode[],
    private readonly options: ExternalClusterOptions,
  ) {
    super(dir);
  }

  static async open(options: ExternalClusterOptions): Promise<ExternalCluster> {
    const dir = await DataDir.open(options.dataDir);
    const nodes: ExternalNode[] = [
      { name: 'coordinator', kind: 'coordinator', conn: parseConnInfo(options.coordinator) },
      ...options.workers.map((w, i): ExternalNode => ({ name: `worker-${i + 1}`, kind: 'worker', conn: parseConnInfo(w) })),
    ];
    return new ExternalCluster(dir, nodes, options);
  }

  get adminNodes(): readonly AdminNode[] {
    return this.nodes;
  }

  private get coordinator(): ExternalNode {
    return this.nodes[0]!;
  }

  get clientDatabase(): string {
    return this.coordinator.conn.dbname;
  }

  get backend(): BackendTarget {
    const c = this.coordinator.conn;
    if (c.host.startsWith('/')) return { path: `${c.host}/.s.PGSQL.${c.port}` };
    const tls = tlsOptions(c);
    return { host: c.host, port: c.port, ...(tls ? { tls } : {}) };
  }

  describe(): NodeDescription[] {
    return this.nodes.map((n) => ({ name: n.name, kind: n.kind, where: `existing server at ${n.conn.host}:${n.conn.port} (sslmode=${n.conn.sslmode})` }));
  }

  nodeAt(host: string, port: number): AdminNode | undefined {
    return this.nodes.find((n) => n.conn.host === host && n.conn.port === port);
  }

  withAdmin<T>(node: AdminNode, fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
    return this.connect(node, undefined, undefined, database, fn);
  }

  withRole<T>(node: AdminNode, user: string, password: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    return this.connect(node, user, password, undefined, fn);
  }

  private async connect<T>(
    node: AdminNode,
    user: string | undefined,
    password: string | undefined,
    database: string | undefined,
    fn: (client: pg.Client) => Promise<T>,
  ): Promise<T> {
    const target = this.nodes.find((n) => n.name === node.name);
    if (!target) throw new PgwardenError('NOT_FOUND', `no node named ${node.name}`);
    try {
      return await withClient({ ...pgConfig(target.conn, user, password, database), connectionTimeoutMillis: 10_000 }, fn);
    } catch (e) {
      if (e instanceof PgwardenError || (e as { code?: string }).code?.length === 5) throw e; // PostgreSQL's own errors pass as they are
      throw new PgwardenError('BACKEND_UNAVAILABLE', `cannot reach ${node.name} (${target.conn.host}:${target.conn.port}): ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  gatewayConnection(): pg.ClientConfig {
    return pgConfig(this.coordinator.conn, GATEWAY_ROLE, this.secrets.gatewayRolePassword);
  }

  gatewayPool(): pg.Pool {
    const pool = new pg.Pool({ ...this.gatewayConnection(), max: 4, idleTimeoutMillis: 30_000 });
    pool.on('error', (e) => this.options.log.warn({ error: e.message }, 'gateway catalog connection failed'));
    return pool;
  }

  async start(): Promise<StartResult> {
    await this.dir.lock();
    try {
      const citus = await this.dir.citusPassword(this.options.citusPassword);
      for (const n of this.nodes) {
        const superuser = await this.withAdmin(n, async (c) => {
          await checkServer(c, `${n.name} (${n.conn.host}:${n.conn.port})`);
          return (await c.query<{ s: boolean }>('SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user')).rows[0]?.s;
        });
        if (!superuser) {
          throw new PgwardenError(
            'CONFIG_INVALID',
            `the connection string of ${n.name} ` +
              `(${redact(n.name === 'coordinator' ? this.options.coordinator : this.options.workers[this.nodes.indexOf(n) - 1]!)}) must name a superuser`,
          );
        }
      }
      await bootstrapCluster(this, {
        citusPassword: citus.password,
        gatewayRolePassword: this.secrets.gatewayRolePassword,
        initialAuthMethod: this.options.authMethod ?? DEFAULTS.authMethod,
      });
      return citus.generated ? { generatedCitusPassword: citus.password } : {};
    } catch (e) {
      await this.dir.unlock();
      throw e;
    }
  }

  async stop(): Promise<void> {
    await this.dir.unlock();
  }
}
