// The tenant's signing keys: issuer metadata from OIDC discovery, keys from its
// `jwks_uri` through jose's remote key set. jose caches keys, refetches on an unknown
// `kid` at most once per cooldown (so that forged kids cannot flood the provider), and
// gives up on slow answers. Two choices differ from jose's defaults:
//  - the cache never goes stale by age (a stale cache makes jose refetch before every
//    verification, so an unreachable provider would break tokens whose keys we hold);
//    instead a background refresh picks up new keys and tolerates failures;
//  - fetches go through pgwarden's bounded HTTPS client: a size cap, and the embedded
//    provider's CA.
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import { httpRequestJson } from '../util/http-client.js';
import { PgwardenError } from '../util/errors.js';
import { discoveryUrls, expectedIssuers, type EntraConfig } from './config.js';

export const KEY_REFETCH_COOLDOWN_MS = 5 * 60_000;
export const FETCH_TIMEOUT_MS = 5_000;
/** Entra's key sets are a few KB; discovery documents too. */
export const MAX_METADATA_BYTES = 256 * 1024;
/** Background refresh of keys and metadata. */
export const REFRESH_INTERVAL_MS = 10 * 60_000;

export interface IssuerKeys {
  readonly issuer: string;
  readonly version: '1.0' | '2.0';
  readonly getKey: JWTVerifyGetKey & { reload(): Promise<void> };
}

export interface DiscoveryDocument {
  issuer?: unknown;
  jwks_uri?: unknown;
}

/** An OIDC discovery document, bounded in time and size; `ca` is trusted besides the system's. */
export async function fetchDiscoveryDocument(url: string, ca: string | undefined): Promise<DiscoveryDocument> {
  try {
    const res = await httpRequestJson(url, { ca, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_METADATA_BYTES });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return res.json<DiscoveryDocument>();
  } catch (e) {
    throw new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', `cannot read the identity provider's metadata (${new URL(url).origin}): ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** jose's remote key set with pgwarden's choices (above): no staleness by age, a cooldown
 * on unknown kids, fetches through the bounded client. */
export function remoteKeySet(jwksUri: string, ca: string | undefined): IssuerKeys['getKey'] {
  return createRemoteJWKSet(new URL(jwksUri), {
    timeoutDuration: FETCH_TIMEOUT_MS,
    cooldownDuration: KEY_REFETCH_COOLDOWN_MS,
    cacheMaxAge: Infinity,
    [customFetch]: async (url: string) => {
      const res = await httpRequestJson(url, { ca, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_METADATA_BYTES });
      return new Response(new Uint8Array(res.body), { status: res.status, headers: { 'content-type': 'application/json' } });
    },
  });
}

/** Both issuers of one tenant with their key sets, loaded lazily, refreshed in the background. */
export class TenantKeys {
  private loading: Promise<IssuerKeys[]> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: EntraConfig,
    private readonly onRefreshError?: (e: unknown) => void,
  ) {}

  /** The key set for a token's `iss`, or undefined if the issuer is not the tenant's. */
  async forIssuer(iss: string): Promise<IssuerKeys | undefined> {
    const expected = expectedIssuers(this.config.authority, this.config.tenantId);
    if (iss !== expected.v1 && iss !== expected.v2) return undefined;
    const sets = await this.load();
    return sets.find((s) => s.issuer === iss);
  }

  private load(): Promise<IssuerKeys[]> {
    if (!this.loading) {
      this.loading = this.discover().catch((e: unknown) => {
        this.loading = undefined; // try again on the next sign-in
        throw e;
      });
      void this.loading.then(
        () => this.scheduleRefresh(),
        () => undefined,
      );
    }
    return this.loading;
  }

  private async discover(): Promise<IssuerKeys[]> {
    const urls = discoveryUrls(this.config.authority, this.config.tenantId);
    const expected = expectedIssuers(this.config.authority, this.config.tenantId);
    const [v1, v2] = await Promise.all([this.fetchDocument(urls.v1), this.fetchDocument(urls.v2)]);
    return [this.keysFor(v1, expected.v1, '1.0'), this.keysFor(v2, expected.v2, '2.0')];
  }

  private fetchDocument(url: string): Promise<DiscoveryDocument> {
    return fetchDiscoveryDocument(url, this.config.ca);
  }

  private keysFor(doc: DiscoveryDocument, issuer: string, version: '1.0' | '2.0'): IssuerKeys {
    // The document must describe the tenant we trust, and point to keys over HTTPS.
    if (doc.issuer !== issuer) {
      throw new PgwardenError(
        'IDENTITY_PROVIDER_UNAVAILABLE',
        `the identity provider's v${version} metadata names issuer ${String(doc.issuer)}, expected ${issuer}`,
      );
    }
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) {
      throw new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', `the identity provider's v${version} metadata has no https jwks_uri`);
    }
    const getKey = remoteKeySet(doc.jwks_uri, this.config.ca);
    return { issuer, version, getKey };
  }

  private scheduleRefresh(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.loading?.then((sets) => Promise.all(sets.map((s) => s.getKey.reload()))).catch((e: unknown) => this.onRefreshError?.(e));
    }, REFRESH_INTERVAL_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
