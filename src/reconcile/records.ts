// The coordinator's record of propagated roles (pgwarden.propagated_roles, see schema.ts).
// Every managed role of the coordinator counts as propagated, including those the
// control plane created on the workers itself: they all exist on the coordinator.
import type pg from 'pg';

export interface RecordedRole {
  readonly name: string;
  /** How long ago (coordinator clock) the reconciler first saw it gone from the
   * coordinator, in milliseconds; null while it exists. */
  readonly vanishedForMs: number | null;
}

/**
 * Brings the record up to date with the coordinator's managed roles and returns it:
 * new roles are added, roles that came back lose their vanished_at, roles gone from
 * the coordinator get one (once).
 */
export async function updateRecord(c: pg.Client, managed: ReadonlySet<string>, allRoles: ReadonlySet<string>): Promise<Map<string, RecordedRole>> {
  const names = [...managed];
  await c.query('INSERT INTO pgwarden.propagated_roles (role_name) SELECT unnest($1::text[]) ON CONFLICT (role_name) DO NOTHING', [names]);
  await c.query('UPDATE pgwarden.propagated_roles SET vanished_at = NULL WHERE vanished_at IS NOT NULL AND role_name = ANY($1::text[])', [[...allRoles]]);
  await c.query('UPDATE pgwarden.propagated_roles SET vanished_at = now() WHERE vanished_at IS NULL AND role_name <> ALL($1::text[])', [[...allRoles]]);
  const r = await c.query<{ role_name: string; vanished_for_ms: number | null }>(
    'SELECT role_name, (extract(epoch FROM clock_timestamp() - vanished_at) * 1000)::float8 AS vanished_for_ms FROM pgwarden.propagated_roles',
  );
  return new Map(r.rows.map((x) => [x.role_name, { name: x.role_name, vanishedForMs: x.vanished_for_ms }]));
}

/** Forgets vanished roles that no worker has any more. */
export async function forgetRoles(c: pg.Client, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await c.query('DELETE FROM pgwarden.propagated_roles WHERE vanished_at IS NOT NULL AND role_name = ANY($1::text[])', [names]);
}
