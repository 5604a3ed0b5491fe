// Adding and removing Microsoft Entra principals. Each is a row in the coordinator's
// catalog and a real PostgreSQL role on every node: LOGIN, with a derived password that
// no person knows (the same verifier bytes everywhere), and for admins membership in
// pgwarden_admin, which carries citus's privileges.
import type pg from 'pg';
import { ADMIN_GROUP_ROLE } from '../catalog/roles.js';
import { derivedPassword } from '../catalog/derived-password.js';
import { PRINCIPAL_TYPES, principalFromRow, type EntraPrincipal, type PrincipalRow, type PrincipalType } from '../catalog/principals.js';
import { formatScramSecret, makeScramSecret } from '../scram/primitives.js';
import { PgwardenError } from '../util/errors.js';
import { quoteIdent } from '../util/sql.js';
import { coordinatorOf, exclusively, type ClusterAdmin } from '../cluster/admin.js';
import { dropRole, ensureRole, LOGIN_ROLE, roleExists } from '../catalog/role-statements.js';
import { changeCluster, type ChangeResult } from './change.js';
import { checkRoleName } from './role-names.js';
import { checkGuid } from '../util/guid.js';

/** A principal's columns, as principalFromRow reads them. */
const COLUMNS = 'role_name, principal_type, object_id, tenant_id::text, issuer, app_id::text, is_admin';

export interface NewPrincipal {
  roleName: string;
  type: PrincipalType;
  /** An Entra object id; for another issuer's principal, a user's subject or a group's
   * value in the groups claim. */
  objectId: string;
  /** The Entra tenant; none for another issuer's principal. */
  tenantId?: string | undefined;
  /** Another OpenID Connect issuer (as configured); undefined: the Entra tenant. */
  issuer?: string | undefined;
  appId?: string | undefined;
  isAdmin: boolean;
}

/** Subjects and group values of another issuer: any text but control characters. */
function checkSubject(value: unknown, type: PrincipalType): string {
  const what = type === 'group' ? "the group's value in the groups claim" : "the user's subject";
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > 255 || /[\x00-\x1f\x7f]/.test(value)) {
    throw new PgwardenError('INVALID_INPUT', `${what} must be 1 to 255 bytes of text without control characters`);
  }
  return value;
}

function validate(p: NewPrincipal): NewPrincipal {
  const roleName = checkRoleName(p.roleName);
  if (!PRINCIPAL_TYPES.includes(p.type)) throw new PgwardenError('INVALID_INPUT', `type must be one of ${PRINCIPAL_TYPES.join(', ')}`);
  const appId = p.type === 'servicePrincipal' ? checkGuid(p.appId, 'the application (client) id of a service principal') : undefined;
  if (p.type !== 'servicePrincipal' && p.appId !== undefined) throw new PgwardenError('INVALID_INPUT', 'only service principals have an application id');
  if (p.isAdmin && p.type === 'group') throw new PgwardenError('INVALID_INPUT', 'Microsoft Entra admins are users or service principals, not groups');
  if (p.issuer !== undefined) {
    if (p.type === 'servicePrincipal') {
      throw new PgwardenError(
        'INVALID_INPUT',
        "an OpenID Connect issuer's principals are users or groups (an application signs in as a user: its subject and name)",
      );
    }
    if (p.tenantId !== undefined) throw new PgwardenError('INVALID_INPUT', "a tenant id is for Microsoft Entra principals, not for another issuer's");
    return { roleName, type: p.type, objectId: checkSubject(p.objectId, p.type), issuer: p.issuer, isAdmin: p.isAdmin };
  }
  return {
    roleName,
    type: p.type,
    objectId: checkGuid(p.objectId, 'the object id'),
    tenantId: checkGuid(p.tenantId, 'the tenant id'),
    appId,
    isAdmin: p.isAdmin,
  };
}

/** The statements that make one node's role match the principal (idempotent). */
async function applyRole(client: pg.Client, roleName: string, verifier: string, isAdmin: boolean): Promise<void> {
  await ensureRole(client, roleName, LOGIN_ROLE, verifier);
  const role = quoteIdent(roleName);
  await client.query(isAdmin ? `GRANT ${quoteIdent(ADMIN_GROUP_ROLE)} TO ${role}` : `REVOKE ${quoteIdent(ADMIN_GROUP_ROLE)} FROM ${role}`);
}

export async function addPrincipal(admin: ClusterAdmin, gatewaySecret: Buffer, input: NewPrincipal): Promise<ChangeResult<EntraPrincipal>> {
  return exclusively(admin, () => addPrincipalNow(admin, gatewaySecret, input));
}

async function addPrincipalNow(admin: ClusterAdmin, gatewaySecret: Buffer, input: NewPrincipal): Promise<ChangeResult<EntraPrincipal>> {
  const p = validate(input);
  const verifier = formatScramSecret(makeScramSecret(derivedPassword(gatewaySecret, p.roleName, p.objectId)));
  return changeCluster(
    admin,
    async (c) => {
      if (await roleExists(c, p.roleName)) throw new PgwardenError('ALREADY_EXISTS', `a role named "${p.roleName}" already exists`);
      const res = await c.query<PrincipalRow>(
        `INSERT INTO pgwarden.entra_principals (role_name, principal_type, object_id, tenant_id, issuer, app_id, is_admin)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING ${COLUMNS}`,
        [p.roleName, p.type, p.objectId, p.tenantId ?? null, p.issuer ?? null, p.appId ?? null, p.isAdmin],
      );
      await applyRole(c, p.roleName, verifier, p.isAdmin);
      return principalFromRow(res.rows[0]!);
    },
    (c) => applyRole(c, p.roleName, verifier, p.isAdmin),
  );
}

export async function listPrincipals(admin: ClusterAdmin, filter: { admins?: boolean; objectId?: string } = {}): Promise<EntraPrincipal[]> {
  return admin.withAdmin(coordinatorOf(admin), async (c) => {
    const res = await c.query<PrincipalRow>(
      `SELECT ${COLUMNS}
         FROM pgwarden.entra_principals
        WHERE ($1::boolean IS NULL OR is_admin = $1) AND ($2::text IS NULL OR (issuer IS NULL AND object_id = lower($2)))
        ORDER BY role_name`,
      [filter.admins ?? null, filter.objectId ?? null],
    );
    return res.rows.map(principalFromRow);
  });
}

/** Removes the principal and its role on every node. Refused while the role owns objects. */
export async function removePrincipal(admin: ClusterAdmin, roleName: string, filter: { admin?: boolean } = {}): Promise<ChangeResult<EntraPrincipal>> {
  return exclusively(admin, () => removePrincipalNow(admin, roleName, filter));
}

async function removePrincipalNow(admin: ClusterAdmin, roleName: string, filter: { admin?: boolean } = {}): Promise<ChangeResult<EntraPrincipal>> {
  return changeCluster(
    admin,
    async (c) => {
      const res = await c.query<PrincipalRow>(
        `DELETE FROM pgwarden.entra_principals WHERE role_name = $1 AND ($2::boolean IS NULL OR is_admin = $2)
         RETURNING ${COLUMNS}`,
        [roleName, filter.admin ?? null],
      );
      if (res.rowCount === 0) {
        throw new PgwardenError(
          'NOT_FOUND',
          filter.admin ? `"${roleName}" is not a Microsoft Entra admin` : `"${roleName}" is not a Microsoft Entra principal`,
        );
      }
      await dropRole(c, roleName);
      return principalFromRow(res.rows[0]!);
    },
    (c) => dropRole(c, roleName),
  );
}
