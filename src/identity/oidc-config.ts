// Which OpenID Connect providers besides Microsoft Entra a cluster trusts (Keycloak, Okta,
// Auth0, Google, Dex, ...), and what it accepts from each: `--oidc-issuer` and its
// settings (docs/oidc.md). An issuer is named by its exact `iss`; its metadata comes from
// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0, section 4).
import { PgwardenError } from '../util/errors.js';
import { isScopeList } from './config.js';

/** Asymmetric JWS algorithms only (RFC 7518 3.1, RFC 8037): never `none` or an HMAC,
 * whose key would be a secret shared with the provider. */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

export const OIDC_DEFAULTS = {
  nameClaim: 'preferred_username',
  subjectClaim: 'sub',
  groupsClaim: 'groups',
  algorithms: ['RS256'] as readonly OidcAlgorithm[],
  scope: 'openid',
} as const;

export interface OidcIssuerConfig {
  /** The exact `iss` of its tokens, e.g. `https://keycloak.example.com/realms/prod`. */
  readonly issuer: string;
  /** Accepted `aud` values (at least one: a token for another service is refused). */
  readonly audiences: readonly string[];
  /** The claim that names the role of a user (`preferred_username`, `email`, `upn`, ...). */
  readonly nameClaim: string;
  /** The stable subject, bound to the role when the principal is added (`sub`, `oid`). */
  readonly subjectClaim: string;
  /** The claim that lists the groups the subject is a member of. */
  readonly groupsClaim: string;
  /** Accepted signing algorithms. */
  readonly algorithms: readonly OidcAlgorithm[];
  /** The scope PostgreSQL 18's OAuth clients are told to ask for (the OAuth port). */
  readonly scope: string;
  /** An extra CA to trust for the issuer's HTTPS (PEM), besides the system's. */
  readonly ca?: string;
}

const CLAIM = /^[A-Za-z0-9_:.\-/]{1,100}$/;

/** The settings checked, defaults filled in; a CONFIG_INVALID error naming what is wrong. */
export function checkOidcIssuer(input: Partial<OidcIssuerConfig> & { issuer: string }): OidcIssuerConfig {
  const where = `--oidc-issuer ${input.issuer}`;
  let url: URL;
  try {
    url = new URL(input.issuer);
  } catch {
    throw new PgwardenError('CONFIG_INVALID', `${where}: not a URL`);
  }
  // OpenID Connect Discovery 1.0, 3: the issuer is an https URL without query or fragment.
  if (url.protocol !== 'https:' || url.search || url.hash)
    throw new PgwardenError('CONFIG_INVALID', `${where}: an issuer is an https URL without query or fragment`);
  const audiences = [...(input.audiences ?? [])];
  if (audiences.length === 0) {
    throw new PgwardenError('CONFIG_INVALID', `${where}: give the audiences its tokens must be for (--oidc-audience, or audience: in the configuration file)`);
  }
  const algorithms = [...(input.algorithms ?? OIDC_DEFAULTS.algorithms)];
  for (const alg of algorithms) {
    if (!(OIDC_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new PgwardenError('CONFIG_INVALID', `${where}: algorithm ${JSON.stringify(alg)} is not one of ${OIDC_ALGORITHMS.join(', ')}`);
    }
  }
  const claims = {
    nameClaim: input.nameClaim ?? OIDC_DEFAULTS.nameClaim,
    subjectClaim: input.subjectClaim ?? OIDC_DEFAULTS.subjectClaim,
    groupsClaim: input.groupsClaim ?? OIDC_DEFAULTS.groupsClaim,
  };
  for (const [what, claim] of Object.entries(claims)) {
    if (!CLAIM.test(claim)) throw new PgwardenError('CONFIG_INVALID', `${where}: ${what} ${JSON.stringify(claim)} is not a claim name`);
  }
  const scope = input.scope ?? OIDC_DEFAULTS.scope;
  if (!isScopeList(scope)) {
    throw new PgwardenError('CONFIG_INVALID', `${where}: scope ${JSON.stringify(scope)} is not a list of OAuth scopes separated by single spaces`);
  }
  return { issuer: input.issuer, audiences, ...claims, algorithms, scope, ...(input.ca ? { ca: input.ca } : {}) };
}

/** Issuers are told apart by their exact string: the same one twice is a mistake. */
export function checkOidcIssuers(issuers: readonly OidcIssuerConfig[]): readonly OidcIssuerConfig[] {
  const seen = new Set<string>();
  for (const i of issuers) {
    if (seen.has(i.issuer)) throw new PgwardenError('CONFIG_INVALID', `--oidc-issuer ${i.issuer} is given twice`);
    seen.add(i.issuer);
  }
  return issuers;
}
