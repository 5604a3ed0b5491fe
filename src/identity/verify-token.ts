// Turns a password string into a verified Microsoft Entra access token, or a precise,
// secret-free reason why not. RS256 only; `kid` required; `iss` exactly the tenant's v1
// or v2 issuer; signature by a key the tenant publishes; `aud` in the accepted list;
// `exp`/`nbf` with the configured skew; `tid` the tenant.
// https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens
import { jwtVerify, type JWTPayload } from 'jose';
import { decodeUnverified, explainJoseError, refuse, VerifiedTokens } from './jwt.js';
import { PgwardenError } from '../util/errors.js';
import { MAX_CLOCK_SKEW_SECONDS, type EntraConfig } from './config.js';
import { TenantKeys } from './key-sets.js';

export interface VerifiedToken {
  readonly version: '1.0' | '2.0';
  readonly tenantId: string;
  /** `oid`: the user's or service principal's object id. */
  readonly objectId: string;
  /** User names the token carries (v1: upn, unique_name; v2: preferred_username). */
  readonly userNames: readonly string[];
  /** The client application: `appid` (v1) or `azp` (v2). */
  readonly appId: string | undefined;
  /** `idtyp`: "app" for service principals' own tokens. */
  readonly identityType: 'user' | 'app';
  /** Object ids of the groups the token's subject is a member of. */
  readonly groups: readonly string[];
  /** The subject is in too many groups for the token to list (`_claim_names.groups`, no
   * `groups`): membership must be asked of the directory. */
  readonly groupsOverage: boolean;
  readonly audience: string;
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
}

const NOT_A_TOKEN = 'The password is not a Microsoft Entra access token.';

export class TokenVerifier {
  private currentKeys: TenantKeys;
  private current: EntraConfig;
  private readonly verified = new VerifiedTokens<VerifiedToken>();

  constructor(config: EntraConfig, keys?: TenantKeys) {
    checkSkew(config);
    this.current = config;
    this.currentKeys = keys ?? new TenantKeys(config);
  }

  get config(): EntraConfig {
    return this.current;
  }

  get keys(): TenantKeys {
    return this.currentKeys;
  }

  /**
   * A reload: other accepted audiences, skew or authority (whose issuers and keys then
   * apply). Tokens verified before are checked again at their next use.
   */
  reconfigure(changes: Partial<Pick<EntraConfig, 'audiences' | 'clockSkewSeconds' | 'authority'>>): void {
    const next = { ...this.current, ...changes };
    checkSkew(next);
    if (next.authority !== this.current.authority) {
      const old = this.currentKeys;
      this.currentKeys = new TenantKeys(next);
      old.close();
    }
    this.current = next;
    this.verified.clear();
  }

  async verify(token: string): Promise<VerifiedToken> {
    const cached = this.verified.get(token, this.config.clockSkewSeconds);
    if (cached) return cached;
    const fresh = await this.verifyUncached(token);
    this.verified.set(token, fresh);
    return fresh;
  }

  private async verifyUncached(token: string): Promise<VerifiedToken> {
    const { header, claims: unverified } = decodeUnverified(token, NOT_A_TOKEN);
    if (header.alg !== 'RS256') throw refuse('TOKEN_ALGORITHM', 'The access token is not signed with RS256.');
    if (typeof header.kid !== 'string' || header.kid.length === 0) throw refuse('TOKEN_MALFORMED', 'The access token has no key id (kid).');
    const iss = typeof unverified.iss === 'string' ? unverified.iss : '';
    const issuer = await this.keys.forIssuer(iss);
    if (!issuer) {
      throw refuse(
        'TOKEN_ISSUER',
        `The access token was not issued by Microsoft Entra tenant ${this.config.tenantId}. Please acquire a token from that tenant.`,
      );
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuer.getKey, {
        algorithms: ['RS256'],
        issuer: issuer.issuer,
        audience: [...this.config.audiences],
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: ['exp', 'nbf', 'tid', 'oid'],
      }));
    } catch (e) {
      throw this.explain(e);
    }
    if (payload.tid !== this.config.tenantId) {
      throw refuse('TOKEN_TENANT', `The access token belongs to another tenant. Please acquire a token from tenant ${this.config.tenantId}.`);
    }
    return toVerified(payload, issuer.version);
  }

  private explain(e: unknown): PgwardenError {
    return explainJoseError(e, {
      audience: `the resource "${this.config.audiences[0]}"`,
      issuer: `The access token was not issued by Microsoft Entra tenant ${this.config.tenantId}.`,
      keyOwner: 'the tenant',
      algorithm: 'The access token is not signed with RS256.',
      notAToken: NOT_A_TOKEN,
    });
  }
}

function checkSkew(config: EntraConfig): void {
  if (config.clockSkewSeconds < 0 || config.clockSkewSeconds > MAX_CLOCK_SKEW_SECONDS) {
    throw new PgwardenError('CONFIG_INVALID', `the clock skew must be between 0 and ${MAX_CLOCK_SKEW_SECONDS} seconds`);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function toVerified(p: JWTPayload, version: '1.0' | '2.0'): VerifiedToken {
  const names = [str(p.upn), str(p.unique_name), str(p.preferred_username)].filter((n): n is string => n !== undefined);
  const groups = Array.isArray(p.groups) ? p.groups.filter((g): g is string => typeof g === 'string') : [];
  const aud = Array.isArray(p.aud) ? p.aud[0] : p.aud;
  return {
    version,
    tenantId: String(p.tid),
    objectId: String(p.oid),
    userNames: [...new Set(names)],
    appId: str(p.appid) ?? str(p.azp),
    identityType: p.idtyp === 'app' ? 'app' : 'user',
    groups,
    groupsOverage: !Array.isArray(p.groups) && hasGroupsSource(p._claim_names),
    audience: String(aud),
    expiresAt: Number(p.exp),
  };
}

function hasGroupsSource(claimNames: unknown): boolean {
  return typeof claimNames === 'object' && claimNames !== null && typeof (claimNames as Record<string, unknown>).groups === 'string';
}
