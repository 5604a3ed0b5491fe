// An existing cluster instead of the embedded one: pgwarden runs no servers, and reaches
// the coordinator and each worker with an administrator's connection string
// (`pgwarden up --coordinator CONNINFO --worker CONNINFO ...`). The administrator must be
// a superuser on every node: pgwarden creates roles, reads role secrets through a
// SECURITY DEFINER function over pg_authid, and installs its schema on the coordinator
// (docs/existing-cluster.md).
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AuthMethod } from '../catalog/auth-method.js';
import type { AdminNode } from './admin.js';
import type { BackendHosts } from './cluster.js';
import type { CatalogPool } from '../catalog/db.js';
import { PgwardenError } from '../util/errors.js';
import { bootstrapCluster } from './bootstrap.js';
import { GATEWAY_CONNECTIONS, GATEWAY_ROLE } from '../catalog/roles.js';
import { connectClient, withConnected, type Cluster, type NodeDescription, type StartResult } from './cluster.js';
import { parseConnInfo, pgConfig, redact, tlsOptions, type ConnInfo } from './conninfo.js';
import { FollowingPool } from './following-pool.js';
import { HostChoice, describeHost, pgServerState, type HostPort } from './hosts.js';
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
  /** Which of its hosts it is at now. */
  readonly hosts: HostChoice;
}

export class ExternalCluster extends DataDirBacked implements Cluster {
  private constructor(
    dir: DataDir,
    private readonly nodes: ExternalNode[],
    private readonly options: ExternalClusterOptions,
  ) {
    super(dir);
    const coordinator = nodes[0]!;
    this.backend = {
      choice: coordinator.hosts,
      target: (at) => {
        if (at.host.startsWith('/')) return { path: `${at.host}/.s.PGSQL.${at.port}` };
        const tls = tlsOptions(coordinator.conn, at);
        return { host: at.host, port: at.port, ...(tls ? { tls } : {}) };
      },
    };
  }

  static async open(options: ExternalClusterOptions): Promise<ExternalCluster> {
    const dir = await DataDir.open(options.dataDir);
    const node = (name: string, kind: AdminNode['kind'], text: string): ExternalNode => {
      const conn = parseConnInfo(text);
      return { name, kind, conn, hosts: new HostChoice(name, conn.hosts, conn.targetSessionAttrs, options.log) };
    };
    const nodes = [node('coordinator', 'coordinator', options.coordinator), ...options.workers.map((w, i) => node(`worker-${i + 1}`, 'worker', w))];
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

  readonly backend: BackendHosts;

  describe(): NodeDescription[] {
    return this.nodes.map((n) => {
      const hosts = n.conn.hosts.map(describeHost).join(', ');
      const attrs = n.conn.targetSessionAttrs === 'any' ? '' : `, target_session_attrs=${n.conn.targetSessionAttrs}`;
      return { name: n.name, kind: n.kind, where: `existing server at ${hosts} (sslmode=${n.conn.sslmode}${attrs})` };
    });
  }

  nodeAt(host: string, port: number): AdminNode | undefined {
    return this.nodes.find((n) => n.conn.hosts.some((h) => h.host === host && h.port === port));
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
    return withConnected(await this.connectTo(target, (at) => pgConfig(target.conn, at, user, password, database)), fn);
  }

  /** A connection to the node, at the host it is at now (hosts.ts). */
  private async connectTo(node: ExternalNode, config: (at: HostPort) => pg.ClientConfig): Promise<pg.Client> {
    let at: HostPort = node.hosts.current;
    try {
      const opened = await node.hosts.open({
        open: (host) => ((at = host), connectClient({ ...config(host), connectionTimeoutMillis: 10_000 })),
        state: pgServerState,
        discard: (c) => void c.end().catch(() => undefined),
      });
      return opened.conn;
    } catch (e) {
      if (e instanceof PgwardenError || (e as { code?: string }).code?.length === 5) throw e; // PostgreSQL's own errors pass as they are
      throw new PgwardenError('BACKEND_UNAVAILABLE', `cannot reach ${node.name} (${describeHost(at)}): ${(e as Error).message}`, { cause: e });
    }
  }

  gatewayClient(): Promise<pg.Client> {
    return this.connectTo(this.coordinator, (at) => this.gatewayConfig(at));
  }

  gatewayPool(use?: 'reads'): CatalogPool {
    return new FollowingPool(this.coordinator.hosts, (at) => this.gatewayConfig(at), this.options.log, GATEWAY_CONNECTIONS[use ?? 'writes'], use === 'reads');
  }

  private gatewayConfig(at: HostPort): pg.ClientConfig {
    return pgConfig(this.coordinator.conn, at, GATEWAY_ROLE, this.secrets.gatewayRolePassword);
  }

  async start(): Promise<StartResult> {
    await this.dir.lock();
    try {
      const citus = await this.dir.citusPassword(this.options.citusPassword);
      for (const n of this.nodes) {
        const superuser = await this.withAdmin(n, async (c) => {
          await checkServer(c, `${n.name} (${describeHost(n.hosts.current)})`);
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
