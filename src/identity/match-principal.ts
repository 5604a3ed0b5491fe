// Whether a verified token may sign in as a principal's role. The object id is the key:
// a role is bound to one Entra object, so a user deleted and re-created under the same
// name does not inherit it. The name must match too, exactly (Entra names are
// case-sensitive for this purpose, as the managed service documents).
import type { EntraPrincipal } from '../catalog/principals.js';
import { PgwardenError } from '../util/errors.js';
import type { GroupMembership } from './group-membership.js';
import type { VerifiedOidcToken } from './oidc-verifier.js';
import type { VerifiedToken } from './verify-token.js';

export function matchPrincipal(token: VerifiedToken, principal: EntraPrincipal): void {
  const role = principal.roleName;
  // A principal of another OpenID Connect issuer: an Entra token never signs it in.
  if (principal.issuer !== undefined) throw otherIssuer(role, principal.issuer);
  switch (principal.type) {
    case 'user': {
      if (token.identityType === 'app') {
        throw new PgwardenError('TOKEN_PRINCIPAL_MISMATCH', `The access token belongs to an application, but "${role}" is a user.`);
      }
      if (!token.userNames.includes(role)) {
        const folded = token.userNames.some((n) => n.toLowerCase() === role.toLowerCase());
        throw new PgwardenError(
          'TOKEN_NAME_MISMATCH',
          folded
            ? `The access token was issued to a user name that differs from "${role}" in case. User names are case-sensitive: sign in with the exact spelling.`
            : `The access token was issued to another user than "${role}".`,
        );
      }
      if (token.objectId.toLowerCase() !== principal.objectId.toLowerCase()) {
        throw new PgwardenError(
          'TOKEN_PRINCIPAL_MISMATCH',
          `The access token belongs to a different Microsoft Entra user object than role "${role}" was created for (was the user deleted and created again?).`,
        );
      }
      return;
    }
    case 'servicePrincipal': {
      if (!token.appId || !principal.appId || token.appId.toLowerCase() !== principal.appId.toLowerCase()) {
        throw new PgwardenError('TOKEN_APP_MISMATCH', `The access token was not issued to the application of service principal "${role}".`);
      }
      if (token.identityType !== 'app' || token.objectId.toLowerCase() !== principal.objectId.toLowerCase()) {
        throw new PgwardenError('TOKEN_PRINCIPAL_MISMATCH', `The access token does not belong to service principal "${role}".`);
      }
      return;
    }
    case 'group': {
      const oid = principal.objectId.toLowerCase();
      if (!token.groups.some((g) => g.toLowerCase() === oid)) {
        throw new PgwardenError('TOKEN_NOT_GROUP_MEMBER', `The access token's subject is not a member of group "${role}".`);
      }
      return;
    }
  }
}

/**
 * matchPrincipal; and for a group's role and a token that could not list its groups
 * (groups overage), the directory's answer instead of the token's list.
 */
export async function matchPrincipalAsking(token: VerifiedToken, principal: EntraPrincipal, membership: GroupMembership | undefined): Promise<void> {
  if (principal.issuer !== undefined || principal.type !== 'group' || !token.groupsOverage) return matchPrincipal(token, principal);
  const role = principal.roleName;
  if (!membership) {
    throw new PgwardenError(
      'TOKEN_GROUPS_OVERAGE',
      `The access token does not list its subject's groups (too many groups: "groups overage"), ` +
        `and pgwarden cannot ask Microsoft Graph whether it is a member of group "${role}". Start pgwarden with --graph-client-id to allow that.`,
    );
  }
  let member: boolean;
  try {
    member = await membership.isMemberOf(token.objectId, principal.objectId);
  } catch (e) {
    throw new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', `Membership of group "${role}" cannot be checked in the directory right now. Try again later.`, {
      cause: e,
    });
  }
  if (!member) throw new PgwardenError('TOKEN_NOT_GROUP_MEMBER', `The access token's subject is not a member of group "${role}".`);
}

function otherIssuer(role: string, issuer: string | undefined): PgwardenError {
  return new PgwardenError(
    'TOKEN_ISSUER',
    `Role "${role}" signs in with tokens of ${issuer ?? 'the Microsoft Entra tenant'}, not of the access token's issuer. Please acquire a token from it.`,
  );
}

/**
 * Whether a token of another OpenID Connect issuer (verified for the principal's issuer)
 * may sign in as the principal's role. The issuer and the subject are the key: a user's
 * role is bound to one subject of one issuer, and its name must equal the name claim
 * exactly; a group's role to one value of the issuer's groups claim.
 */
export function matchOidcPrincipal(token: VerifiedOidcToken, principal: EntraPrincipal): void {
  const role = principal.roleName;
  if (principal.issuer !== token.issuer) throw otherIssuer(role, principal.issuer);
  if (principal.type === 'group') {
    if (!token.groups.includes(principal.objectId))
      throw new PgwardenError('TOKEN_NOT_GROUP_MEMBER', `The access token's subject is not a member of group "${role}".`);
    return;
  }
  if (token.name !== role) {
    const folded = token.name !== undefined && token.name.toLowerCase() === role.toLowerCase();
    throw new PgwardenError(
      'TOKEN_NAME_MISMATCH',
      folded
        ? `The access token was issued to a user name that differs from "${role}" in case. User names are case-sensitive: sign in with the exact spelling.`
        : `The access token was issued to another user than "${role}".`,
    );
  }
  if (token.subject !== principal.objectId) {
    throw new PgwardenError(
      'TOKEN_PRINCIPAL_MISMATCH',
      `The access token belongs to a different subject of ${token.issuer} than role "${role}" was created for (was the user deleted and created again?).`,
    );
  }
}
