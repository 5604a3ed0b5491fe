// The role statements pgwarden runs itself (bootstrap, the control plane), in one place:
// identifiers quoted by the one helper, passwords only ever as SCRAM verifiers (so that
// nothing in PostgreSQL's logs or statistics can reveal one), and PostgreSQL's "owns
// objects" refusal turned into pgwarden's error with the reason.
import type pg from 'pg';
import { PgwardenError } from '../util/errors.js';
import { quoteIdent, quoteLiteral } from '../util/sql.js';

const NOTHING_ELSE = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';

/** A role that signs in, with no other power: native roles, Entra principals, citus. */
export const LOGIN_ROLE = `LOGIN INHERIT ${NOTHING_ELSE}`;
/** A role that cannot sign in: pgwarden_admin, and citus when Entra is the only method. */
export const NOLOGIN_ROLE = `NOLOGIN INHERIT ${NOTHING_ELSE}`;
/** The gateway's own role: signs in, inherits nothing. */
export const GATEWAY_ROLE_ATTRIBUTES = `LOGIN NOINHERIT ${NOTHING_ELSE}`;

export async function roleExists(c: pg.Client, name: string): Promise<boolean> {
  return ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount ?? 0) > 0;
}

/**
 * Creates `name` if missing and gives it `attributes`, and `verifier` as its password
 * when given and not already its own (so that its salt, and every node's copy, stay).
 */
export async function ensureRole(c: pg.Client, name: string, attributes: string, verifier?: string): Promise<void> {
  const existing = await c.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [name]);
  if (existing.rowCount === 0) await c.query(`CREATE ROLE ${quoteIdent(name)}`);
  const password = verifier !== undefined && existing.rows[0]?.rolpassword !== verifier ? ` PASSWORD ${quoteLiteral(verifier)}` : '';
  await c.query(`ALTER ROLE ${quoteIdent(name)} ${attributes}${password}`);
}

export async function setPassword(c: pg.Client, name: string, verifier: string): Promise<void> {
  await c.query(`ALTER ROLE ${quoteIdent(name)} PASSWORD ${quoteLiteral(verifier)}`);
}

/** DROP ROLE IF EXISTS; refused with ROLE_IN_USE, naming what it owns, while it owns objects or holds privileges. */
export async function dropRole(c: pg.Client, name: string, hint = ''): Promise<void> {
  try {
    await c.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
  } catch (e) {
    throw roleInUse(e, name, hint) ?? e;
  }
}

/** PostgreSQL's "role cannot be dropped because some objects depend on it" (2BP01) as pgwarden's error. */
export function roleInUse(e: unknown, name: string, hint = ''): PgwardenError | undefined {
  const err = e as { code?: string; detail?: string };
  if (err.code !== '2BP01') return undefined;
  const what = (err.detail ?? 'see the detail').split('\n').slice(0, 5).join('; ');
  return new PgwardenError('ROLE_IN_USE', `role "${name}" cannot be deleted because it owns objects or holds privileges: ${what}.${hint ? ` ${hint}` : ''}`, {
    ...(err.detail ? { detail: err.detail } : {}),
  });
}
