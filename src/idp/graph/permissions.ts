// Microsoft Graph application permissions (Graph's app roles) that the tenant's admin can
// grant a service principal: in Entra an app role assignment to the Microsoft Graph
// service principal, after admin consent. An app-only Graph token carries the granted
// values in `roles`; Graph reads the directory only for a token with the right one.
// Only the app roles that the provider's Graph subset looks at are known here.
// https://learn.microsoft.com/graph/permissions-reference
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims
import { PgwardenError } from '../../util/errors.js';

export interface GraphAppRole {
  /** What `roles` carries and what the CLI takes. */
  readonly value: string;
  /** Graph's app role id (the same in every tenant). */
  readonly id: string;
  readonly description: string;
}

export const DIRECTORY_READ_ALL = 'Directory.Read.All';
export const GROUP_MEMBER_READ_ALL = 'GroupMember.Read.All';

/** The known Graph app roles, in the order tokens list them. */
export const GRAPH_APP_ROLES: readonly GraphAppRole[] = [
  { value: DIRECTORY_READ_ALL, id: '7ab1d382-f21e-4acd-a863-ba3e13f7da61', description: 'Read directory data' },
  { value: GROUP_MEMBER_READ_ALL, id: '98830695-27a2-44f7-8c18-0c3ebc9698f6', description: 'Read all group memberships' },
];

/** A known Graph app role by value (any case) or id; else INVALID_INPUT naming the known ones. */
export function graphAppRole(valueOrId: string): GraphAppRole {
  const wanted = valueOrId.trim().toLowerCase();
  const role = GRAPH_APP_ROLES.find((r) => r.value.toLowerCase() === wanted || r.id === wanted);
  if (!role) {
    const known = GRAPH_APP_ROLES.map((r) => r.value).join(', ');
    throw new PgwardenError('INVALID_INPUT', `"${valueOrId.slice(0, 100)}" is not a Microsoft Graph application permission pgwarden knows (${known})`);
  }
  return role;
}

/** The known Graph app roles among `granted` (values as stored), in GRAPH_APP_ROLES order:
 * what a Graph token's `roles` carries. An unknown value (a file edited by hand, or by a
 * newer pgwarden) grants nothing. */
export function knownGraphPermissions(granted: readonly string[] | undefined): string[] {
  return GRAPH_APP_ROLES.map((r) => r.value).filter((v) => granted?.includes(v));
}
