// What every endpoint of the provider works with, and the `{tenant}` segment of its URLs.
import type { SignInThrottle } from '../util/throttle.js';
import type { Logger } from '../util/log.js';
import type { AuthorizationCodes } from './authorization-codes.js';
import type { DeviceCodes } from './device-codes.js';
import type { Directory } from './directory.js';
import type { FormGuard } from './form-guard.js';
import { issuersFor, type Issuers } from './issuers.js';
import type { DirectoryData } from './model.js';
import { refuse } from './oauth-errors.js';
import type { SigningKeys } from './signing-keys.js';
import type { TokenIssuer } from './token-issuer.js';

export interface ProviderContext {
  readonly directory: Directory;
  readonly keys: SigningKeys;
  readonly issuer: TokenIssuer;
  readonly deviceCodes: DeviceCodes;
  readonly authorizationCodes: AuthorizationCodes;
  readonly forms: FormGuard;
  /** Failed password attempts, per client address and user name. */
  readonly passwords: SignInThrottle;
  readonly now: () => number;
  readonly log: Logger;
  /** `https://localhost:PORT`, once listening. */
  authority(): string;
}

/** Tenant aliases Entra accepts for user sign-ins (the tenant is then the user's). */
const MULTI_TENANT = ['organizations', 'common'];

export interface TenantScope {
  readonly data: DirectoryData;
  readonly issuers: Issuers;
  /** The URL named `organizations` or `common` rather than the tenant. */
  readonly multiTenant: boolean;
}

/** The tenant a URL names: its id or its domain (case-insensitive), or an alias. */
export async function resolveTenant(ctx: ProviderContext, tenant: string): Promise<TenantScope> {
  const data = await ctx.directory.snapshot();
  const t = tenant.toLowerCase();
  if (!data || (t !== data.tenant.id && t !== data.tenant.domain.toLowerCase() && !MULTI_TENANT.includes(t))) {
    throw refuse.tenantNotFound(tenant.slice(0, 100));
  }
  return { data, issuers: issuersFor(ctx.authority(), data.tenant.id), multiTenant: MULTI_TENANT.includes(t) };
}
