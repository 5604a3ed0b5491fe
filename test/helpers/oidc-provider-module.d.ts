// The part of oidc-provider's API the tests use (it ships no types; see its docs/README.md).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown> & { extraTokenClaims?: (ctx: unknown, token: unknown) => unknown });
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}
