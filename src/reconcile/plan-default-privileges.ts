// ALTER DEFAULT PRIVILEGES: pg_default_acl, per role, everywhere (schema '') or in one
// schema. A global entry replaces the built-in default, and PostgreSQL deletes it when
// it becomes equal to that default again, so a missing global entry is compared as the
// built-in default; a missing per-schema entry as nothing granted.
// https://www.postgresql.org/docs/current/sql-alterdefaultprivileges.html
import { quoteIdent } from '../util/sql.js';
import { deltaSql, deltaWords, diffAcl, type GrantTarget } from './acl.js';
import { PHASE, type Change } from './changes.js';
import { DEFAULT_ACL_KIND, objectKey, type AclEntry, type DatabaseCatalog, type DefaultAclRow, type SharedCatalog } from './model.js';
import type { RoleUniverse } from './universe.js';

/** pg_default_acl.defaclobjtype -> the words of ALTER DEFAULT PRIVILEGES. */
const OBJECT_WORDS: Readonly<Record<string, string>> = { r: 'TABLES', S: 'SEQUENCES', f: 'ROUTINES', T: 'TYPES', n: 'SCHEMAS', L: 'LARGE OBJECTS' };

export function planDefaultPrivileges(
  coordinatorShared: SharedCatalog,
  coordinator: DatabaseCatalog,
  worker: DatabaseCatalog,
  universe: RoleUniverse,
): Change[] {
  const schemaOnBoth = (s: string): boolean => s === '' || (coordinator.objects.has(objectKey('schema', [s])) && worker.objects.has(objectKey('schema', [s])));
  const usable = (r: DefaultAclRow): boolean => OBJECT_WORDS[r.objectType] !== undefined && universe.comparable(r.role) && schemaOnBoth(r.schema);
  const keys = new Set([...coordinator.defaultAcls.keys(), ...worker.defaultAcls.keys()]);
  const changes: Change[] = [];
  for (const key of keys) {
    const w = coordinator.defaultAcls.get(key);
    const h = worker.defaultAcls.get(key);
    const row = (w ?? h)!;
    if (!usable(row)) continue;
    const implicit: readonly AclEntry[] = row.schema === '' ? (coordinatorShared.builtInAcl.get(DEFAULT_ACL_KIND[row.objectType]!) ?? []) : [];
    const keep = (acl: readonly AclEntry[]): AclEntry[] => acl.filter((e) => universe.comparable(e.grantee) && universe.comparable(e.grantor));
    const deltas = diffAcl(keep(w?.acl ?? implicit), keep(h?.acl ?? implicit));
    const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${universe.sql(row.role)} ${row.schema ? `IN SCHEMA ${quoteIdent(row.schema)} ` : ''}`;
    const t: GrantTarget = { prefix, on: `ON ${OBJECT_WORDS[row.objectType]}` };
    const where = row.schema ? ` in schema ${row.schema}` : '';
    for (const d of deltas) {
      changes.push({
        category: 'default-privilege',
        phase: PHASE.defaultPrivilege,
        database: worker.database,
        sql: deltaSql(d, t, universe.sql(d.grantee, row.role)),
        describe:
          `default privileges of "${universe.label(row.role)}" on ${OBJECT_WORDS[row.objectType]!.toLowerCase()}${where}: ` +
          `${deltaWords(d)} to "${universe.label(d.grantee, row.role)}"`,
      });
    }
  }
  return changes;
}
