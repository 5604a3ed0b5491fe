// Citus mode. When the coordinator has the citus extension, Citus itself propagates
// roles, their attributes and passwords, memberships and GRANTs on distributed objects
// to the workers, inside the coordinator's transaction. The reconciler then finds little
// to do, and repairs what Citus leaves out (ALTER DEFAULT PRIVILEGES, ALTER ROLE ... SET
// where not propagated, anything changed on a worker by hand, a worker that missed a
// change). It writes on a worker with Citus's propagation switched off for its session:
// otherwise Citus would refuse the statement there ("operation is not allowed on this
// node") or send it on to the other nodes, racing itself.
// https://docs.citusdata.com/en/stable/develop/api_guc.html

/**
 * Settings of every reconciler session: what it writes stays on the node it writes to
 * (Citus propagates nothing from it), and it sees shard placements as tables. Harmless
 * on a server without Citus: PostgreSQL keeps unknown `citus.*` settings as placeholders.
 */
export const CITUS_SESSION = [
  // Shard placements are tables like any other to the reconciler (plan-shards.ts).
  'SET citus.override_table_visibility = off',
  'SET citus.enable_ddl_propagation = off',
  'SET citus.enable_create_role_propagation = off',
  'SET citus.enable_alter_role_propagation = off',
  'SET citus.enable_alter_role_set_propagation = off',
];
