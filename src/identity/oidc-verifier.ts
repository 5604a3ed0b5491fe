// Access tokens of the OpenID Connect providers a cluster trusts besides Microsoft Entra
// (oidc-config.ts): verified against the one issuer the principal belongs to, so that a
// token of provider A can never sign in a principal of provider B. `iss` exactly that
// issuer; signature by a key of its discovery document's `jwks_uri`, with an allowed
// algorithm; `aud` accepted; `exp`/`nbf` with the configured skew; the subject claim
// present. https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation and
// RFC 9068 (JWT access tokens), section 4.
import { jwtVerify, type JWTPayload } from 'jose';
import { decodeUnverified, explainJoseError, refuse, VerifiedTokens } from './jwt.js';
import { PgwardenError } from '../util/errors.js';
import { MAX_CLOCK_SKEW_SECONDS } from './config.js';
import { fetchDiscoveryDocument, remoteKeySet, type IssuerKeys } from './key-sets.js';
import type { OidcIssuerConfig } from './oidc-config.js';

export interface VerifiedOidcToken {
  readonly issuer: string;
  /** The subject claim's value (`sub` by default). */
  readonly subject: string;
  /** The name claim's value, when the token has one. */
  readonly name: string | undefined;
  /** The groups claim's values. */
  readonly groups: readonly string[];
  readonly audience: string;
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
}

/** One issuer: its key set, found through its discovery document on first use. */
class OidcIssuer {
  private keys: Promise<IssuerKeys['getKey']> | undefined;

  constructor(readonly config: OidcIssuerConfig) {}

  getKey(): Promise<IssuerKeys['getKey']> {
    this.keys ??= this.discover().catch((e: unknown) => {
      this.keys = undefined; // try again on the next sign-in
      throw e;
    });
    return this.keys;
  }

  private async discover(): Promise<IssuerKeys['getKey']> {
    const { issuer, ca } = this.config;
    const doc = await fetchDiscoveryDocument(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, ca);
    // OpenID Connect Discovery 1.0, 4.3: the document's issuer is exactly the one asked for.
    if (doc.issuer !== issuer) {
      throw refuse('IDENTITY_PROVIDER_UNAVAILABLE', `the identity provider's metadata names issuer ${String(doc.issuer)}, expected ${issuer}`);
    }
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) {
      throw refuse('IDENTITY_PROVIDER_UNAVAILABLE', `the identity provider's metadata (${issuer}) has no https jwks_uri`);
    }
    return remoteKeySet(doc.jwks_uri, ca);
  }
}

const NOT_A_TOKEN = 'The password is not an access token.';

function algorithmRefusal(c: OidcIssuerConfig): string {
  return `The access token is not signed with an accepted algorithm (${c.algorithms.join(', ')}).`;
}

export class OidcVerifier {
  private readonly issuers = new Map<string, OidcIssuer>();
  private readonly verified = new VerifiedTokens<VerifiedOidcToken>();

  constructor(
    configs: readonly OidcIssuerConfig[],
    private clockSkewSeconds: number,
  ) {
    for (const c of configs) this.issuers.set(c.issuer, new OidcIssuer(c));
    this.setClockSkew(clockSkewSeconds);
  }

  /** The configured issuers, in the order given. */
  get configs(): OidcIssuerConfig[] {
    return [...this.issuers.values()].map((i) => i.config);
  }

  has(issuer: string): boolean {
    return this.issuers.has(issuer);
  }

  /** A reload's new skew; tokens verified before are checked again at their next use. */
  setClockSkew(seconds: number): void {
    if (seconds < 0 || seconds > MAX_CLOCK_SKEW_SECONDS)
      throw new PgwardenError('CONFIG_INVALID', `the clock skew must be between 0 and ${MAX_CLOCK_SKEW_SECONDS} seconds`);
    this.clockSkewSeconds = seconds;
    this.verified.clear();
  }

  /** Verifies `token` as one of `issuer`'s, or throws a TOKEN_* error its holder may read. */
  async verify(token: string, issuer: string): Promise<VerifiedOidcToken> {
    const key = `${issuer}\0${token}`;
    const cached = this.verified.get(key, this.clockSkewSeconds);
    if (cached) return cached;
    const fresh = await this.verifyUncached(token, issuer);
    this.verified.set(key, fresh);
    return fresh;
  }

  private async verifyUncached(token: string, iss: string): Promise<VerifiedOidcToken> {
    const issuer = this.issuers.get(iss);
    // The principal's issuer is no longer configured: no token can be checked for it.
    if (!issuer) throw refuse('TOKEN_ISSUER', `Tokens of ${iss} are not accepted by this gateway.`);
    const c = issuer.config;
    const { header, claims: unverified } = decodeUnverified(token, NOT_A_TOKEN);
    // Checked before any key is fetched: a token of another provider costs nothing.
    if (unverified.iss !== c.issuer) throw refuse('TOKEN_ISSUER', `The access token was not issued by ${c.issuer}. Please acquire a token from it.`);
    if (typeof header.alg !== 'string' || !(c.algorithms as readonly string[]).includes(header.alg)) throw refuse('TOKEN_ALGORITHM', algorithmRefusal(c));
    const getKey = await issuer.getKey();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: [...c.algorithms],
        issuer: c.issuer,
        audience: [...c.audiences],
        clockTolerance: this.clockSkewSeconds,
        requiredClaims: ['exp', c.subjectClaim],
      }));
    } catch (e) {
      throw this.explain(e, c);
    }
    const subject = payload[c.subjectClaim];
    if (typeof subject !== 'string' || subject.length === 0) throw refuse('TOKEN_CLAIMS', `The access token's "${c.subjectClaim}" claim is not a string.`);
    const name = payload[c.nameClaim];
    const groups = payload[c.groupsClaim];
    const aud = Array.isArray(payload.aud) ? payload.aud.find((a) => c.audiences.includes(a)) : payload.aud;
    return {
      issuer: c.issuer,
      subject,
      name: typeof name === 'string' && name.length > 0 ? name : undefined,
      groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
      audience: String(aud),
      expiresAt: Number(payload.exp),
    };
  }

  private explain(e: unknown, c: OidcIssuerConfig): PgwardenError {
    return explainJoseError(e, {
      audience: `"${c.audiences[0]}"`,
      issuer: `The access token was not issued by ${c.issuer}. Please acquire a token from it.`,
      keyOwner: c.issuer,
      algorithm: algorithmRefusal(c),
      notAToken: NOT_A_TOKEN,
    });
  }
}
