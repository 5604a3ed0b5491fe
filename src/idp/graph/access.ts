// Who may call the provider's Graph API: the bearer of an app-only Graph token that this
// provider issued. The token is verified as Graph verifies Entra's: RS256 by a key of the
// provider's published key set, `iss` one of this tenant's issuers (v1 or v2), `aud`
// Graph (its URI or its application id), `tid` this tenant, not expired. App-only means
// issued by client_credentials to a service principal of the tenant: `idtyp` "app" and no
// `scp` (delegated permissions). As Graph, it also wants an admin-granted application
// permission in `roles` (graph/permissions.ts): Directory.Read.All for the lists,
// Directory.Read.All or GroupMember.Read.All for checkMemberGroups/getMemberObjects.
// Unlike Graph, which trusts a token's `roles` until it expires, the permission must
// also still be granted to the service principal at the call: a revoked permission, like
// a removed service principal, reads nothing more at once.
// https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens
// https://learn.microsoft.com/graph/auth-v2-service
// https://learn.microsoft.com/graph/api/user-list#permissions
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { ProviderContext } from '../context.js';
import { issuersFor } from '../issuers.js';
import type { DirectoryData, ServicePrincipal } from '../model.js';
import { isGraph } from '../resources.js';
import { graphRefuse } from './errors.js';
import { DIRECTORY_READ_ALL, GROUP_MEMBER_READ_ALL } from './permissions.js';

/** Any one of these application permissions lets a caller list users, service principals
 * and groups (Graph also takes narrower ones, User.Read.All and so on; not known here). */
export const LIST_PERMISSIONS: readonly string[] = [DIRECTORY_READ_ALL];
/** Any one of these lets a caller ask checkMemberGroups and getMemberObjects. */
export const MEMBERSHIP_PERMISSIONS: readonly string[] = [DIRECTORY_READ_ALL, GROUP_MEMBER_READ_ALL];

/** Tokens longer than this are not ours (ours are about 1.5 KB with many groups). */
const MAX_TOKEN_LENGTH = 16 * 1024;

export interface GraphCaller {
  readonly sp: ServicePrincipal;
  readonly data: DirectoryData;
}

/** The service principal calling, from the request's Authorization header, if its token
 * carries one of `permissions` in `roles` and the service principal still has it; throws
 * a 401 or 403 refusal (graph/errors.ts). The token itself is never logged or echoed. */
export async function authorizeGraphCall(ctx: ProviderContext, authorization: string | undefined, permissions: readonly string[]): Promise<GraphCaller> {
  const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  if (!authorization) throw graphRefuse.token('Access token is empty.');
  if (!m || m[1]!.length > MAX_TOKEN_LENGTH) throw graphRefuse.token('Access token validation failure. The Authorization header must be "Bearer <token>".');
  const data = await ctx.directory.snapshot();
  if (!data) throw graphRefuse.token('Access token validation failure. The tenant does not exist.');
  const payload = await verify(ctx, data, m[1]!);
  // Delegated (user) tokens carry scp; app-only tokens carry idtyp "app" and no scp.
  if (payload.scp !== undefined || payload.idtyp !== 'app') throw graphRefuse.denied();
  const appId = payload.appid ?? payload.azp;
  const sp = data.servicePrincipals.find((s) => s.objectId === payload.oid && s.appId === appId);
  // A service principal removed since its token was issued reads nothing more.
  if (!sp) throw graphRefuse.denied();
  // One of the permissions in the token's roles, and still granted (not revoked since).
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  if (!permissions.some((p) => roles.includes(p) && sp.graphPermissions.includes(p))) throw graphRefuse.denied();
  return { sp, data };
}

async function verify(ctx: ProviderContext, data: DirectoryData, token: string): Promise<JWTPayload> {
  const issuers = issuersFor(ctx.authority(), data.tenant.id);
  const keys = createLocalJWKSet({ keys: await ctx.keys.publicKeys(ctx.issuer.maxLifetimeSeconds) } as unknown as JSONWebKeySet);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: ['RS256'],
      issuer: [issuers.v1, issuers.v2],
      currentDate: new Date(ctx.now()),
      requiredClaims: ['exp', 'aud', 'tid', 'oid'],
    }));
  } catch (e) {
    throw graphRefuse.token(reason(e));
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (audiences.length !== 1 || typeof audiences[0] !== 'string' || !isGraph(audiences[0])) {
    throw graphRefuse.token('Access token validation failure. Invalid audience.');
  }
  if (payload.tid !== data.tenant.id) throw graphRefuse.token('Access token validation failure. The token is for another tenant.');
  return payload;
}

/** What was wrong with a token, in words close to Graph's, without echoing the token. */
function reason(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'Lifetime validation failed, the token is expired.';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return 'Access token validation failure. Invalid issuer.';
    if (e.claim === 'nbf') return 'Lifetime validation failed, the token is not yet valid.';
    return `Access token validation failure. The claim '${e.claim}' is missing or invalid.`;
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed || e instanceof joseErrors.JWKSNoMatchingKey) {
    return 'Access token validation failure. Invalid signature.';
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'Access token validation failure. The signing algorithm must be RS256.';
  return 'Access token validation failure. The token is not a well-formed JWT.';
}
