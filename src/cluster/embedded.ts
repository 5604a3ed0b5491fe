// The embedded cluster: a coordinator and N workers, real PostgreSQL servers in one
// data directory, reachable only through private Unix sockets.
//
//   <data-dir>/
//     cluster.json        which nodes exist
//     secrets.json        0600: superuser and gateway-role passwords, mock-secret key,
//                         gateway secret (data-dir.ts)
//     citus.password      0600: the built-in role's password
//     pgwarden.pid        the running pgwarden (stale after a SIGKILL; handled)
//     tls/                local CA and gateway certificate
//     nodes/<name>/       PGDATA of each node; its socket lives there too
//     logs/<name>.log     each server's log
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { AuthMethod } from '../catalog/auth-method.js';
import type { AdminNode } from '../control/cluster-admin.js';
import type { BackendTarget } from '../gateway/backend.js';
import { PgwardenError } from '../util/errors.js';
import { readOptional } from '../util/files.js';
import { bootstrapCluster, GATEWAY_ROLE, SUPERUSER_ROLE } from './bootstrap.js';
import { withClient, type Cluster, type NodeDescription, type StartResult } from './cluster.js';
import { DataDir, DataDirBacked } from './data-dir.js';
import { PostgresNode, type NodeSpec } from './node.js';
import { assertReachable, serverUser } from './os-user.js';

export type { ClusterSecrets } from './data-dir.js';
export type { StartResult } from './cluster.js';

/** Socket file names; the servers listen on no TCP port unless asked to. */
const BASE_PORT = 15432;
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
}

export class EmbeddedCluster extends DataDirBacked implements Cluster {
  readonly coordinator: PostgresNode;
  readonly workers: readonly PostgresNode[];

  private constructor(
    dir: DataDir,
    nodes: PostgresNode[],
    private readonly options: EmbeddedClusterOptions,
  ) {
    super(dir);
    this.coordinator = nodes[0]!;
    this.workers = nodes.slice(1);
  }

  get backend(): BackendTarget {
    return this.coordinator.target;
  }

  describe(): NodeDescription[] {
    return this.nodes.map((n) => ({ name: n.name, kind: n.spec.role, where: `PostgreSQL on a private socket in ${n.spec.socketDir} (pid ${n.pid})` }));
  }

  get nodes(): readonly PostgresNode[] {
    return [this.coordinator, ...this.workers];
  }

  get adminNodes(): readonly AdminNode[] {
    return this.nodes.map((n) => ({ name: n.name, kind: n.spec.role }));
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
    await mkdir(join(dataDir, 'nodes'), { recursive: true });
    await chmod(join(dataDir, 'nodes'), 0o711);
    const runAs = await serverUser();
    assertReachable(join(dataDir, 'nodes'), runAs);

    const workerCount = await resolveWorkerCount(dataDir, options.workers);
    const names = ['coordinator', ...Array.from({ length: workerCount }, (_, i) => `worker-${i + 1}`)];
    const nodes = names.map((name, i) => new PostgresNode(nodeSpec(dataDir, name, i, options), runAs, options.log));
    return new EmbeddedCluster(dir, nodes, options);
  }

  /** Initialises missing nodes, starts all, and brings roles and schema up to date. */
  async start(): Promise<StartResult> {
    await this.dir.lock();
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
      await bootstrapCluster(this, {
        citusPassword: citus.password,
        gatewayRolePassword: this.secrets.gatewayRolePassword,
        initialAuthMethod: this.options.authMethod ?? 'both',
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
    await writeFile(join(this.dataDir, 'cluster.json'), JSON.stringify({ version: 1, workers: this.workers.length }, null, 2) + '\n');
    return citus.generated ? { generatedCitusPassword: citus.password } : {};
  }

  /** Stops every server and waits for them; releases the data directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.dir.unlock();
  }

  /** Runs `fn` on a superuser connection to `node`. */
  withSuperuser<T>(node: PostgresNode, fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    return withClient(node.clientConfig(SUPERUSER_ROLE, this.secrets.superuserPassword, database), fn);
  }

  withRole<T>(node: AdminNode, user: string, password: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const target = this.nodes.find((n) => n.name === node.name);
    if (!target) throw new PgwardenError('NOT_FOUND', `no node named ${node.name}`);
    return withClient(target.clientConfig(user, password), fn);
  }

  gatewayConnection(): pg.ClientConfig {
    return this.coordinator.clientConfig(GATEWAY_ROLE, this.secrets.gatewayRolePassword);
  }

  /** A pool for the gateway's lookups on the coordinator, as its least-privileged role. */
  gatewayPool(): pg.Pool {
    const pool = new pg.Pool({ ...this.gatewayConnection(), max: 4, idleTimeoutMillis: 30_000 });
    pool.on('error', (e) => this.options.log.warn({ error: e.message }, 'gateway catalog connection failed'));
    return pool;
  }
}

function nodeSpec(dataDir: string, name: string, index: number, options: EmbeddedClusterOptions): NodeSpec {
  const nodeDir = join(dataDir, 'nodes', name);
  const port = options.tcp ? options.tcp.basePort + index : BASE_PORT + index;
  // The socket lives in the node's own (0700) directory, unless that path is too long
  // for a Unix socket; then in a private directory under /tmp named after the data dir.
  const socketDir =
    join(nodeDir, `.s.PGSQL.${port}`).length <= MAX_SOCKET_PATH
      ? nodeDir
      : join('/tmp', `pgwarden-${hashPath(dataDir)}`, name);
  return {
    name,
    role: index === 0 ? 'coordinator' : 'worker',
    dataDir: nodeDir,
    socketDir,
    port,
    logFile: join(dataDir, 'logs', `${name}.log`),
    ...(options.tcp ? { tcp: { host: options.tcp.host, certPem: options.tcp.certPem, keyPem: options.tcp.keyPem } } : {}),
    ...(options.settings ? { settings: options.settings } : {}),
  };
}

function hashPath(p: string): string {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(p)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h.toString(16);
}

async function resolveWorkerCount(dataDir: string, requested: number | undefined): Promise<number> {
  const text = await readOptional(join(dataDir, 'cluster.json'));
  const existing = text ? (JSON.parse(text) as { workers?: number }).workers : undefined;
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 0 || requested > 64)) {
    throw new PgwardenError('CONFIG_INVALID', '--workers must be a whole number from 0 to 64');
  }
  if (existing !== undefined && requested !== undefined && requested < existing) {
    throw new PgwardenError('CONFIG_INVALID', `${dataDir} holds a cluster with ${existing} workers; removing workers is not supported (use --workers ${existing} or more)`);
  }
  return requested ?? existing ?? 2;
}

/** Reads secrets.json, creating whatever is missing (all of it on the first start). */
