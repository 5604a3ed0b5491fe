// The databases pgwarden looks after: the one its own schema is in (the admin
// connection's, `postgres` on an embedded cluster) and the service's database `citus`,
// as in the managed service, whose connection strings read `dbname=citus user=citus`.
// pgwarden creates `citus` in the clusters it starts; on an existing cluster it looks
// after `citus` only if the operator made it.
import type pg from 'pg';

/** The managed service's database (`psql` as `citus` without a dbname lands here). */
export const SERVICE_DATABASE = 'citus';

/**
 * The managed databases that exist on the node `c` is connected to: its own database
 * first, then the service's database if it exists and takes connections.
 */
export async function managedDatabases(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ datname: string }>(
    `SELECT datname FROM pg_database
      WHERE datname = current_database() OR (datname = $1 AND datallowconn AND NOT datistemplate)
      ORDER BY datname = current_database() DESC`,
    [SERVICE_DATABASE],
  );
  return r.rows.map((row) => row.datname);
}
