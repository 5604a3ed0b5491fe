// Native PostgreSQL roles, managed as in the managed service: added with LOGIN and a
// password, deleted, their passwords reset; the built-in citus cannot be deleted. The
// coordinator changes first, in a transaction; then every worker, each outcome kept.
// Passwords reach PostgreSQL only as SCRAM verifiers that pgwarden computes, so no
// plaintext password is ever in PostgreSQL's memory, statistics or logs.
import type pg from 'pg';
import { CITUS_ROLE, isReservedRole, reservedRoleSql } from '../catalog/roles.js';
import { CATALOG_CHANNEL } from '../catalog/catalog-watch.js';
import { formatScramSecret, makeScramSecret } from '../scram/primitives.js';
import { PgwardenError } from '../util/errors.js';
import { quoteIdent } from '../util/sql.js';
import { coordinatorOf, exclusively, forEachWorker, type AdminNode, type ClusterAdmin } from '../cluster/admin.js';
import { checkPassword } from './password-policy.js';
import { checkRoleName } from './role-names.js';
import { changeCluster, onCoordinator, type ChangeResult } from './change.js';
import { dropRole, ensureRole, LOGIN_ROLE, roleExists, roleInUse, setPassword } from '../catalog/role-statements.js';

export interface NativeRole {
  readonly name: string;
  /** citus: cannot be deleted. */
  readonly builtIn: boolean;
  readonly canLogin: boolean;
  /** Roles it is a member of (other than pgwarden's own). */
  readonly memberOf: string[];
}

/** Native roles: roles that can sign in (or citus), that are not superusers, not
 * PostgreSQL's or pgwarden's own, and not Microsoft Entra principals. */
export async function listNativeRoles(admin: ClusterAdmin): Promise<NativeRole[]> {
  return admin.withAdmin(coordinatorOf(admin), async (c) => {
    const res = await c.query<{ name: string; can_login: boolean; member_of: string[] }>(
      `SELECT r.rolname AS name, r.rolcanlogin AS can_login,
              coalesce(array(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                              WHERE m.member = r.oid AND g.rolname NOT LIKE 'pgwarden\\_%' ORDER BY 1)::text[], '{}') AS member_of
         FROM pg_roles r
        WHERE (r.rolcanlogin OR r.rolname = $1)
          AND NOT r.rolsuper AND NOT ${reservedRoleSql('r.rolname')}
          AND NOT EXISTS (SELECT 1 FROM pgwarden.entra_principals p WHERE p.role_name = r.rolname)
        ORDER BY r.rolname = $1 DESC, r.rolname`,
      [CITUS_ROLE],
    );
    return res.rows.map((r) => ({ name: r.name, builtIn: r.name === CITUS_ROLE, canLogin: r.can_login, memberOf: r.member_of }));
  });
}

async function notifyRole(c: pg.Client, name: string): Promise<void> {
  await c.query('SELECT pg_notify($1, $2)', [CATALOG_CHANNEL, `role:${name}`]);
}

async function isEntraPrincipal(c: pg.Client, name: string): Promise<boolean> {
  return ((await c.query('SELECT 1 FROM pgwarden.entra_principals WHERE role_name = $1', [name])).rowCount ?? 0) > 0;
}

export async function addNativeRole(admin: ClusterAdmin, nameInput: unknown, passwordInput: unknown): Promise<ChangeResult<NativeRole>> {
  return exclusively(admin, () => addNativeRoleNow(admin, nameInput, passwordInput));
}

async function addNativeRoleNow(admin: ClusterAdmin, nameInput: unknown, passwordInput: unknown): Promise<ChangeResult<NativeRole>> {
  const name = checkRoleName(nameInput);
  const verifier = formatScramSecret(makeScramSecret(checkPassword(passwordInput)));
  const { workers } = await changeCluster(
    admin,
    async (c) => {
      if (await roleExists(c, name)) throw new PgwardenError('ALREADY_EXISTS', `a role named "${name}" already exists`);
      await ensureRole(c, name, LOGIN_ROLE, verifier);
      await notifyRole(c, name);
    },
    (c) => ensureRole(c, name, LOGIN_ROLE, verifier),
  );
  return { value: { name, builtIn: false, canLogin: true, memberOf: [] }, workers };
}

/** Resets a native role's password (citus's too) on every node. */
export async function resetNativePassword(admin: ClusterAdmin, nameInput: unknown, passwordInput: unknown): Promise<ChangeResult<{ name: string }>> {
  return exclusively(admin, () => resetNativePasswordNow(admin, nameInput, passwordInput));
}

async function resetNativePasswordNow(admin: ClusterAdmin, nameInput: unknown, passwordInput: unknown): Promise<ChangeResult<{ name: string }>> {
  if (typeof nameInput !== 'string' || nameInput.length === 0) throw new PgwardenError('INVALID_INPUT', 'a role name is required');
  const name = nameInput;
  const verifier = formatScramSecret(makeScramSecret(checkPassword(passwordInput)));
  const { workers } = await changeCluster(
    admin,
    async (c) => {
      await assertNativeRole(c, name);
      await setPassword(c, name, verifier);
      await notifyRole(c, name);
    },
    async (c) => {
      if (!(await roleExists(c, name))) throw new Error(`role "${name}" does not exist on this node`);
      await setPassword(c, name, verifier);
    },
  );
  return { value: { name }, workers };
}

async function assertNativeRole(c: pg.Client, name: string): Promise<void> {
  if (name !== CITUS_ROLE && isReservedRole(name)) {
    throw new PgwardenError('FORBIDDEN', `role "${name}" is reserved and cannot be changed through pgwarden`);
  }
  const r = await c.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [name]);
  if (r.rowCount === 0) throw new PgwardenError('NOT_FOUND', `role "${name}" does not exist`);
  if (r.rows[0]!.rolsuper) throw new PgwardenError('FORBIDDEN', `role "${name}" is a superuser and cannot be changed through pgwarden`);
  if (await isEntraPrincipal(c, name)) {
    throw new PgwardenError('INVALID_INPUT', `"${name}" is a Microsoft Entra principal: it signs in with access tokens and has no password to manage`);
  }
}

/**
 * Deletes a native role on every node. Without `reassignTo`, refused while the role owns
 * objects or holds privileges (the message says which); with it, what the role owns goes
 * to `reassignTo` and its privileges are dropped (REASSIGN OWNED, DROP OWNED in every
 * database of every node), then the role is dropped.
 */
export async function deleteNativeRole(admin: ClusterAdmin, nameInput: unknown, reassignTo?: unknown): Promise<ChangeResult<{ name: string }>> {
  return exclusively(admin, () => deleteNativeRoleNow(admin, nameInput, reassignTo));
}

async function deleteNativeRoleNow(admin: ClusterAdmin, nameInput: unknown, reassignTo?: unknown): Promise<ChangeResult<{ name: string }>> {
  if (typeof nameInput !== 'string' || nameInput.length === 0) throw new PgwardenError('INVALID_INPUT', 'a role name is required');
  const name = nameInput;
  if (name === CITUS_ROLE) throw new PgwardenError('PROTECTED_ROLE', 'The citus role is built in and cannot be deleted. Its password can be reset.');
  if (reassignTo !== undefined && (typeof reassignTo !== 'string' || reassignTo.length === 0)) {
    throw new PgwardenError('INVALID_INPUT', 'reassignTo must be a role name');
  }
  if (reassignTo === name) throw new PgwardenError('INVALID_INPUT', 'a role cannot reassign what it owns to itself');

  await onCoordinator(admin, async (c) => {
    await assertNativeRole(c, name);
    if (reassignTo !== undefined) {
      if (!(await roleExists(c, reassignTo))) throw new PgwardenError('NOT_FOUND', `role "${reassignTo}" (reassignTo) does not exist`);
    } else {
      await assertOwnsNothing(c, name);
    }
  });
  // Ownership lives per database: first release in every database of every node (so
  // that nothing the role owned is left for anyone else to pick up), then drop the role
  // on the coordinator, then on the workers.
  const workerRelease = reassignTo === undefined ? [] : await forEachWorker(admin, (node) => releaseEverywhere(admin, node, name, reassignTo as string));
  if (reassignTo !== undefined) await releaseEverywhere(admin, coordinatorOf(admin), name, reassignTo as string);
  await onCoordinator(admin, async (c) => {
    await dropRole(c, name);
    await notifyRole(c, name);
  });
  const dropped = await forEachWorker(admin, (node) => admin.withAdmin(node, (c) => dropRole(c, name)));
  const workers = dropped.map((d) => {
    const released = workerRelease.find((r) => r.node === d.node);
    return released && !released.ok ? released : d;
  });
  return { value: { name }, workers };
}

/** Refuses, naming what the role owns or holds (PostgreSQL's own dependency report). */
async function assertOwnsNothing(c: pg.Client, name: string): Promise<void> {
  await c.query('SAVEPOINT probe');
  try {
    await c.query(`DROP ROLE ${quoteIdent(name)}`);
  } catch (e) {
    throw roleInUse(e, name, 'Give reassignTo to hand them to another role.') ?? e;
  } finally {
    await c.query('ROLLBACK TO SAVEPOINT probe');
  }
}

async function databases(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname');
  return r.rows.map((x) => x.datname);
}

async function releaseOnNode(c: pg.Client, name: string, reassignTo: string): Promise<void> {
  if (!(await roleExists(c, name))) return;
  await c.query(`REASSIGN OWNED BY ${quoteIdent(name)} TO ${quoteIdent(reassignTo)}`);
  await c.query(`DROP OWNED BY ${quoteIdent(name)}`);
}

async function releaseEverywhere(admin: ClusterAdmin, node: AdminNode, name: string, reassignTo: string): Promise<void> {
  const dbs = await admin.withAdmin(node, databases);
  for (const db of dbs) await admin.withAdmin(node, (c) => releaseOnNode(c, name, reassignTo), db);
}
