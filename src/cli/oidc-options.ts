// `--oidc-issuer` and its settings (docs/oidc.md): the flags apply to every issuer given
// as a URL; in the configuration file an issuer may instead be a mapping with its own
// settings (issuer, audience, name-claim, subject-claim, groups-claim, algorithm).
import { resolve } from 'node:path';
import { readOptional } from '../util/files.js';
import { PgwardenError } from '../util/errors.js';
import { checkOidcIssuer, checkOidcIssuers, type OidcIssuerConfig } from '../identity/oidc-config.js';

/** An issuer of the configuration file written as a mapping. */
export interface OidcIssuerEntry {
  issuer: string;
  audience?: string[];
  'name-claim'?: string;
  'subject-claim'?: string;
  'groups-claim'?: string;
  algorithm?: string[];
  scope?: string;
}

/** The options of `up` this file reads. */
export interface OidcOptions {
  oidcIssuer?: Array<string | OidcIssuerEntry>;
  oidcAudience?: string[];
  oidcNameClaim?: string;
  oidcSubjectClaim?: string;
  oidcGroupsClaim?: string;
  oidcAlgorithm?: string[];
  oidcScope?: string;
  oidcCaFile?: string;
}

/** The issuers, checked, without the CA (read by oidcIssuersOf); `config check` calls this. */
export function oidcIssuerSpecs(opts: OidcOptions): OidcIssuerConfig[] {
  const flagged =
    (opts.oidcAudience || opts.oidcNameClaim || opts.oidcSubjectClaim || opts.oidcGroupsClaim || opts.oidcAlgorithm || opts.oidcScope || opts.oidcCaFile) !==
    undefined;
  if (!opts.oidcIssuer?.length) {
    if (flagged) throw new PgwardenError('CONFIG_INVALID', '--oidc-audience, --oidc-*-claim, --oidc-algorithm and --oidc-ca-file go with --oidc-issuer');
    return [];
  }
  /** The issuer's own setting, else the flag's, as `key` when either is given. */
  const pick = <T>(own: T | undefined, flag: T | undefined, key: string): Record<string, T> => {
    const value = own ?? flag;
    return value === undefined ? {} : { [key]: value };
  };
  return checkOidcIssuers(
    opts.oidcIssuer.map((i) => {
      const e: Partial<OidcIssuerEntry> = typeof i === 'string' ? {} : i;
      return checkOidcIssuer({
        issuer: typeof i === 'string' ? i : i.issuer,
        ...pick(e.audience, opts.oidcAudience, 'audiences'),
        ...pick(e['name-claim'], opts.oidcNameClaim, 'nameClaim'),
        ...pick(e['subject-claim'], opts.oidcSubjectClaim, 'subjectClaim'),
        ...pick(e['groups-claim'], opts.oidcGroupsClaim, 'groupsClaim'),
        ...pick(e.algorithm, opts.oidcAlgorithm, 'algorithms'),
        ...pick(e.scope, opts.oidcScope, 'scope'),
      });
    }),
  ) as OidcIssuerConfig[];
}

/** The issuers as the gateway takes them, with --oidc-ca-file's CA when given. */
export async function oidcIssuersOf(opts: OidcOptions): Promise<OidcIssuerConfig[]> {
  const issuers = oidcIssuerSpecs(opts);
  if (!opts.oidcCaFile) return issuers;
  const ca = await readOptional(resolve(opts.oidcCaFile));
  if (!ca?.includes('-----BEGIN CERTIFICATE-----'))
    throw new PgwardenError('CONFIG_INVALID', `--oidc-ca-file ${opts.oidcCaFile} does not exist or holds no PEM certificate`);
  return issuers.map((i) => ({ ...i, ca }));
}
