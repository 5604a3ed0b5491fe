// The embedded cluster: a coordinator and N workers, real PostgreSQL servers in one
// data directory, reachable only through private Unix sockets.
//
//   <data-dir>/
//     cluster.json        which nodes exist
//     secrets.json        0600: superuser and gateway-role passwords, mock-secret key
//     citus.password      0600: the built-in role's password
//     pgwarden.pid        the running pgwarden (stale after a SIGKILL; handled)
//     tls/                local CA and gateway certificate
//     nodes/<name>/       PGDATA of each node; its socket lives there too
//     logs/<name>.log     each server's log
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { AuthMethod } from '../catalog/auth-method.js';
import type { Logger } from 'pino';
import { PgwardenError } from '../util/errors.js';
import { randomPassword, readOptional, writeSecretFile } from '../util/files.js';
import { bootstrapCoordinator, bootstrapNode, CITUS_ROLE, GATEWAY_ROLE, readAuthMethod, SUPERUSER_ROLE, verifierFor } from './bootstrap.js';
import { PostgresNode, type NodeSpec } from './node.js';
import { assertReachable, serverUser } from './os-user.js';
import type { AdminNode, ClusterAdmin } from '../control/cluster-admin.js';

/** Socket file names; the servers listen on no TCP port unless asked to. */
const BASE_PORT = 15432;
/** sun_path holds 108 bytes on Linux, 104 on macOS. */
const MAX_SOCKET_PATH = 100;

export interface ClusterSecrets {
  superuserPassword: string;
  gatewayRolePassword: string;
  /** Key for mock SCRAM secrets of unknown roles (hex). */
  mockKey: string;
  /** The gateway's secret: derives the passwords of Entra principals' roles (hex).
   * Every gateway in front of this cluster needs the same one. */
  gatewaySecret: string;
}

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

export interface StartResult {
  /** Set when pgwarden generated the citus password on this start (to print it once). */
  generatedCitusPassword?: string;
}

export class EmbeddedCluster implements ClusterAdmin {
  readonly dataDir: string;
  readonly coordinator: PostgresNode;
  readonly workers: readonly PostgresNode[];
  private locked = false;

  private constructor(
    dataDir: string,
    nodes: PostgresNode[],
    readonly secrets: ClusterSecrets,
    private readonly options: EmbeddedClusterOptions,
  ) {
    this.dataDir = dataDir;
    this.coordinator = nodes[0]!;
    this.workers = nodes.slice(1);
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

  get gatewaySecret(): Buffer {
    return Buffer.from(this.secrets.gatewaySecret, 'hex');
  }

  get citusPasswordFile(): string {
    return join(this.dataDir, 'citus.password');
  }

  /** Reads (or creates) the data directory's layout and secrets; starts nothing. */
  static async open(options: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
    const dataDir = resolve(options.dataDir);
    // 0711: the servers' OS user must pass through to its node directories, and
    // nobody may list what is here.
    await mkdir(join(dataDir, 'nodes'), { recursive: true });
    await chmod(dataDir, 0o711);
    await chmod(join(dataDir, 'nodes'), 0o711);
    const runAs = await serverUser();
    assertReachable(join(dataDir, 'nodes'), runAs);

    const workerCount = await resolveWorkerCount(dataDir, options.workers);
    const secrets = await loadSecrets(dataDir);
    const names = ['coordinator', ...Array.from({ length: workerCount }, (_, i) => `worker-${i + 1}`)];
    const nodes = names.map((name, i) => new PostgresNode(nodeSpec(dataDir, name, i, options), runAs, options.log));
    return new EmbeddedCluster(dataDir, nodes, secrets, options);
  }

  /** Initialises missing nodes, starts all, and brings roles and schema up to date. */
  async start(): Promise<StartResult> {
    await this.lock();
    const result: StartResult = {};
    const citusPassword = await this.resolveCitusPassword(result);
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
      const boot = await this.withSuperuser(this.coordinator, async (c) => ({
        citusVerifier: await verifierFor(c, CITUS_ROLE, citusPassword),
        gatewayRoleVerifier: await verifierFor(c, GATEWAY_ROLE, this.secrets.gatewayRolePassword),
      }));
      // The coordinator first: it holds the authentication method, which decides
      // whether citus may sign in on every node.
      const citusLogin = await this.withSuperuser(this.coordinator, async (client) => {
        await bootstrapCoordinator(client, boot, { initialAuthMethod: this.options.authMethod ?? 'both' });
        const login = (await readAuthMethod(client)) !== 'entra';
        await bootstrapNode(client, boot, login);
        return login;
      });
      await Promise.all(this.workers.map((node) => this.withSuperuser(node, (client) => bootstrapNode(client, boot, citusLogin))));
    } catch (e) {
      await this.stop();
      throw e;
    }
    await writeFile(join(this.dataDir, 'cluster.json'), JSON.stringify({ version: 1, workers: this.workers.length }, null, 2) + '\n');
    return result;
  }

  /** Stops every server and waits for them; releases the data directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    if (this.locked) {
      await rm(join(this.dataDir, 'pgwarden.pid'), { force: true });
      this.locked = false;
    }
  }

  /** Runs `fn` on a superuser connection to `node`. */
  async withSuperuser<T>(node: PostgresNode, fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    const client = new pg.Client(node.clientConfig(SUPERUSER_ROLE, this.secrets.superuserPassword, database));
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** A pool for the gateway's lookups on the coordinator, as its least-privileged role. */
  gatewayPool(): pg.Pool {
    const pool = new pg.Pool({ ...this.coordinator.clientConfig(GATEWAY_ROLE, this.secrets.gatewayRolePassword), max: 4, idleTimeoutMillis: 30_000 });
    pool.on('error', (e) => this.options.log.warn({ error: e.message }, 'gateway catalog connection failed'));
    return pool;
  }

  private async resolveCitusPassword(result: StartResult): Promise<string> {
    const file = this.citusPasswordFile;
    const given = this.options.citusPassword;
    if (given !== undefined) {
      if (given.length === 0) throw new PgwardenError('CONFIG_INVALID', 'the citus password cannot be empty');
      await writeSecretFile(file, given + '\n');
      return given;
    }
    const saved = (await readOptional(file))?.trim();
    if (saved) return saved;
    const generated = randomPassword();
    await writeSecretFile(file, generated + '\n');
    result.generatedCitusPassword = generated;
    return generated;
  }

  /** One pgwarden per data directory. A pid file whose process is gone (SIGKILL) is stale. */
  private async lock(): Promise<void> {
    const file = join(this.dataDir, 'pgwarden.pid');
    const pid = Number((await readOptional(file))?.trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new PgwardenError('ALREADY_RUNNING', `pgwarden is already running on ${this.dataDir} (pid ${pid})`);
    }
    await writeFile(file, `${process.pid}\n`);
    this.locked = true;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return /node|pgwarden/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
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
async function loadSecrets(dataDir: string): Promise<ClusterSecrets> {
  const file = join(dataDir, 'secrets.json');
  const text = await readOptional(file);
  const saved = (text ? JSON.parse(text) : {}) as Partial<ClusterSecrets>;
  const secrets: ClusterSecrets = {
    superuserPassword: saved.superuserPassword ?? randomPassword(32),
    gatewayRolePassword: saved.gatewayRolePassword ?? randomPassword(32),
    mockKey: saved.mockKey ?? randomBytes(32).toString('hex'),
    gatewaySecret: saved.gatewaySecret ?? randomBytes(32).toString('hex'),
  };
  if (Object.keys(saved).length !== Object.keys(secrets).length) {
    await writeSecretFile(file, JSON.stringify(secrets, null, 2) + '\n');
  }
  return secrets;
}
