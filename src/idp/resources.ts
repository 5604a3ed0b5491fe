// The resources (audiences) the tenant issues tokens for, and how a request names one:
// v1 endpoints take `resource=URI`; v2 endpoints take `scope=URI/.default` (or
// `URI/user_impersonation`) among OpenID Connect scopes. `aud` is the resource exactly as
// requested, as Entra does.
// https://learn.microsoft.com/entra/identity-platform/scopes-oidc
import { refuse } from './oauth-errors.js';

/** Microsoft Graph's resource URI: app-only Graph tokens (`scope=https://graph.microsoft.com/.default`)
 * carry it in `aud`. The provider serves a read-only subset of Graph (see graph/). */
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

/** Resources known to the tenant: the managed PostgreSQL services', Azure management's
 * (which `az login` asks for) and Microsoft Graph's. */
export const KNOWN_RESOURCES: readonly string[] = [
  'https://token.postgres.cosmos.azure.com',
  'https://postgres.cosmos.azure.com',
  'https://ossrdbms-aad.database.windows.net',
  'https://management.core.windows.net/',
  'https://management.azure.com/',
  GRAPH_RESOURCE,
];

/** Entra gives a v2 request with only OpenID Connect scopes a Microsoft Graph token, whose
 * `aud` is Graph's application id. */
export const GRAPH_AUDIENCE = '00000003-0000-0000-c000-000000000000';

export const OIDC_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access'];

/** The delegated permission that user tokens carry in `scp`. */
export const USER_SCOPE = 'user_impersonation';

export interface Target {
  /** What `aud` will be. */
  readonly resource: string;
  /** OpenID Connect scopes requested (v2), or `openid` if a v1 request asked for it. */
  readonly oidc: readonly string[];
}

const normalize = (r: string): string => r.toLowerCase().replace(/\/+$/, '');

/** Microsoft Graph, named by its application id or its URI (any case, trailing slash). */
export function isGraph(resource: string): boolean {
  return resource.toLowerCase() === GRAPH_AUDIENCE || normalize(resource) === GRAPH_RESOURCE;
}

/** The resource as given, if the tenant knows it; else AADSTS500011. */
export function knownResource(resource: string, tenantName: string): string {
  if (!KNOWN_RESOURCES.some((k) => normalize(k) === normalize(resource)) || resource.length > 512) {
    throw refuse.unknownResource(resource, tenantName);
  }
  return resource;
}

/** v1: `resource` (required), and `scope=openid` for an id_token. */
export function v1Target(resource: string | undefined, scope: string | undefined, tenantName: string): Target {
  if (!resource) throw refuse.missingParameter('resource');
  return { resource: knownResource(resource, tenantName), oidc: (scope ?? '').split(/\s+/).includes('openid') ? ['openid'] : [] };
}

/**
 * v2: at most one resource scope (`URI/.default`, or `URI/user_impersonation` for user
 * flows) plus OpenID Connect scopes. App-only flows must ask for `URI/.default` alone.
 */
export function v2Target(scope: string | undefined, tenantName: string, appOnly: boolean): Target {
  if (!scope || scope.trim() === '') throw refuse.missingParameter('scope');
  const scopes = [...new Set(scope.trim().split(/\s+/))];
  const oidc = scopes.filter((s) => OIDC_SCOPES.includes(s));
  const others = scopes.filter((s) => !OIDC_SCOPES.includes(s));
  if (appOnly) {
    if (others.length !== 1 || oidc.length > 0 || !others[0]!.endsWith('/.default')) throw refuse.scopeNeedsDefault(scope);
  }
  if (others.length > 1) throw refuse.manyResources(scope);
  if (others.length === 0) return { resource: GRAPH_AUDIENCE, oidc };
  const s = others[0]!;
  const suffix = ['/.default', `/${USER_SCOPE}`].find((x) => s.endsWith(x));
  // Graph's delegated permissions have their own names (User.Read, ...), not user_impersonation.
  if (!suffix || (suffix !== '/.default' && isGraph(s.slice(0, -suffix.length)))) throw refuse.invalidScope(s);
  return { resource: knownResource(s.slice(0, -suffix.length), tenantName), oidc };
}

/** The delegated permissions a user token carries (`scp`): Graph's sign-in permissions for
 * Graph, `user_impersonation` for the others. */
export function userPermissions(target: Target): string {
  return isGraph(target.resource) ? [...target.oidc.filter((s) => s !== 'offline_access'), 'User.Read'].join(' ') : USER_SCOPE;
}

/** The `scope` of a v2 token response: what was granted, named as the request named it. */
export function grantedScope(target: Target, appOnly: boolean): string {
  if (target.resource === GRAPH_AUDIENCE || (isGraph(target.resource) && !appOnly)) return userPermissions(target);
  return appOnly ? `${target.resource}/.default` : `${target.resource}/${USER_SCOPE} ${target.resource}/.default`;
}
