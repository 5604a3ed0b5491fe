// Microsoft Entra principals known to the cluster: which PostgreSQL role stands for
// which Entra object. Stored on the coordinator in pgwarden.entra_principals, the one
// truth that every gateway reads.

export const PRINCIPAL_TYPES = ['user', 'servicePrincipal', 'group'] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

export interface EntraPrincipal {
  /** The PostgreSQL role: a user's UPN, a service principal's or group's display name. */
  readonly roleName: string;
  readonly type: PrincipalType;
  /** The Entra object id: the stable key (a user deleted and re-created gets a new one). */
  readonly objectId: string;
  readonly tenantId: string;
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
  tenant_id: string;
  app_id: string | null;
  is_admin: boolean;
}

export function principalFromRow(r: PrincipalRow): EntraPrincipal {
  return {
    roleName: r.role_name,
    type: r.principal_type,
    objectId: r.object_id,
    tenantId: r.tenant_id,
    appId: r.app_id ?? undefined,
    isAdmin: r.is_admin,
  };
}
