// Reading aclitem[] columns. aclexplode() turns an ACL into one row per privilege with
// OIDs, which this file turns into names; that avoids parsing aclitem's text form (its
// quoting of names is its own). A NULL ACL means "the built-in default for the owner",
// which is not the same as an empty one ('{}', nothing granted at all).
// https://www.postgresql.org/docs/current/functions-info.html#FUNCTIONS-ACLITEM-FN-TABLE
import { BOOTSTRAP, OWNER, PUBLIC, type AclEntry } from './model.js';

/** OID of the bootstrap superuser: fixed by initdb. */
export const BOOTSTRAP_SUPERUSER_OID = 10;

/** SQL that renders an aclitem[] column as JSON [[grantor, grantee, privilege, grantable], ...],
 * NULL for a NULL ACL and [] for an empty one. `column` is one of this module's own column
 * expressions, never user input. */
export function aclJsonSql(column: string): string {
  return `CASE WHEN ${column} IS NULL THEN NULL ELSE coalesce((SELECT json_agg(json_build_array(x.grantor::int8, x.grantee::int8, x.privilege_type, x.is_grantable)) FROM aclexplode(${column}) x), '[]'::json) END`;
}

export type RawAcl = Array<[number, number, string, boolean]> | null;

/** Names roles by OID on one node. */
export type RoleNames = ReadonlyMap<number, string>;

/** The name to record for `oid`: OWNER for the owner, BOOTSTRAP for OID 10, PUBLIC for 0;
 * undefined for an OID that names no role (dropped meanwhile). */
export function roleRef(oid: number, ownerOid: number | undefined, names: RoleNames): string | undefined {
  if (oid === 0) return PUBLIC;
  if (oid === ownerOid) return OWNER;
  if (oid === BOOTSTRAP_SUPERUSER_OID) return BOOTSTRAP;
  return names.get(oid);
}

/** The owner's name as recorded in AclObject.owner. */
export function ownerName(oid: number, names: RoleNames): string {
  return oid === BOOTSTRAP_SUPERUSER_OID ? BOOTSTRAP : (names.get(oid) ?? `#${oid}`);
}

/**
 * Normalised entries of a raw ACL: `builtIn` stands in for NULL. Entries naming a role
 * that no longer exists are dropped (a concurrent DROP ROLE; the next pass sees it settled).
 */
export function normaliseAcl(raw: RawAcl, ownerOid: number, names: RoleNames, builtIn: readonly AclEntry[]): AclEntry[] {
  if (raw === null) return [...builtIn];
  const out: AclEntry[] = [];
  for (const [grantor, grantee, privilege, grantable] of raw) {
    const g = roleRef(grantee, ownerOid, names);
    const r = roleRef(grantor, ownerOid, names);
    if (g !== undefined && r !== undefined) out.push({ grantee: g, grantor: r, privilege, grantable });
  }
  return out;
}
