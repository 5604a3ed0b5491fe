// `pgwarden cluster exec`: one statement on the chosen nodes of a plain-PostgreSQL
// cluster, as Citus's run_command_on_workers does, so that a user can create the same
// table everywhere. It runs as the caller's own role, signed in with the caller's own
// credentials (citus's password, or an Entra admin's derived password), never as the
// superuser: the statement has exactly the caller's privileges on every node.
import type { Cluster } from '../cluster/cluster.js';
import type { AdminNode } from '../cluster/admin.js';
import { PgwardenError } from '../util/errors.js';

export const EXEC_NODES = ['all', 'coordinator', 'workers'] as const;
export type ExecNodes = (typeof EXEC_NODES)[number];
/** Rows returned per node, at most; the count says how many there were. */
export const MAX_ROWS = 100;
export const MAX_SQL_BYTES = 64 * 1024;

export interface ExecResult {
  node: string;
  ok: boolean;
  command?: string;
  rowCount?: number;
  rows?: Array<Record<string, unknown>>;
  error?: string;
}

export async function clusterExec(cluster: Cluster, as: { user: string; password: string }, sql: string, nodes: ExecNodes): Promise<ExecResult[]> {
  if (sql.trim().length === 0) throw new PgwardenError('INVALID_INPUT', 'the statement is empty');
  if (Buffer.byteLength(sql) > MAX_SQL_BYTES) throw new PgwardenError('INVALID_INPUT', `the statement is longer than ${MAX_SQL_BYTES} bytes`);
  const chosen = cluster.adminNodes.filter((n) => nodes === 'all' || (nodes === 'coordinator' ? n.kind === 'coordinator' : n.kind === 'worker'));
  return Promise.all(chosen.map((node) => runOn(cluster, node, as, sql)));
}

async function runOn(cluster: Cluster, node: AdminNode, as: { user: string; password: string }, sql: string): Promise<ExecResult> {
  try {
    return await cluster.withRole(node, as.user, as.password, async (c) => {
      // Simple query protocol: a script of several statements runs as one, like psql -c.
      const res = await c.query(sql);
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      return {
        node: node.name,
        ok: true,
        command: last?.command ?? '',
        rowCount: last?.rowCount ?? 0,
        rows: (last?.rows ?? []).slice(0, MAX_ROWS),
      };
    });
  } catch (e) {
    return { node: node.name, ok: false, error: (e as Error).message };
  }
}
