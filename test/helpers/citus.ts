// Where the Citus tests find PostgreSQL with Citus: PGWARDEN_CITUS_BIN, else the bundle
// of ../shared/citus installed in /opt/postgresql-18. On a machine without it the Citus
// tests skip with one line saying how to get it; in CI (.ci/run sets
// PGWARDEN_NO_SKIP=1 after installing the bundle) they must run, so a missing
// Citus fails instead.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type pg from 'pg';
import { joinCitusCluster } from '../../src/cluster/citus-setup.js';
import { withClient } from '../../src/cluster/cluster.js';
import { conninfoValue } from '../../src/cluster/conninfo.js';
import { PostgresNode } from '../../src/cluster/node.js';
import { serverUser } from '../../src/cluster/os-user.js';
import { ensureNodeTls } from '../../src/tls/certificates.js';
import { silentLogger } from '../../src/util/log.js';
import type { TestPgwarden } from './pgwarden.js';

export const CITUS_BIN = process.env.PGWARDEN_CITUS_BIN ?? '/opt/postgresql-18/bin';

const found = existsSync(join(CITUS_BIN, 'postgres')) && existsSync(join(CITUS_BIN, '..', 'lib', 'citus.so'));

if (!found && process.env.PGWARDEN_NO_SKIP) {
  throw new Error(`PGWARDEN_NO_SKIP is set, and there is no PostgreSQL with Citus in ${CITUS_BIN}`);
}

/** `skip` for node:test: false when Citus is here, else the one line that says how to get it. */
export const skipWithoutCitus: string | false = found
  ? false
  : `no PostgreSQL with Citus in ${CITUS_BIN}: install one (docs/citus.md) or set PGWARDEN_CITUS_BIN to its bin directory`;

/** libpq 18's psql from the same installation (it speaks to every PostgreSQL version). */
export const CITUS_PSQL = join(CITUS_BIN, 'psql');

/** Runs `sql` as the superuser on every node of an embedded cluster; rows per node name.
 * Shard tables are visible (Citus hides them from clients unless told otherwise). */
export async function onEveryNode<T extends pg.QueryResultRow>(
  pw: TestPgwarden,
  sql: string,
  params: unknown[] = [],
  database?: string,
): Promise<Record<string, T[]>> {
  const out: Record<string, T[]> = {};
  for (const node of pw.cluster.nodes) {
    out[node.name] = await pw.cluster.withSuperuser(
      node,
      async (c) => {
        await c.query('SET citus.override_table_visibility = off');
        return (await c.query<T>(sql, params)).rows;
      },
      database,
    );
  }
  return out;
}

/** A Citus cluster that pgwarden does not run: set up as an operator would, with the
 * PostgreSQL and Citus of CITUS_BIN. Clients (pgwarden too) sign in with SCRAM on each
 * node's Unix socket; the nodes reach each other on loopback TCP with the node
 * certificate (docs/citus.md, "An existing Citus cluster"). */
export interface ExistingCitus {
  readonly nodes: readonly PostgresNode[];
  readonly superuserPassword: string;
  /** libpq connection string of a node, as the superuser. */
  conninfo(node: PostgresNode): string;
  /** Runs `sql` on a node as the superuser. */
  query<T extends pg.QueryResultRow>(node: PostgresNode, sql: string, params?: unknown[]): Promise<T[]>;
  /** Starts one more server with the same node certificate and adds it with citus_add_node. */
  addWorker(): Promise<PostgresNode>;
  stop(): Promise<void>;
}

export async function startExistingCitus(dir: string, workers = 2): Promise<ExistingCitus> {
  const runAs = await serverUser();
  await mkdir(join(dir, 'nodes'), { recursive: true, mode: 0o711 });
  await chmod(join(dir, 'nodes'), 0o711);
  const tls = await ensureNodeTls(dir);
  const superuserPassword = randomBytes(18).toString('base64url');
  const nodes: PostgresNode[] = [];
  const newNode = async (name: string, role: 'coordinator' | 'worker'): Promise<PostgresNode> => {
    const nodeDir = join(dir, 'nodes', name);
    const node = new PostgresNode(
      {
        name,
        role,
        dataDir: nodeDir,
        socketDir: nodeDir,
        port: await freeTcpPort(),
        logFile: join(dir, 'logs', `${name}.log`),
        postgresBin: CITUS_BIN,
        citus: tls,
      },
      runAs,
      silentLogger(),
    );
    await node.initialise('postgres', superuserPassword);
    await node.start();
    nodes.push(node);
    return node;
  };
  await Promise.all(
    ['coordinator', ...Array.from({ length: workers }, (_, i) => `worker-${i + 1}`)].map((name, i) => newNode(name, i === 0 ? 'coordinator' : 'worker')),
  );
  nodes.sort((a, b) => (a.spec.role === b.spec.role ? a.name.localeCompare(b.name) : a.spec.role === 'coordinator' ? -1 : 1));
  const config = (n: PostgresNode, database = 'postgres') => n.clientConfig('postgres', superuserPassword, database);
  const admin = {
    get adminNodes() {
      return nodes.map((n) => ({ name: n.name, kind: n.spec.role }));
    },
    withAdmin: <T>(node: { name: string }, fn: (c: pg.Client) => Promise<T>, database?: string) =>
      withClient(
        config(
          nodes.find((n) => n.name === node.name)!,
          database,
        ),
        fn,
      ),
  };
  const join_ = () =>
    joinCitusCluster(
      admin,
      nodes.map((n) => ({ node: { name: n.name, kind: n.spec.role }, host: '127.0.0.1', port: n.spec.port })),
      ['postgres'],
    );
  await join_();
  return {
    nodes,
    superuserPassword,
    conninfo: (n) => `host=${n.spec.socketDir} port=${n.spec.port} user=postgres password=${conninfoValue(superuserPassword)} dbname=postgres`,
    query: (n, sql, params = []) =>
      withClient(config(n), async (c) => {
        await c.query('SET citus.override_table_visibility = off');
        return (await c.query(sql, params)).rows;
      }),
    addWorker: async () => {
      const node = await newNode(`worker-${nodes.length}`, 'worker');
      await join_();
      return node;
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
