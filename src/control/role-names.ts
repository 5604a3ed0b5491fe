// Which names a role may have, as in the managed service: 1 to 63 bytes, not starting
// with pg_, not reserved; case-sensitive; spaces, quotes and @ allowed.
import { CITUS_ROLE, isReservedRole } from '../catalog/roles.js';
import { PgwardenError } from '../util/errors.js';
import { MAX_IDENTIFIER_BYTES } from '../util/sql.js';

/** Names PostgreSQL itself refuses as role names (CREATE ROLE "public" is an error). */
const POSTGRES_RESERVED = ['public', 'none', 'current_user', 'session_user', 'current_role'];

export function checkRoleName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new PgwardenError('INVALID_INPUT', 'a role name is required');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new PgwardenError('INVALID_INPUT', `role name is ${bytes} bytes long; at most ${MAX_IDENTIFIER_BYTES} bytes are allowed`);
  }
  if (/[\0]/.test(name)) throw new PgwardenError('INVALID_INPUT', 'a role name cannot contain a NUL character');
  if (name.startsWith('pg_')) throw new PgwardenError('INVALID_INPUT', `role name "${name}" is reserved: names starting with "pg_" belong to PostgreSQL`);
  if (POSTGRES_RESERVED.includes(name.toLowerCase()) || isReservedRole(name) || name === CITUS_ROLE) {
    throw new PgwardenError('INVALID_INPUT', `role name "${name}" is reserved`);
  }
  return name;
}
