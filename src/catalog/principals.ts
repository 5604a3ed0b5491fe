// Principals known to the cluster: which PostgreSQL role stands for which Microsoft Entra
// object, or for which subject of another OpenID Connect issuer (docs/oidc.md). Stored on
// the coordinator in pgwarden.entra_principals, the one truth that every gateway reads.

export const PRINCIPAL_TYPES = ['user', 'servicePrincipal', 'group'] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

export interface EntraPrincipal {
  /** The PostgreSQL role: a user's UPN, a service principal's or group's display name. */
  readonly roleName: string;
  readonly type: PrincipalType;
  /** The Entra object id: the stable key (a user deleted and re-created gets a new one).
   * For an OpenID Connect issuer's principal: a user's subject claim, a group's value in
   * the groups claim. */
  readonly objectId: string;
  /** The Entra tenant; undefined for another issuer's principal. */
  readonly tenantId: string | undefined;
  /** Undefined: the cluster's Microsoft Entra tenant. Else the exact `iss` of another
   * OpenID Connect provider whose tokens alone may sign the principal in. */
  readonly issuer?: string | undefined;
  /** The application (client) id of a service principal. */
  readonly appId: string | undefined;
  /** Admins have the same privileges as citus. */
  readonly isAdmin: boolean;
}

/** The row shape of pgwarden.entra_principals as the catalog queries return it. */
export interface PrincipalRow {
  role_name: string;
  principal_type: PrincipalType;
  object_id: string;
  tenant_id: string | null;
  issuer: string | null;
  app_id: string | null;
  is_admin: boolean;
}

export function principalFromRow(r: PrincipalRow): EntraPrincipal {
  return {
    roleName: r.role_name,
    type: r.principal_type,
    objectId: r.object_id,
    tenantId: r.tenant_id ?? undefined,
    issuer: r.issuer ?? undefined,
    appId: r.app_id ?? undefined,
    isAdmin: r.is_admin,
  };
}
