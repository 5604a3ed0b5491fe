// Role memberships, PostgreSQL 16+: one grant per (role, member, grantor), each with its
// ADMIN, INHERIT and SET options. GRANT ... WITH sets all three on an existing grant, so
// one statement both adds a membership and corrects its options.
// https://www.postgresql.org/docs/current/sql-grant.html (GRANT on Roles)
import { quoteIdent, quoteLiteral } from '../util/sql.js';
import { PHASE, type Change } from './changes.js';
import { BOOTSTRAP, type MembershipRow, type SharedCatalog } from './model.js';
import type { RoleUniverse } from './universe.js';

const key = (m: MembershipRow): string => `${m.role}\0${m.member}\0${m.grantor}`;
const bool = (b: boolean): string => (b ? 'TRUE' : 'FALSE');

export function planMemberships(coordinator: SharedCatalog, worker: SharedCatalog, universe: RoleUniverse): Change[] {
  const inScope = (m: MembershipRow, members: ReadonlySet<string>[]): boolean =>
    members.some((s) => s.has(m.member)) && universe.comparable(m.role) && universe.comparable(m.grantor);
  const want = new Map(coordinator.memberships.filter((m) => inScope(m, [universe.managed])).map((m) => [key(m), m]));
  const have = new Map(worker.memberships.filter((m) => inScope(m, [universe.managed, universe.vanished])).map((m) => [key(m), m]));
  const changes: Change[] = [];
  for (const [k, w] of want) {
    const h = have.get(k);
    if (h && h.admin === w.admin && h.inherit === w.inherit && h.set === w.set) continue;
    const grant =
      `GRANT ${quoteIdent(w.role)} TO ${quoteIdent(w.member)} ` +
      `WITH ADMIN ${bool(w.admin)}, INHERIT ${bool(w.inherit)}, SET ${bool(w.set)} GRANTED BY ${universe.sql(w.grantor)}`;
    changes.push({
      category: 'membership',
      phase: w.grantor === BOOTSTRAP ? PHASE.membershipBySuperuser : PHASE.membershipByRole,
      sql: w.grantor === BOOTSTRAP ? grant : grantAsFormerAdmin(grant, w, universe),
      describe: `grant role "${w.role}" to "${w.member}" (admin ${w.admin}, inherit ${w.inherit}, set ${w.set}) as granted by "${universe.label(w.grantor)}"`,
    });
  }
  for (const [k, h] of have) {
    if (want.has(k)) continue;
    changes.push({
      category: 'membership',
      phase: PHASE.membershipBySuperuser,
      sql: `REVOKE ${quoteIdent(h.role)} FROM ${quoteIdent(h.member)} GRANTED BY ${universe.sql(h.grantor)} CASCADE`,
      describe: `revoke role "${h.role}" from "${h.member}" as granted by "${universe.label(h.grantor)}"`,
    });
  }
  return changes;
}

/**
 * A grant recorded as made by a role that no longer holds ADMIN on the granted role:
 * PostgreSQL keeps such grants when the grantor's ADMIN is taken back with
 * `GRANT r TO g WITH ADMIN FALSE`, but will not create one. To copy it, the grantor's
 * own membership (granted by the bootstrap superuser) gets ADMIN for the length of the
 * statement, and then its options back. If the grantor has no such membership, the grant
 * fails as it would have, and the pass reports it.
 */
function grantAsFormerAdmin(grant: string, w: MembershipRow, universe: RoleUniverse): string {
  const role = quoteLiteral(w.role);
  const grantor = quoteLiteral(universe.label(w.grantor));
  const bootstrap = quoteLiteral(universe.label(BOOTSTRAP));
  const regrant = (admin: 'TRUE' | 'FALSE') =>
    `EXECUTE format('GRANT %I TO %I WITH ADMIN ${admin}, INHERIT %s, SET %s GRANTED BY %I', ${role}, ${grantor}, ` +
    "CASE WHEN prev.inherit_option THEN 'TRUE' ELSE 'FALSE' END, CASE WHEN prev.set_option THEN 'TRUE' ELSE 'FALSE' END, " +
    `${bootstrap});`;
  return `DO $pgwarden$
DECLARE prev record;
BEGIN
  BEGIN
    ${grant};
    RETURN;
  EXCEPTION WHEN insufficient_privilege THEN
    SELECT a.inherit_option, a.set_option INTO prev FROM pg_catalog.pg_auth_members a
     WHERE a.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ${role})
       AND a.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ${grantor})
       AND a.grantor = 10 AND NOT a.admin_option;
    IF NOT FOUND THEN RAISE; END IF;
  END;
  ${regrant('TRUE')}
  ${grant};
  ${regrant('FALSE')}
END
$pgwarden$`;
}
