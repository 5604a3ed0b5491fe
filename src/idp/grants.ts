// The token endpoint's grants, one function each, from request parameters to the subject
// and target of the tokens to mint. RFC 6749 section 4 (authorization_code, password,
// client_credentials), section 6 (refresh_token), RFC 8628 (device_code), RFC 7636 (PKCE).
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc
import type { Subject, TokenVersion } from './claims.js';
import { authenticateClient, clientCredentials, type AuthenticatedClient } from './client-auth.js';
import { resolveTenant, type ProviderContext, type TenantScope } from './context.js';
import { checkUserPassword } from './credentials.js';
import { findUser, findUserByObjectId, groupsOf } from './lookups.js';
import type { DirectoryData, User } from './model.js';
import { refuse } from './oauth-errors.js';
import { openRefreshToken } from './refresh-tokens.js';
import { v1Target, v2Target, type Target } from './resources.js';
import { retryAfterText } from '../util/throttle.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface TokenRequest {
  readonly version: TokenVersion;
  /** The `{tenant}` segment of the URL. */
  readonly tenant: string;
  readonly params: Readonly<Record<string, string>>;
  readonly authorization: string | undefined;
  readonly ip: string;
}

/** What a grant yields: who, for which client, for what. */
interface Granted {
  readonly subject: Subject;
  readonly target: Target;
  readonly nonce?: string;
}

/** Answers one token request: the token response body, or a refusal (thrown). */
export async function exchange(
  ctx: ProviderContext,
  req: TokenRequest,
): Promise<{ body: Record<string, string | number>; grant: string; subject: Subject; clientId: string }> {
  const scope = await resolveTenant(ctx, req.tenant);
  const grant = req.params.grant_type;
  if (!grant) throw refuse.missingParameter('grant_type');
  const client = authenticateClient(scope.data, clientCredentials(req.params, req.authorization), ctx.now());
  const granted = await runGrant(ctx, scope, req, grant, client);
  const body = await ctx.issuer.respond({
    subject: granted.subject,
    version: req.version,
    tenantId: scope.data.tenant.id,
    issuers: scope.issuers,
    clientId: client.clientId,
    clientAuthenticated: client.authenticated,
    target: granted.target,
    ipaddr: req.ip,
    ...(granted.nonce ? { nonce: granted.nonce } : {}),
    clientInfo: req.params.client_info === '1',
  });
  return { body, grant, subject: granted.subject, clientId: client.clientId };
}

function runGrant(ctx: ProviderContext, scope: TenantScope, req: TokenRequest, grant: string, client: AuthenticatedClient): Promise<Granted> {
  switch (grant) {
    case 'client_credentials':
      return clientCredentialsGrant(scope, req, client);
    case 'password':
      return passwordGrant(ctx, scope, req);
    case 'refresh_token':
      return refreshTokenGrant(ctx, scope, req, client);
    case DEVICE_CODE_GRANT:
    case 'device_code': // the v1 endpoint's name for it (ADAL)
      return deviceCodeGrant(ctx, scope, req, client);
    case 'authorization_code':
      return authorizationCodeGrant(ctx, scope, req, client);
    default:
      throw refuse.unsupportedGrantType(grant.slice(0, 100));
  }
}

/** The request's resource: `resource` on v1, `scope` on v2. */
function requestedTarget(scope: TenantScope, req: TokenRequest, appOnly: boolean): Target {
  const tenantName = scope.data.tenant.displayName;
  return req.version === '1.0' ? v1Target(req.params.resource, req.params.scope, tenantName) : v2Target(req.params.scope, tenantName, appOnly);
}

function userSubject(data: DirectoryData, user: User): Subject {
  return { kind: 'user', user, groups: groupsOf(data, user.objectId) };
}

async function clientCredentialsGrant(scope: TenantScope, req: TokenRequest, client: AuthenticatedClient): Promise<Granted> {
  // An application signs in as itself, so the URL must name its tenant.
  if (scope.multiTenant) throw refuse.tenantRequired();
  if (client.client.kind !== 'confidential') throw refuse.secretRequired();
  const sp = client.client.sp;
  return { subject: { kind: 'app', sp, groups: groupsOf(scope.data, sp.objectId) }, target: requestedTarget(scope, req, true) };
}

async function passwordGrant(ctx: ProviderContext, scope: TenantScope, req: TokenRequest): Promise<Granted> {
  const { username, password } = req.params;
  if (!username) throw refuse.missingParameter('username');
  if (!password) throw refuse.missingParameter('password');
  const target = requestedTarget(scope, req, false);
  const user = findUser(scope.data, username);
  // The same work and the same answer whether the user is unknown or the password wrong.
  const check = await checkUserPassword(ctx.passwords, req.ip, username, password, user?.passwordHash);
  if (!check.ok) throw check.throttled ? refuse.locked(retryAfterText(check.retryAfterMs)) : refuse.wrongCredentials();
  if (!user) throw refuse.wrongCredentials();
  return { subject: userSubject(scope.data, user), target };
}

async function refreshTokenGrant(ctx: ProviderContext, scope: TenantScope, req: TokenRequest, client: AuthenticatedClient): Promise<Granted> {
  const token = req.params.refresh_token;
  if (!token) throw refuse.missingParameter('refresh_token');
  const grant = await openRefreshToken(token, await ctx.keys.refreshTokenKey(), Math.floor(ctx.now() / 1000));
  if (grant.tenantId !== scope.data.tenant.id) throw refuse.badGrant();
  if (grant.clientId !== client.clientId) throw refuse.clientMismatch();
  const target = requestedTarget(scope, req, false);
  // Checked against the directory on every use: a removed user's sessions end here.
  const user = findUserByObjectId(scope.data, grant.objectId);
  if (!user) throw refuse.revokedGrant();
  return { subject: userSubject(scope.data, user), target };
}

async function deviceCodeGrant(ctx: ProviderContext, scope: TenantScope, req: TokenRequest, client: AuthenticatedClient): Promise<Granted> {
  const code = req.params.device_code ?? req.params.code;
  if (!code) throw refuse.missingParameter('device_code');
  const { objectId, target } = ctx.deviceCodes.poll(code, client.clientId);
  const user = findUserByObjectId(scope.data, objectId);
  if (!user) throw refuse.revokedGrant();
  return { subject: userSubject(scope.data, user), target };
}

async function authorizationCodeGrant(ctx: ProviderContext, scope: TenantScope, req: TokenRequest, client: AuthenticatedClient): Promise<Granted> {
  const code = req.params.code;
  if (!code) throw refuse.missingParameter('code');
  const grant = ctx.authorizationCodes.redeem(code, client.clientId, req.params.redirect_uri, req.params.code_verifier);
  const user = findUserByObjectId(scope.data, grant.objectId);
  if (!user) throw refuse.revokedGrant();
  return { subject: userSubject(scope.data, user), target: grant.target, ...(grant.nonce ? { nonce: grant.nonce } : {}) };
}
