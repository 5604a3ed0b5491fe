// The provider's issuer identifiers: the embedded equivalents of Entra ID's
// `https://sts.windows.net/{tid}/` (v1.0 tokens) and
// `https://login.microsoftonline.com/{tid}/v2.0` (v2.0 tokens). The gateway compares a
// token's `iss` with these exactly (src/identity/config.ts, expectedIssuers).

export interface Issuers {
  readonly v1: string;
  readonly v2: string;
}

export function issuersFor(authority: string, tenantId: string): Issuers {
  return { v1: `${authority}/${tenantId}/`, v2: `${authority}/${tenantId}/v2.0` };
}
