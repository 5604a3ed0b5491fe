// Dropping, on a worker, a role the reconciler propagated and the coordinator no longer
// has. By the time this runs, the pass has already revoked what the coordinator does
// not grant it, so DROP ROLE usually just works. If the role still owns objects on the
// worker (or holds privileges in a database the coordinator lacks), its objects go to
// the worker's bootstrap superuser and the rest goes (REASSIGN OWNED, DROP OWNED in every
// database), but only after a grace period: the control plane, which knows whom the
// objects should go to, releases them itself right after it drops the role on the
// coordinator, and must not be raced.
// https://www.postgresql.org/docs/current/role-removal.html
import type { AdminNode, ClusterAdmin } from '../cluster/admin.js';
import { quoteIdent } from '../util/sql.js';
import { withSession } from './session.js';

export interface DropOutcome {
  readonly role: string;
  readonly dropped: boolean;
  /** What happened, secret-free (for the report). */
  readonly note?: string;
  readonly error?: string;
}

const DEPENDENT_OBJECTS = '2BP01';

export async function dropVanishedRole(
  admin: ClusterAdmin,
  node: AdminNode,
  role: string,
  databases: readonly string[],
  mayReassign: boolean,
): Promise<DropOutcome> {
  const name = quoteIdent(role);
  const first = await withSession(admin, node, async (c) => {
    try {
      await c.query(`DROP ROLE IF EXISTS ${name}`);
      return { ok: true as const, bootstrap: '' };
    } catch (e) {
      if ((e as { code?: string }).code !== DEPENDENT_OBJECTS) return { ok: false as const, error: (e as Error).message, bootstrap: '' };
      const b = await c.query<{ rolname: string }>('SELECT rolname FROM pg_authid WHERE oid = 10');
      return { ok: false as const, dependents: true, bootstrap: b.rows[0]!.rolname, error: (e as Error).message };
    }
  });
  if (first.ok) return { role, dropped: true };
  if (!('dependents' in first)) return { role, dropped: false, error: first.error };
  if (!mayReassign) {
    return {
      role,
      dropped: false,
      note: `still owns objects or holds privileges on ${node.name}; they go to "${first.bootstrap}" once the grace period is over`,
    };
  }
  for (const db of databases) {
    await withSession(
      admin,
      node,
      async (c) => {
        await c.query(`REASSIGN OWNED BY ${name} TO ${quoteIdent(first.bootstrap)}`);
        await c.query(`DROP OWNED BY ${name}`);
      },
      db,
    );
  }
  await withSession(admin, node, (c) => c.query(`DROP ROLE IF EXISTS ${name}`));
  return { role, dropped: true, note: `what it owned on ${node.name} now belongs to "${first.bootstrap}"` };
}
