// A cluster as pgwarden administers it: its nodes, an administrative connection to each,
// and the rules every writer follows (one cluster-wide change at a time; with Citus, role
// changes on the coordinator only). The embedded and the existing cluster provide it;
// the control plane, the reconciler and bootstrap use it.
import type pg from 'pg';
import { PgwardenError } from '../util/errors.js';

export interface AdminNode {
  readonly name: string;
  readonly kind: 'coordinator' | 'worker';
}

export interface ClusterAdmin {
  /** The coordinator first, then the workers. */
  readonly adminNodes: readonly AdminNode[];
  /** Runs `fn` on an administrative connection to `node` (database `postgres` unless given). */
  withAdmin<T>(node: AdminNode, fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T>;
  /** The node that listens at host:port, as Citus names it in pg_dist_node (for messages). */
  nodeAt?(host: string, port: number): AdminNode | undefined;
}

/** What happened on one node when a change was applied to every node. */
export interface NodeOutcome {
  readonly node: string;
  readonly ok: boolean;
  readonly error?: string;
}

/**
 * Applies `fn` to every worker, collecting each node's outcome instead of stopping at
 * the first failure (a worker that is down must not hide what happened elsewhere).
 */
export function onWorkers(admin: ClusterAdmin, fn: (client: pg.Client) => Promise<void>): Promise<NodeOutcome[]> {
  return forEachWorker(admin, (node) => admin.withAdmin(node, fn));
}

/**
 * Like onWorkers, for changes that need more than one connection per node. With Citus,
 * nothing is sent to the workers: Citus has already sent the coordinator's role
 * statements to every worker in the coordinator's own transaction (two-phase commit), so
 * that the change is on every node once it committed; sending them again from here would
 * race Citus (it forwards role statements run on a worker to every other node) and
 * deadlock. The reconciler's pass after the change repairs whatever Citus left out.
 */
export async function forEachWorker(admin: ClusterAdmin, fn: (node: AdminNode) => Promise<void>): Promise<NodeOutcome[]> {
  const workers = admin.adminNodes.filter((n) => n.kind === 'worker');
  const viaCitus = await admin.withAdmin(coordinatorOf(admin), (c) => citusWorkers(admin, c));
  return Promise.all(
    workers.map(async (node): Promise<NodeOutcome> => {
      if (viaCitus.has(node.name)) return { node: node.name, ok: true };
      try {
        await fn(node);
        return { node: node.name, ok: true };
      } catch (e) {
        return { node: node.name, ok: false, error: (e as Error).message };
      }
    }),
  );
}

export function coordinatorOf(admin: ClusterAdmin): AdminNode {
  const c = admin.adminNodes.find((n) => n.kind === 'coordinator');
  if (!c) throw new Error('the cluster has no coordinator');
  return c;
}

/** The advisory lock key of cluster-wide changes (any fixed 64-bit number; "pgwarden" in ASCII). */
const CLUSTER_CHANGE_LOCK = '0x7067776172640000';

/**
 * Runs `fn` as the only change to the whole cluster at that moment, across every
 * pgwarden process on the cluster: control-plane changes and reconciler passes hold this
 * advisory lock on the coordinator while they work, so that a pass never copies to the
 * workers a coordinator snapshot read before a change that is meanwhile applied to them
 * (it would bring back, for a moment, a role just dropped everywhere).
 */
export async function exclusively<T>(admin: ClusterAdmin, fn: () => Promise<T>): Promise<T> {
  return admin.withAdmin(coordinatorOf(admin), async (c) => {
    await c.query("SET lock_timeout = '60s'");
    await c.query(`SELECT pg_advisory_lock(${CLUSTER_CHANGE_LOCK}::bigint)`);
    try {
      return await fn();
    } catch (e) {
      throw citusNodeDown(admin, e) ?? e;
    } finally {
      await c.query(`SELECT pg_advisory_unlock(${CLUSTER_CHANGE_LOCK}::bigint)`).catch(() => undefined);
    }
  });
}

/**
 * The workers Citus carries the coordinator's role statements to: with Citus, those whose
 * own group (pg_dist_local_group) is active in the coordinator's metadata; without Citus,
 * none. Asked of each worker, not matched by address (pgwarden may reach a node by a
 * socket path where Citus uses a host name). A worker pgwarden lists and Citus does not
 * (not added yet, or removed), or that does not answer, is written to directly.
 */
async function citusWorkers(admin: ClusterAdmin, c: pg.Client): Promise<Set<string>> {
  if (!(await detectCitus(c))) return new Set();
  const r = await c.query<{ groupid: number }>("SELECT groupid FROM pg_dist_node WHERE isactive AND noderole = 'primary' AND groupid <> 0");
  const active = new Set(r.rows.map((x) => Number(x.groupid)));
  const workers = admin.adminNodes.filter((n) => n.kind === 'worker');
  const groups = await Promise.all(
    workers.map((n) =>
      admin
        .withAdmin(
          n,
          async (w) =>
            (await w.query<{ groupid: number }>("SELECT groupid FROM pg_dist_local_group WHERE to_regclass('pg_dist_local_group') IS NOT NULL")).rows[0]
              ?.groupid,
        )
        .catch(() => undefined),
    ),
  );
  return new Set(workers.filter((_, i) => groups[i] !== undefined && active.has(Number(groups[i]))).map((n) => n.name));
}

export async function detectCitus(c: pg.Client): Promise<boolean> {
  const r = await c.query("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus'");
  return (r.rowCount ?? 0) > 0;
}

/** "connection to the remote node postgres@127.0.0.1:9702 failed with the following error: ..." */
const CITUS_REMOTE_FAILURE = /connection to the remote node (?:.*@)?([^@\s]+):(\d+) failed/;

/**
 * Citus needs every node for a role change: when a worker cannot be reached, the
 * coordinator's statement fails. Says so, naming the node and what to do, instead of
 * Citus's connection error; `atomic` when the failed statement was part of one
 * transaction on the coordinator, so that nothing was changed anywhere.
 */
export function citusNodeDown(admin: ClusterAdmin, e: unknown, atomic = false): PgwardenError | undefined {
  const m = CITUS_REMOTE_FAILURE.exec((e as Error)?.message ?? '');
  if (!m || e instanceof PgwardenError) return undefined;
  const [host, port] = [m[1]!, Number(m[2])];
  const node = admin.nodeAt?.(host, port);
  const name = node ? `${node.name} (${host}:${port})` : `the node at ${host}:${port}`;
  return new PgwardenError(
    'NODE_UNAVAILABLE',
    atomic
      ? `${name} cannot be reached, and Citus makes this change on every node at once: nothing was changed. ` +
          'Start that node and try again (or remove it from the cluster with citus_remove_node).'
      : `${name} cannot be reached, and Citus needs every node for this change: it stopped there. ` +
          'Start that node and run it again (or remove the node from the cluster with citus_remove_node).',
    { cause: e },
  );
}
