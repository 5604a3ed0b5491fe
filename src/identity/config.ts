// Which identity provider and tenant a cluster trusts, and what it accepts from it.
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
import { DEFAULTS } from '../util/defaults.js';
import { PgwardenError } from '../util/errors.js';

/** The audiences that the managed services issue tokens for (DESIGN.md, "audiences"). */
export const DEFAULT_AUDIENCES: readonly string[] = [
  'https://token.postgres.cosmos.azure.com',
  'https://postgres.cosmos.azure.com',
  'https://ossrdbms-aad.database.windows.net',
];

/** Microsoft Entra ID's public cloud authority. */
export const ENTRA_AUTHORITY = DEFAULTS.entraAuthority;

/** Clock skew tolerated on `exp` and `nbf`, at most (the bound). */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export interface EntraConfig {
  /** `https://login.microsoftonline.com` for Entra ID, or the embedded provider's URL. */
  readonly authority: string;
  /** The tenant (directory) id, a GUID. */
  readonly tenantId: string;
  /** Accepted `aud` values. */
  readonly audiences: readonly string[];
  /** Tolerated clock skew on exp/nbf, in seconds (0 to 300). */
  readonly clockSkewSeconds: number;
  /** An extra CA to trust for the authority (the embedded provider's local CA), PEM. */
  readonly ca?: string;
}

export interface Issuers {
  /** v1.0 tokens (`ver` "1.0"). */
  readonly v1: string;
  /** v2.0 tokens (`ver` "2.0"). */
  readonly v2: string;
}

/**
 * The exact `iss` values of the tenant's tokens. Entra ID: v1 `https://sts.windows.net/{tid}/`,
 * v2 `https://login.microsoftonline.com/{tid}/v2.0`. The embedded provider mirrors the
 * shapes under its own URL: `{authority}/{tid}/` and `{authority}/{tid}/v2.0`.
 */
export function expectedIssuers(authority: string, tenantId: string): Issuers {
  const base = authority.replace(/\/+$/, '');
  if (new URL(base).host === 'login.microsoftonline.com') {
    return { v1: `https://sts.windows.net/${tenantId}/`, v2: `${base}/${tenantId}/v2.0` };
  }
  return { v1: `${base}/${tenantId}/`, v2: `${base}/${tenantId}/v2.0` };
}

/** OIDC discovery documents of the tenant, v1 and v2. */
export function discoveryUrls(authority: string, tenantId: string): Issuers {
  const base = authority.replace(/\/+$/, '');
  return {
    v1: `${base}/${tenantId}/.well-known/openid-configuration`,
    v2: `${base}/${tenantId}/v2.0/.well-known/openid-configuration`,
  };
}

/** RFC 6749 3.3: scope tokens of printable ASCII but '"' and '\', separated by one space. */
export function isScopeList(scope: string): boolean {
  return /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(scope);
}

/**
 * What PostgreSQL 18's OAuth clients are told (the gateway's OAuth port): the tenant's
 * v2 issuer and its discovery document, and the scope to ask for (default: the first
 * accepted audience's `/.default`). v2, because libpq requires the document to be at
 * `{issuer}/.well-known/openid-configuration` and to name that issuer: Entra's v1
 * document is at `{authority}/{tid}/…` but names `https://sts.windows.net/{tid}/`.
 */
export function oauthChallenge(config: EntraConfig, scope?: string): { issuer: string; discoveryUrl: string; scope: string } {
  const chosen = scope ?? `${config.audiences[0]!.replace(/\/+$/, '')}/.default`;
  if (!isScopeList(chosen)) {
    throw new PgwardenError('CONFIG_INVALID', `--oauth-scope ${JSON.stringify(chosen)} is not a list of OAuth scopes separated by single spaces`);
  }
  return { issuer: expectedIssuers(config.authority, config.tenantId).v2, discoveryUrl: discoveryUrls(config.authority, config.tenantId).v2, scope: chosen };
}
