// Privileges on objects that exist on both the coordinator and the worker, matched by
// name (schema-qualified; routines with their argument types). An object only on the
// coordinator is skipped (it is not the reconciler's to create); one only on the worker
// is left alone.
//
// Ownership is not propagated, and not fought: the owner's own privileges are implicit,
// so the owner is the OWNER placeholder on both sides, and entries naming either side's
// owner by name are left out (granting to the owner would only change the owner's own
// entry). A superuser's GRANT and REVOKE act as the object's owner, so grants by the
// owner need no SET ROLE; grants by anyone else are issued as that role, so that
// PostgreSQL records the same grantor.
// https://www.postgresql.org/docs/current/ddl-priv.html
import { quoteIdent } from '../util/sql.js';
import { deltaSql, deltaWords, diffAcl, type GrantTarget } from './acl.js';
import { PHASE, type Change } from './changes.js';
import { objectKey, OWNER, type AclEntry, type AclObject, type DatabaseCatalog, type SharedCatalog } from './model.js';
import type { RoleUniverse } from './universe.js';

export interface ObjectPlan {
  readonly changes: Change[];
  /** Objects the coordinator has and the worker lacks (skipped). */
  readonly skipped: number;
  /** Objects whose owner differs (informational: ownership is not propagated). */
  readonly ownerDiffers: string[];
}

function target(obj: AclObject): GrantTarget {
  const [a, b, c] = obj.parts as [string, string?, string?];
  switch (obj.kind) {
    case 'database':
      return { on: `ON DATABASE ${quoteIdent(a)}` };
    case 'schema':
      return { on: `ON SCHEMA ${quoteIdent(a)}` };
    case 'table':
      return { on: `ON TABLE ${quoteIdent(a)}.${quoteIdent(b!)}` };
    case 'sequence':
      return { on: `ON SEQUENCE ${quoteIdent(a)}.${quoteIdent(b!)}` };
    case 'column':
      return { on: `ON TABLE ${quoteIdent(a)}.${quoteIdent(b!)}`, columns: ` (${quoteIdent(c!)})` };
    // The argument list is format_type()'s rendering: PostgreSQL's own quoting of type names.
    case 'routine':
      return { on: `ON ROUTINE ${quoteIdent(a)}.${quoteIdent(b!)}(${c!})` };
  }
}

export function describeObject(obj: AclObject): string {
  return obj.kind === 'routine' ? `routine ${obj.parts[0]}.${obj.parts[1]}(${obj.parts[2]})` : `${obj.kind} ${obj.parts.join('.')}`;
}

/** Entries compared on this worker: roles that take part, and no entry that names an owner. */
function comparableEntries(acl: readonly AclEntry[], owners: ReadonlySet<string>, universe: RoleUniverse): AclEntry[] {
  return acl.filter((e) => universe.comparable(e.grantee) && universe.comparable(e.grantor) && !owners.has(e.grantee));
}

/** The changes that give `have` the coordinator's privileges `want`. */
export function planObject(want: AclObject, have: AclObject, universe: RoleUniverse, database: string | undefined): Change[] {
  // Equal text and an equal owner: equal rights, nothing to compare (most objects, most passes).
  if (want.raw === have.raw && (want.owner === have.owner || want.raw === null)) return [];
  const owners = new Set([want.owner, have.owner]);
  const deltas = diffAcl(comparableEntries(want.acl, owners, universe), comparableEntries(have.acl, owners, universe));
  const t = target(have);
  return deltas.map((d) => {
    const byOwner = d.grantor === OWNER;
    return {
      category: 'privilege' as const,
      phase: byOwner ? PHASE.privilegeByOwner : PHASE.privilegeByGrantee,
      ...(database !== undefined ? { database } : {}),
      sql: deltaSql(d, t, universe.sql(d.grantee, have.owner), byOwner ? undefined : universe.sql(d.grantor, have.owner)),
      describe:
        `${describeObject(have)}: ${deltaWords(d)} ` +
        `to "${universe.label(d.grantee, have.owner)}" ` +
        `as granted by "${universe.label(d.grantor, have.owner)}"`,
    };
  });
}

/** A column of `table` that holds no privileges (no ACL of its own). */
function bareColumn(table: AclObject, column: string): AclObject {
  return { kind: 'column', parts: [...table.parts, column], owner: table.owner, acl: [], raw: null };
}

/**
 * Pairs the coordinator's objects with the worker's. Columns exist as objects only where
 * they have an ACL; a column with an ACL on one side and none on the other is compared
 * with an empty one, if the column exists there.
 */
function planObjects(
  want: ReadonlyMap<string, AclObject>,
  have: ReadonlyMap<string, AclObject>,
  universe: RoleUniverse,
  database: string | undefined,
  columns?: { want: DatabaseCatalog; have: DatabaseCatalog },
): ObjectPlan {
  const changes: Change[] = [];
  const ownerDiffers: string[] = [];
  let skipped = 0;
  const column = (side: DatabaseCatalog, of: AclObject): AclObject | undefined => {
    const tableKey = objectKey('table', of.parts.slice(0, 2));
    const table = side.objects.get(tableKey);
    return table && side.columns.get(tableKey)?.has(of.parts[2]!) ? bareColumn(table, of.parts[2]!) : undefined;
  };
  for (const [key, w] of want) {
    const h = have.get(key) ?? (w.kind === 'column' && columns ? column(columns.have, w) : undefined);
    if (!h) {
      skipped++;
      continue;
    }
    if (w.owner !== h.owner && w.kind !== 'column') ownerDiffers.push(describeObject(w));
    changes.push(...planObject(w, h, universe, database));
  }
  if (columns) {
    for (const [key, h] of have) {
      if (h.kind !== 'column' || want.has(key)) continue;
      const w = column(columns.want, h);
      if (w) changes.push(...planObject(w, h, universe, database));
    }
  }
  return { changes, skipped, ownerDiffers };
}

/** Database privileges (shared catalog: any connection will do). */
export function planDatabasePrivileges(coordinator: SharedCatalog, worker: SharedCatalog, universe: RoleUniverse): ObjectPlan {
  return planObjects(coordinator.databases, worker.databases, universe, undefined);
}

/** Schema, relation, column and routine privileges in one database. */
export function planDatabaseObjects(coordinator: DatabaseCatalog, worker: DatabaseCatalog, universe: RoleUniverse): ObjectPlan {
  return planObjects(coordinator.objects, worker.objects, universe, worker.database, { want: coordinator, have: worker });
}
