// A real OpenID Connect provider that pgwarden did not write: panva's oidc-provider (a
// certified implementation), started by a test over HTTPS with its own keys and clients.
// 8.8.1: the last release that supports Node 20 (9 wants Node 22). Its JWT access tokens (RFC 9068) come from the client credentials grant with a resource
// indicator (RFC 8707); the subject is the client id, and extraTokenClaims adds the name
// and groups each client stands for, as a provider's claim mappers would.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { httpRequestJson } from '../../src/util/http-client.js';

export interface TestClient {
  readonly id: string;
  /** Claims its tokens carry besides the standard ones (preferred_username, groups, ...). */
  readonly claims: Record<string, unknown>;
}

export interface TestResource {
  /** The `aud` of its tokens. */
  readonly audience: string;
  readonly alg: 'RS256' | 'ES256' | 'EdDSA';
  /** Token lifetime in seconds (default 600). */
  readonly ttl?: number;
}

export interface TestOidcProvider {
  readonly issuer: string;
  /** A JWT access token of `client` for `resource` (a key of the resources given). */
  token(client: string, resource: string): Promise<string>;
  close(): Promise<void>;
}

export const CLIENT_SECRET = 'test-client-secret-that-is-long-enough';

export async function startOidcProvider(options: {
  tls: { certPem: string; keyPem: string; caPem: string };
  clients: readonly TestClient[];
  resources: Readonly<Record<string, TestResource>>;
}): Promise<TestOidcProvider> {
  let handler: ReturnType<Provider['callback']> | undefined;
  const server: Server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (req, res) => handler!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `https://localhost:${(server.address() as AddressInfo).port}`;

  const keys: Array<Record<string, unknown> & { alg: string }> = [];
  for (const alg of new Set(Object.values(options.resources).map((r) => r.alg))) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
    keys.push({ ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-key` });
  }
  const claimsOf = new Map(options.clients.map((c) => [c.id, c.claims]));
  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      client_id: c.id,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: keys[0]!.alg,
    })),
    jwks: { keys },
    cookies: { keys: ['test-cookie-key'] },
    features: {
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => Object.keys(options.resources)[0]!,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          const r = options.resources[indicator];
          if (!r) throw new Error(`unknown resource ${indicator}`);
          return { scope: 'pg', audience: r.audience, accessTokenTTL: r.ttl ?? 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: r.alg } } };
        },
      },
    },
    extraTokenClaims: (_ctx: unknown, token: unknown) => claimsOf.get((token as { clientId?: string }).clientId ?? '') ?? {},
  });
  handler = provider.callback();

  return {
    issuer,
    async token(client, resource) {
      const res = await httpRequestJson(`${issuer}/token`, {
        method: 'POST',
        ca: options.tls.caPem,
        form: { grant_type: 'client_credentials', client_id: client, client_secret: CLIENT_SECRET, resource, scope: 'pg' },
      });
      const body = res.json<{ access_token?: string; error?: string; error_description?: string }>();
      if (res.status !== 200 || !body.access_token) throw new Error(`token request failed: HTTP ${res.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
