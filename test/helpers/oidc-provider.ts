// A real OpenID Connect provider that pgwarden did not write: panva's oidc-provider (a
// certified implementation), started by a test over HTTPS with its own keys and clients.
// 8.8.1: the last release that supports Node 20 (9 wants Node 22). Its JWT access tokens (RFC 9068) come from the client credentials grant with a resource
// indicator (RFC 8707); the subject is the client id, and extraTokenClaims adds the name
// and groups each client stands for, as a provider's claim mappers would.
import { createHash, randomBytes } from 'node:crypto';
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
  /** A user's JWT access token for `resource`, by the authorization code flow with PKCE
   * through the provider's own sign-in and consent pages, as a browser would. */
  userToken(account: string, resource: string): Promise<string>;
  /** Approves a device code (RFC 8628) on the provider's device page as `account`; the page's text. */
  approveDevice(userCode: string, account: string): Promise<string>;
  close(): Promise<void>;
}

export const CLIENT_SECRET = 'test-client-secret-that-is-long-enough';

/** The public client the user flow signs in with. */
const USER_CLIENT = 'psql-user';
const REDIRECT_URI = 'https://client.example/callback';
/** The public client of PostgreSQL 18's device flow. */
export const DEVICE_CLIENT = 'psql-device';

export async function startOidcProvider(options: {
  tls: { certPem: string; keyPem: string; caPem: string };
  clients: readonly TestClient[];
  /** Users, by account id (their `sub`), with the claims their tokens carry. */
  accounts?: Readonly<Record<string, Record<string, unknown>>>;
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
  const accounts = options.accounts ?? {};
  const provider = new Provider(issuer, {
    clients: options.clients
      .map((c) => ({
        client_id: c.id,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
        id_token_signed_response_alg: keys[0]!.alg,
      }))
      .concat([
        {
          client_id: USER_CLIENT,
          grant_types: ['authorization_code'],
          redirect_uris: [REDIRECT_URI],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
          id_token_signed_response_alg: keys[0]!.alg,
        } as never,
        {
          client_id: DEVICE_CLIENT,
          grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'none',
          id_token_signed_response_alg: keys[0]!.alg,
        } as never,
      ]),
    findAccount: (_ctx: unknown, id: string) => (accounts[id] ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
    jwks: { keys },
    cookies: { keys: ['test-cookie-key'] },
    features: {
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
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
    extraTokenClaims: (_ctx: unknown, token: unknown) => {
      const t = token as { clientId?: string; accountId?: string };
      return (t.accountId ? accounts[t.accountId] : claimsOf.get(t.clientId ?? '')) ?? {};
    },
  });
  handler = provider.callback();

  type Step = { status: number; location: string; body: string };
  /** One person's browser: its cookies, and its way through the sign-in and consent pages. */
  const browser = (account: string) => {
    const jar = new Map<string, string>();
    const call = async (url: string, form?: Record<string, string>): Promise<Step> => {
      const res = await httpRequestJson(new URL(url, issuer).toString(), {
        method: form ? 'POST' : 'GET',
        ca: options.tls.caPem,
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
        ...(form ? { form } : {}),
      });
      const set = res.headers['set-cookie'];
      for (const c of Array.isArray(set) ? set : set ? [set] : []) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
      return { status: res.status, location: String(res.headers.location ?? ''), body: res.text() };
    };
    /** Follows redirects, submitting the sign-in and consent forms, until `done`. */
    const signIn = async (first: Step, done: (step: Step) => boolean): Promise<Step> => {
      let step = first;
      for (let i = 0; i < 8 && !done(step); i++) {
        if (step.status !== 303 && step.status !== 302) throw new Error(`the sign-in stopped at HTTP ${step.status}: ${step.body.slice(0, 200)}`);
        if (step.location.includes('/interaction/')) {
          const page = await call(step.location);
          const prompt = /name="prompt" value="(\w+)"/.exec(page.body)?.[1] ?? (page.body.includes('name="login"') ? 'login' : 'consent');
          step = await call(step.location, prompt === 'login' ? { prompt, login: account, password: 'any' } : { prompt });
        } else {
          step = await call(step.location);
        }
      }
      return step;
    };
    return { call, signIn };
  };

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
    async approveDevice(userCode, account) {
      const { call, signIn } = browser(account);
      const page = await call('/device');
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1];
      if (!xsrf) throw new Error(`no xsrf on the device page: ${page.body.slice(0, 200)}`);
      // The code, then "Continue" on its confirmation page (same form, confirm=yes).
      const confirm = await call('/device', { xsrf, user_code: userCode });
      const xsrf2 = /name="xsrf" value="([^"]+)"/.exec(confirm.body)?.[1];
      if (!xsrf2) throw new Error(`no confirmation page: HTTP ${confirm.status} ${confirm.body.slice(0, 200)}`);
      return (await signIn(await call('/device', { xsrf: xsrf2, user_code: userCode, confirm: 'yes' }), (st) => st.status === 200)).body;
    },
    async userToken(account, resource) {
      const { call, signIn } = browser(account);
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const query = new URLSearchParams({
        client_id: USER_CLIENT,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid pg',
        resource,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      // Sign-in page, then consent page, each submitted as its form would be.
      const step = await signIn(await call(`/auth?${query}`), (st) => st.location.startsWith(REDIRECT_URI));
      const code = new URL(step.location).searchParams.get('code');
      if (!code) throw new Error(`no code: ${step.location}`);
      const res = await httpRequestJson(`${issuer}/token`, {
        method: 'POST',
        ca: options.tls.caPem,
        form: { grant_type: 'authorization_code', client_id: USER_CLIENT, code, redirect_uri: REDIRECT_URI, code_verifier: verifier, resource },
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
