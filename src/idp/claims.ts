// The claims of the tokens the provider issues, in the shapes of Microsoft Entra ID's
// v1.0 and v2.0 access tokens and ID tokens.
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
// https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
import { createHash, randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Issuers } from './issuers.js';
import type { ServicePrincipal, User } from './model.js';
import { knownGraphPermissions } from './graph/permissions.js';
import { isGraph, userPermissions, type Target } from './resources.js';

/** Who a token is about: a user signed in through a client, or a service principal itself. */
export type Subject =
  | { readonly kind: 'user'; readonly user: User; readonly groups: readonly string[] }
  | { readonly kind: 'app'; readonly sp: ServicePrincipal; readonly groups: readonly string[] };

export type TokenVersion = '1.0' | '2.0';

export interface ClaimsContext {
  readonly tenantId: string;
  readonly issuers: Issuers;
  readonly version: TokenVersion;
  /** The client (application) the token is issued to. */
  readonly clientId: string;
  /** Whether the client proved itself with a secret (appidacr/azpacr "1") or is public ("0"). */
  readonly clientAuthenticated: boolean;
  readonly target: Target;
  /** The caller's address, for `ipaddr` of user tokens. */
  readonly ipaddr?: string;
  /** Seconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** At most this many groups go into the `groups` claim; past it, the groups overage. */
  readonly groupsClaimLimit: number;
  /** Where the provider's Graph subset is: `{authority}/graph/v1.0`. */
  readonly graphBase: string;
}

/** Entra's limit of groups in a JWT's `groups` claim. */
export const DEFAULT_GROUPS_CLAIM_LIMIT = 200;

/** Entra's `sub` for users is pairwise: stable for one user and one application, different
 * for another application, so that applications cannot correlate users by it. */
export function pairwiseSubject(tenantId: string, objectId: string, clientId: string): string {
  return createHash('sha256').update(`${tenantId}\0${objectId}\0${clientId.toLowerCase()}`).digest('base64url');
}

/** Opaque values Entra puts in every token: `aio` (internal), `uti` (token id), `rh` (refresh hint). */
function opaque(): { aio: string; uti: string } {
  return { aio: randomBytes(48).toString('base64url'), uti: randomBytes(16).toString('base64url') };
}

function refreshHint(ctx: ClaimsContext): string {
  return `0.A${createHash('sha256').update(`${ctx.tenantId}\0${ctx.clientId}\0${ctx.target.resource}`).digest('base64url')}.`;
}

/** The `groups` claim, or, when the subject is in more groups than the limit, Entra's
 * groups overage instead: no `groups`, and `_claim_names`/`_claim_sources` naming where
 * to ask for them (OpenID Connect distributed claims). Entra points at
 * `https://graph.windows.net/{tid}/users/{oid}/getMemberObjects` (v1) or
 * `https://graph.microsoft.com/v1.0/users/{oid}/getMemberObjects` (v2); the provider at
 * its own Graph subset, the same in both versions, `servicePrincipals/{oid}` for apps.
 * Who can follow it differs: Entra also lets the token's own user call getMemberObjects
 * with a delegated Graph token (User.Read); the provider's Graph subset answers only
 * app-only callers granted Directory.Read.All or GroupMember.Read.All (graph/access.ts),
 * i.e. the resource server, with its own service principal, as pgwarden does.
 * https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#groups-overage-claim */
function withGroups(claims: JWTPayload, subject: Subject, ctx: ClaimsContext): JWTPayload {
  const groups = subject.groups;
  if (groups.length === 0) return claims;
  if (groups.length <= ctx.groupsClaimLimit) return { ...claims, groups: [...groups] };
  const object = subject.kind === 'user' ? `users/${subject.user.objectId}` : `servicePrincipals/${subject.sp.objectId}`;
  return {
    ...claims,
    _claim_names: { groups: 'src1' },
    _claim_sources: { src1: { endpoint: `${ctx.graphBase}/${object}/getMemberObjects` } },
  };
}

/** `roles` of an app-only token: the application permissions granted to the service
 * principal on the token's resource, as Entra lists them. Only Microsoft Graph's can be
 * granted here, so only Graph tokens carry `roles`, and only when something is granted. */
function appRoles(sp: ServicePrincipal, target: Target): { roles?: string[] } {
  if (!isGraph(target.resource)) return {};
  const roles = knownGraphPermissions(sp.graphPermissions);
  return roles.length > 0 ? { roles } : {};
}

export function accessTokenClaims(subject: Subject, ctx: ClaimsContext): JWTPayload {
  const { aio, uti } = opaque();
  const acr = ctx.clientAuthenticated ? '1' : '0';
  const times = { iat: ctx.issuedAt, nbf: ctx.issuedAt, exp: ctx.expiresAt };
  const common = { aud: ctx.target.resource, iss: ctx.version === '1.0' ? ctx.issuers.v1 : ctx.issuers.v2, ...times };
  if (subject.kind === 'app') {
    const oid = subject.sp.objectId;
    const roles = appRoles(subject.sp, ctx.target);
    const claims =
      ctx.version === '1.0'
        ? {
            ...common,
            aio,
            appid: ctx.clientId,
            appidacr: acr,
            idp: ctx.issuers.v1,
            idtyp: 'app',
            oid,
            rh: refreshHint(ctx),
            ...roles,
            sub: oid,
            tid: ctx.tenantId,
            uti,
            ver: '1.0',
          }
        : { ...common, aio, azp: ctx.clientId, azpacr: acr, idtyp: 'app', oid, rh: refreshHint(ctx), ...roles, sub: oid, tid: ctx.tenantId, uti, ver: '2.0' };
    return withGroups(claims, subject, ctx);
  }
  const u = subject.user;
  const sub = pairwiseSubject(ctx.tenantId, u.objectId, ctx.clientId);
  const scp = userPermissions(ctx.target);
  const claims =
    ctx.version === '1.0'
      ? {
          ...common,
          acr: '1',
          aio,
          amr: ['pwd'],
          appid: ctx.clientId,
          appidacr: acr,
          idtyp: 'user',
          ...(ctx.ipaddr ? { ipaddr: ctx.ipaddr } : {}),
          name: u.displayName,
          oid: u.objectId,
          rh: refreshHint(ctx),
          scp,
          sub,
          tid: ctx.tenantId,
          unique_name: u.userPrincipalName,
          upn: u.userPrincipalName,
          uti,
          ver: '1.0',
        }
      : {
          ...common,
          aio,
          azp: ctx.clientId,
          azpacr: acr,
          name: u.displayName,
          oid: u.objectId,
          preferred_username: u.userPrincipalName,
          rh: refreshHint(ctx),
          scp,
          sub,
          tid: ctx.tenantId,
          uti,
          ver: '2.0',
        };
  return withGroups(claims, subject, ctx);
}

/** The ID token of a user sign-in: about the user, for the client (`aud` = client id). */
export function idTokenClaims(user: User, ctx: ClaimsContext, nonce: string | undefined): JWTPayload {
  const { aio, uti } = opaque();
  const base = {
    aud: ctx.clientId,
    iat: ctx.issuedAt,
    nbf: ctx.issuedAt,
    exp: ctx.expiresAt,
    ...(nonce ? { nonce } : {}),
    name: user.displayName,
    oid: user.objectId,
    sub: pairwiseSubject(ctx.tenantId, user.objectId, ctx.clientId),
    tid: ctx.tenantId,
  };
  return ctx.version === '1.0'
    ? { ...base, iss: ctx.issuers.v1, amr: ['pwd'], unique_name: user.userPrincipalName, upn: user.userPrincipalName, ver: '1.0' }
    : { ...base, iss: ctx.issuers.v2, aio, preferred_username: user.userPrincipalName, rh: refreshHint(ctx), uti, ver: '2.0' };
}
