// Mints the tokens of one successful grant and shapes the token response like Entra's:
// v1 `{token_type, scope?, expires_in, ext_expires_in, expires_on, not_before, resource,
// access_token, refresh_token?, id_token?}` with numbers as strings, v2 `{token_type,
// scope, expires_in, ext_expires_in, access_token, refresh_token?, id_token?,
// client_info?}` with numbers as numbers.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc#successful-authentication-response
// https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes
import { randomInt } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { PgwardenError } from '../util/errors.js';
import { accessTokenClaims, idTokenClaims, type ClaimsContext, type Subject, type TokenVersion } from './claims.js';
import type { Issuers } from './issuers.js';
import { sealRefreshToken } from './refresh-tokens.js';
import { grantedScope, userPermissions, type Target } from './resources.js';
import type { SigningKeys } from './signing-keys.js';

/** Entra's default access token lifetime is random between 60 and 90 minutes; the
 * configurable range is 10 minutes to 1 day, of which pgwarden allows 5 to 90 (a token
 * is a database password: it should not outlive the key set's rotation window). */
export const DEFAULT_TOKEN_LIFETIME_MINUTES = { min: 60, max: 90 } as const;
export const TOKEN_LIFETIME_BOUNDS_MINUTES = { min: 5, max: 90 } as const;
/** Entra's ID tokens last one hour. */
const ID_TOKEN_LIFETIME_SECONDS = 3600;

export interface LifetimeMinutes {
  readonly min: number;
  readonly max: number;
}

export function checkLifetime(l: LifetimeMinutes): LifetimeMinutes {
  const { min: lo, max: hi } = TOKEN_LIFETIME_BOUNDS_MINUTES;
  if (!Number.isFinite(l.min) || !Number.isFinite(l.max) || l.min < lo || l.max > hi || l.min > l.max) {
    throw new PgwardenError('CONFIG_INVALID', `token lifetime must be within ${lo} to ${hi} minutes, min <= max (got ${l.min} to ${l.max})`);
  }
  return l;
}

export interface Issue {
  readonly subject: Subject;
  readonly version: TokenVersion;
  readonly tenantId: string;
  readonly issuers: Issuers;
  readonly clientId: string;
  readonly clientAuthenticated: boolean;
  readonly target: Target;
  readonly ipaddr?: string;
  readonly nonce?: string;
  /** The client sent `client_info=1` (MSAL does): answer with the account's uid/utid. */
  readonly clientInfo: boolean;
}

export interface GroupsClaimOptions {
  /** At most this many groups in the `groups` claim (see claims.ts, withGroups). */
  readonly limit: number;
  /** `{authority}/graph/v1.0`, where the groups overage points (known once listening). */
  readonly graphBase: () => string;
}

/** A groups claim limit must be a whole number, 0 or more. */
export function checkGroupsClaimLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new PgwardenError('CONFIG_INVALID', `the groups claim limit must be a whole number, 0 or more (got ${limit})`);
  }
  return limit;
}

export class TokenIssuer {
  constructor(
    private readonly keys: SigningKeys,
    readonly lifetime: LifetimeMinutes,
    private readonly now: () => number,
    private readonly groupsClaim: GroupsClaimOptions,
  ) {}

  get maxLifetimeSeconds(): number {
    return this.lifetime.max * 60;
  }

  async sign(claims: JWTPayload): Promise<string> {
    const { kid, key } = await this.keys.signer();
    return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid, x5t: kid }).sign(key);
  }

  /** The token response of a grant. */
  async respond(issue: Issue): Promise<Record<string, string | number>> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const lifetime = randomInt(this.lifetime.min * 60, this.lifetime.max * 60 + 1);
    const ctx: ClaimsContext = {
      tenantId: issue.tenantId,
      issuers: issue.issuers,
      version: issue.version,
      clientId: issue.clientId,
      clientAuthenticated: issue.clientAuthenticated,
      target: issue.target,
      ...(issue.ipaddr ? { ipaddr: issue.ipaddr } : {}),
      issuedAt: nowSeconds,
      expiresAt: nowSeconds + lifetime,
      groupsClaimLimit: this.groupsClaim.limit,
      graphBase: this.groupsClaim.graphBase(),
    };
    const accessToken = await this.sign(accessTokenClaims(issue.subject, ctx));
    const user = issue.subject.kind === 'user' ? issue.subject.user : undefined;
    const v1 = issue.version === '1.0';
    let refreshToken: string | undefined;
    let idToken: string | undefined;
    if (user) {
      // v1 always returns a refresh token for users; v2 only when offline_access was asked.
      if (v1 || issue.target.oidc.includes('offline_access')) {
        refreshToken = await sealRefreshToken(
          { tenantId: issue.tenantId, objectId: user.objectId, clientId: issue.clientId },
          await this.keys.refreshTokenKey(),
          nowSeconds,
        );
      }
      if (issue.target.oidc.includes('openid')) {
        idToken = await this.sign(idTokenClaims(user, { ...ctx, expiresAt: nowSeconds + ID_TOKEN_LIFETIME_SECONDS }, issue.nonce));
      }
    }
    const extra = {
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      ...(idToken ? { id_token: idToken } : {}),
      ...(user && issue.clientInfo ? { client_info: Buffer.from(JSON.stringify({ uid: user.objectId, utid: issue.tenantId })).toString('base64url') } : {}),
    };
    if (v1) {
      return {
        token_type: 'Bearer',
        ...(user ? { scope: userPermissions(issue.target) } : {}),
        expires_in: String(lifetime),
        ext_expires_in: String(lifetime),
        expires_on: String(nowSeconds + lifetime),
        not_before: String(nowSeconds),
        resource: issue.target.resource,
        access_token: accessToken,
        ...extra,
      };
    }
    return {
      token_type: 'Bearer',
      scope: grantedScope(issue.target, !user),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: accessToken,
      ...extra,
    };
  }
}
