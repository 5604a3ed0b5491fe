// Role memberships, PostgreSQL 16+: one grant per (role, member, grantor), each with its
// ADMIN, INHERIT and SET options. GRANT ... WITH sets all three on an existing grant, so
// one statement both adds a membership and corrects its options.
// https://www.postgresql.org/docs/current/sql-grant.html (GRANT on Roles)
import { quoteIdent } from '../util/sql.js';
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
    changes.push({
      category: 'membership',
      phase: w.grantor === BOOTSTRAP ? PHASE.membershipBySuperuser : PHASE.membershipByRole,
      sql: `GRANT ${quoteIdent(w.role)} TO ${quoteIdent(w.member)} WITH ADMIN ${bool(w.admin)}, INHERIT ${bool(w.inherit)}, SET ${bool(w.set)} GRANTED BY ${universe.sql(w.grantor)}`,
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
