// The roles pgwarden itself defines, and the one rule for names that belong to
// PostgreSQL or to pgwarden: never a user's role, never managed through pgwarden, never
// signed in to through the gateway.
import { quoteLiteral } from '../util/sql.js';

/** The built-in privileged role, as in the managed service. */
export const CITUS_ROLE = 'citus';
/** Holds the privileges that `citus` and Entra admins share. Cannot sign in. */
export const ADMIN_GROUP_ROLE = 'pgwarden_admin';
/** The gateway's own role on the coordinator: it may only read role secrets. */
export const GATEWAY_ROLE = 'pgwarden_gateway';
/** Connections one gateway holds to the coordinator as GATEWAY_ROLE, at most: catalog
 * reads, audit writes, and the catalog watch's LISTEN. */
export const GATEWAY_CONNECTIONS = { reads: 4, writes: 2, listen: 1 } as const;
/** Connection slots the embedded coordinator keeps for GATEWAY_ROLE (reserved_connections,
 * with pg_use_reserved_connections): a coordinator full of client sessions still answers
 * the gateway's lookups, so that a sign-in is told "wrong password" or "overloaded", not
 * "unreachable". One more than it uses, for a connection being replaced. */
export const GATEWAY_RESERVED_CONNECTIONS = GATEWAY_CONNECTIONS.reads + GATEWAY_CONNECTIONS.writes + GATEWAY_CONNECTIONS.listen + 1;
/** The bootstrap superuser; never reachable through the gateway. */
export const SUPERUSER_ROLE = 'postgres';

/** Roles that pgwarden keeps for itself (with every pg_* and pgwarden_* name). */
export const RESERVED_ROLES: readonly string[] = [SUPERUSER_ROLE, GATEWAY_ROLE, ADMIN_GROUP_ROLE];

/** True for PostgreSQL's roles (pg_*), pgwarden's (pgwarden_*) and the bootstrap superuser. */
export function isReservedRole(name: string): boolean {
  return name.startsWith('pg_') || name.startsWith('pgwarden_') || RESERVED_ROLES.includes(name);
}

/** The same rule in SQL, over the text expression `column` (LIKE patterns escape `_`). */
export function reservedRoleSql(column: string): string {
  return `(${column} LIKE 'pg\\_%' OR ${column} LIKE 'pgwarden\\_%' OR ${column} = ANY(ARRAY[${RESERVED_ROLES.map(quoteLiteral).join(', ')}]::text[]))`;
}
