// `pgwarden up --citus`: makes the embedded nodes one Citus cluster, as Citus's own
// guide does by hand: the extension on every node, the coordinator's address in its
// metadata, then each worker added. Idempotent: later starts find everything in place.
// https://docs.citusdata.com/en/stable/installation/multi_node.html
import type { AdminNode, ClusterAdmin } from './admin.js';

interface CitusNodeAddress {
  readonly node: AdminNode;
  /** Where the other nodes reach it. */
  readonly host: string;
  readonly port: number;
}

/** Citus's metadata is per database: each of `databases` (on every node) gets the
 * extension and its own list of nodes. */
export async function joinCitusCluster(admin: ClusterAdmin, nodes: readonly CitusNodeAddress[], databases: readonly string[]): Promise<void> {
  for (const db of databases) await joinInDatabase(admin, nodes, db);
}

async function joinInDatabase(admin: ClusterAdmin, nodes: readonly CitusNodeAddress[], database: string): Promise<void> {
  for (const { node } of nodes) await admin.withAdmin(node, (c) => c.query('CREATE EXTENSION IF NOT EXISTS citus').then(() => undefined), database);
  const coordinator = nodes.find((n) => n.node.kind === 'coordinator');
  if (!coordinator) throw new Error('a Citus cluster needs a coordinator');
  await admin.withAdmin(
    coordinator.node,
    async (c) => {
      const known = await c.query<{ nodeid: number; nodename: string; nodeport: number; groupid: number }>(
        'SELECT nodeid, nodename, nodeport, groupid FROM pg_dist_node',
      );
      const self = known.rows.find((r) => r.groupid === 0);
      if (!self) await c.query('SELECT citus_set_coordinator_host($1, $2)', [coordinator.host, coordinator.port]);
      else if (self.nodename !== coordinator.host || self.nodeport !== coordinator.port) {
        await c.query('SELECT citus_update_node($1, $2, $3)', [self.nodeid, coordinator.host, coordinator.port]);
      }
      for (const w of nodes.filter((n) => n.node.kind === 'worker')) {
        if (known.rows.some((r) => r.nodename === w.host && r.nodeport === w.port)) continue;
        // Copies every role, the metadata and the reference tables to the new worker.
        await c.query('SELECT citus_add_node($1, $2)', [w.host, w.port]);
      }
    },
    database,
  );
}
