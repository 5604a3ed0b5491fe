// Roles and their attributes. A missing role is created, a different attribute is set,
// and the verifier is copied byte for byte: PostgreSQL stores a string that is already
// a SCRAM-SHA-256 verifier as it is, so every node checks the same password with the
// same salt, and no plaintext password is ever needed.
// https://www.postgresql.org/docs/current/sql-alterrole.html
import { quoteIdent, quoteLiteral } from '../util/sql.js';
import { PHASE, type Change } from './changes.js';
import type { RoleRow, SharedCatalog } from './model.js';
import type { RoleUniverse } from './universe.js';

const FLAGS: ReadonlyArray<[keyof RoleRow, string, string]> = [
  ['superuser', 'SUPERUSER', 'NOSUPERUSER'],
  ['inherit', 'INHERIT', 'NOINHERIT'],
  ['createRole', 'CREATEROLE', 'NOCREATEROLE'],
  ['createDb', 'CREATEDB', 'NOCREATEDB'],
  ['login', 'LOGIN', 'NOLOGIN'],
  ['replication', 'REPLICATION', 'NOREPLICATION'],
  ['bypassRls', 'BYPASSRLS', 'NOBYPASSRLS'],
];

/** The attribute clauses that make `have` (undefined: a new role) look like `want`. */
export function attributeClauses(want: RoleRow, have: RoleRow | undefined): string[] {
  const out: string[] = [];
  for (const [field, yes, no] of FLAGS) {
    if (have === undefined || have[field] !== want[field]) out.push(want[field] ? yes : no);
  }
  if (have === undefined || have.connectionLimit !== want.connectionLimit) {
    if (!Number.isInteger(want.connectionLimit)) throw new RangeError('a connection limit is a whole number');
    out.push(`CONNECTION LIMIT ${want.connectionLimit}`);
  }
  if (have === undefined ? want.validUntil !== null : have.validUntil !== want.validUntil) {
    out.push(`VALID UNTIL ${quoteLiteral(want.validUntil ?? 'infinity')}`);
  }
  return out;
}

export function planRoles(coordinator: SharedCatalog, worker: SharedCatalog, universe: RoleUniverse): Change[] {
  const changes: Change[] = [];
  for (const name of universe.managed) {
    const want = coordinator.roles.get(name)!;
    const have = worker.roles.get(name);
    const role = quoteIdent(name);
    if (have === undefined) {
      changes.push({ category: 'role', phase: PHASE.createRole, sql: `CREATE ROLE ${role}`, describe: `create role "${name}"` });
    }
    const clauses = attributeClauses(want, have);
    if (clauses.length > 0) {
      changes.push({
        category: 'role',
        phase: PHASE.alterRole,
        sql: `ALTER ROLE ${role} ${clauses.join(' ')}`,
        describe: `role "${name}": ${clauses.join(' ')}`,
      });
    }
    if ((have?.password ?? null) !== want.password) {
      changes.push({
        category: 'role',
        phase: PHASE.alterRole,
        sql: `ALTER ROLE ${role} PASSWORD ${want.password === null ? 'NULL' : quoteLiteral(want.password)}`,
        describe: `role "${name}": ${want.password === null ? 'remove the password' : 'copy the password verifier'}`,
        secret: true,
      });
    }
  }
  return changes;
}
