// Shared by the reconciler's tests: a reconciler on a test cluster, its logs kept in
// memory (to prove that no secret reaches them), and waits on catalog snapshots.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { EmbeddedCluster } from '../../src/cluster/embedded.js';
import type { PostgresNode } from '../../src/cluster/node.js';
import { installReconcileSchema, Reconciler, type NodeSyncState, type ReconcilerOptions } from '../../src/reconcile/index.js';
import { quoteIdent } from '../../src/util/sql.js';
import { waitFor } from '../helpers/pgwarden.js';
import { catalogSnapshot, snapshotDiff, type CatalogSnapshot } from './catalog-snapshot.js';

export interface TestReconciler {
  readonly reconciler: Reconciler;
  /** Every log line written so far (JSON). */
  readonly logs: string[];
  /** Every state change of every worker, in order. */
  readonly transitions: NodeSyncState[];
}

export async function startReconciler(cluster: EmbeddedCluster, options: Partial<ReconcilerOptions> = {}): Promise<TestReconciler> {
  await cluster.withSuperuser(cluster.coordinator, installReconcileSchema);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const reconciler = new Reconciler({ admin: cluster, log: pino({ level: 'debug' }, sink), ...options });
  const transitions: NodeSyncState[] = [];
  reconciler.onStateChange((s) => transitions.push(s));
  void reconciler.start();
  return { reconciler, logs, transitions };
}

export function snapshot(cluster: EmbeddedCluster, node: PostgresNode, database?: string): Promise<CatalogSnapshot> {
  return cluster.withSuperuser(node, catalogSnapshot, database);
}

/** The differences between the coordinator and each worker ([] when all match). */
export async function differences(cluster: EmbeddedCluster, workers: readonly PostgresNode[] = cluster.workers, database?: string): Promise<string[]> {
  const want = await snapshot(cluster, cluster.coordinator, database);
  const out: string[] = [];
  for (const w of workers) {
    try {
      for (const d of snapshotDiff(want, await snapshot(cluster, w, database))) out.push(`${w.name}: ${d}`);
    } catch (e) {
      out.push(`${w.name}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Waits until every given worker matches the coordinator; fails with what still differs. */
export async function waitForConvergence(cluster: EmbeddedCluster, timeoutMs = 10_000, workers: readonly PostgresNode[] = cluster.workers): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(async () => (last = await differences(cluster, workers)).length === 0, timeoutMs, 'the workers to match the coordinator');
  } catch (e) {
    throw new Error(`${(e as Error).message}:\n${last.join('\n')}`);
  }
}

/** Runs `sql` on `node` as the superuser. */
export async function sql(
  cluster: EmbeddedCluster,
  node: PostgresNode,
  text: string,
  params: unknown[] = [],
  database?: string,
): Promise<Array<Record<string, unknown>>> {
  return cluster.withSuperuser(node, async (c) => (await c.query(text, params)).rows, database);
}

/** Runs `text` on `nodes` (default: every node) as `role`, so that objects have the same owner everywhere. */
export async function asRole(cluster: EmbeddedCluster, text: string, role = 'citus', nodes: readonly PostgresNode[] = cluster.nodes): Promise<void> {
  for (const node of nodes) {
    await cluster.withSuperuser(node, async (c) => {
      await c.query(`SET ROLE ${quoteIdent(role)}`);
      await c.query(text);
    });
  }
}
