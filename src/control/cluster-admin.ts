// The control plane's view of a cluster: its nodes and an administrative connection to
// each. The embedded cluster provides it today; an existing cluster will too.
import type pg from 'pg';

export interface AdminNode {
  readonly name: string;
  readonly kind: 'coordinator' | 'worker';
}

export interface ClusterAdmin {
  /** The coordinator first, then the workers. */
  readonly adminNodes: readonly AdminNode[];
  /** Runs `fn` on an administrative connection to `node` (database `postgres` unless given). */
  withAdmin<T>(node: AdminNode, fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T>;
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

/** Like onWorkers, for changes that need more than one connection per node. */
export async function forEachWorker(admin: ClusterAdmin, fn: (node: AdminNode) => Promise<void>): Promise<NodeOutcome[]> {
  const workers = admin.adminNodes.filter((n) => n.kind === 'worker');
  return Promise.all(
    workers.map(async (node): Promise<NodeOutcome> => {
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
    } finally {
      await c.query(`SELECT pg_advisory_unlock(${CLUSTER_CHANGE_LOCK}::bigint)`).catch(() => undefined);
    }
  });
}
