// How the control plane changes the cluster: on the coordinator in one transaction
// (rolled back, with PostgreSQL's own error, if any step fails), then on each worker,
// each outcome kept (src/cluster/admin.ts forEachWorker: with Citus, Citus has already
// carried the coordinator's statements to every worker). Callers hold the cluster change
// lock (exclusively()).
import type pg from 'pg';
import { citusNodeDown, coordinatorOf, onWorkers, type ClusterAdmin, type NodeOutcome } from '../cluster/admin.js';

export interface ChangeResult<T> {
  readonly value: T;
  /** What happened on each worker (the coordinator's change is the transaction itself). */
  readonly workers: NodeOutcome[];
}

/** Runs `fn` in a transaction on `c`: committed if it returns, rolled back if it throws. */
async function inTransaction<T>(c: pg.Client, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const v = await fn(c);
    await c.query('COMMIT');
    return v;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** Runs `fn` in a transaction on the coordinator. With Citus, a worker that cannot be
 * reached fails it whole: the error says so, and that nothing was changed. */
export async function onCoordinator<T>(admin: ClusterAdmin, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await admin.withAdmin(coordinatorOf(admin), (c) => inTransaction(c, fn));
  } catch (e) {
    throw citusNodeDown(admin, e, true) ?? e;
  }
}

/** The coordinator's part in a transaction, then `onEachWorker` on every worker. */
export async function changeCluster<T>(
  admin: ClusterAdmin,
  coordinatorPart: (c: pg.Client) => Promise<T>,
  onEachWorker: (c: pg.Client) => Promise<void>,
): Promise<ChangeResult<T>> {
  const value = await onCoordinator(admin, coordinatorPart);
  return { value, workers: await onWorkers(admin, onEachWorker) };
}
