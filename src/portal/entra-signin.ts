// Signing in to the portal with Microsoft Entra ID (or the embedded provider): the OAuth
// 2.0 authorization code flow with PKCE, run by the portal's server, not by the page.
// The browser only carries the authorization code back; the server redeems it, verifies
// the access token exactly as the API verifies a bearer token (ctx.authenticator), and
// opens a session. The token never reaches the browser, so the page cannot leak it.
//   RFC 6749 section 4.1 (authorization code), RFC 7636 (PKCE, S256), RFC 9700 (state,
//   binding the flow to the browser that started it).
//   https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
import { createHash, randomBytes } from 'node:crypto';
import type { EntraConfig } from '../identity/config.js';
import { httpRequestJson } from '../util/http-client.js';
import { PgwardenError } from '../util/errors.js';

/** The cookie that ties a sign-in in progress to the browser that started it. SameSite=Lax:
 * it must come back on the identity provider's top-level redirect to the callback. */
export const SIGNIN_COOKIE = 'pgwarden_signin';
export const SIGNIN_COOKIE_OPTIONS = {
  path: '/portal/',
  httpOnly: true,
  secure: true,
  sameSite: 'lax' as const,
  maxAge: 600,
};
/** A sign-in must come back from the identity provider within this time. */
export const SIGNIN_TTL_MS = 10 * 60_000;
/** Sign-ins in progress kept at most; the oldest are dropped beyond. */
const MAX_PENDING = 1_000;
/** The token endpoint must answer within this time. */
const TOKEN_TIMEOUT_MS = 10_000;

export interface PendingSignIn {
  readonly state: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
  readonly created: number;
  /** Set when the sign-in failed: shown once on the sign-in page, then forgotten. */
  failure?: string;
}

/** Sign-ins in progress, keyed by the value of the sign-in cookie. In memory, like sessions. */
export class PendingSignIns {
  private readonly pending = new Map<string, PendingSignIn>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts a sign-in; returns the cookie value and the PKCE pair and state for the URL. */
  start(redirectUri: string): { binding: string; entry: PendingSignIn; codeChallenge: string } {
    this.sweep();
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    const binding = randomBytes(32).toString('base64url');
    const codeVerifier = randomBytes(32).toString('base64url');
    const entry: PendingSignIn = { state: randomBytes(24).toString('base64url'), codeVerifier, redirectUri, created: this.now() };
    this.pending.set(binding, entry);
    return { binding, entry, codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url') };
  }

  get(binding: string | undefined): PendingSignIn | undefined {
    if (!binding) return undefined;
    const entry = this.pending.get(binding);
    if (!entry) return undefined;
    if (this.now() - entry.created > SIGNIN_TTL_MS) {
      this.pending.delete(binding);
      return undefined;
    }
    return entry;
  }

  /** Keeps a failure to show on the sign-in page (the flow itself is over); returns the
   * cookie value under which it is kept, a new one if the browser sent none. */
  fail(binding: string | undefined, message: string): string {
    const key = binding ?? randomBytes(32).toString('base64url');
    this.pending.delete(key);
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(key, { state: '', codeVerifier: '', redirectUri: '', created: this.now(), failure: message });
    return key;
  }

  delete(binding: string | undefined): void {
    if (binding) this.pending.delete(binding);
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, v] of this.pending) if (now - v.created > SIGNIN_TTL_MS) this.pending.delete(k);
  }
}

function tenantBase(config: EntraConfig): string {
  return `${config.authority.replace(/\/+$/, '')}/${encodeURIComponent(config.tenantId)}`;
}

/** What the portal asks for: the first audience the cluster accepts (`.default`), so the
 * token is one the API verifies like any admin's; no refresh token, no ID token. */
export function portalScope(config: EntraConfig): string {
  const audience = config.audiences[0];
  if (!audience) throw new PgwardenError('CONFIG_INVALID', 'no accepted audience is configured for Microsoft Entra ID');
  return `${audience.replace(/\/+$/, '')}/.default`;
}

/** The identity provider's authorize URL for a sign-in in progress. */
export function authorizeUrl(config: EntraConfig, clientId: string, entry: PendingSignIn, codeChallenge: string): string {
  const u = new URL(`${tenantBase(config)}/oauth2/v2.0/authorize`);
  u.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    response_mode: 'query',
    redirect_uri: entry.redirectUri,
    scope: portalScope(config),
    state: entry.state,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    prompt: 'select_account',
  }).toString();
  return u.toString();
}

/**
 * Redeems an authorization code at the token endpoint (as a public client: PKCE, no
 * secret) and returns the access token. Errors carry the provider's description, which
 * never contains a secret, and never the code.
 */
export async function redeemCode(config: EntraConfig, clientId: string, entry: PendingSignIn, code: string): Promise<string> {
  let res;
  try {
    res = await httpRequestJson(`${tenantBase(config)}/oauth2/v2.0/token`, {
      form: {
        grant_type: 'authorization_code',
        client_id: clientId,
        code,
        redirect_uri: entry.redirectUri,
        code_verifier: entry.codeVerifier,
        scope: portalScope(config),
      },
      ca: config.ca,
      timeoutMs: TOKEN_TIMEOUT_MS,
    });
  } catch (e) {
    throw new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', `The identity provider did not answer: ${(e as Error).message}`);
  }
  let body: { access_token?: unknown; error?: unknown; error_description?: unknown } = {};
  try {
    body = res.json();
  } catch {
    // answered below
  }
  if (res.status !== 200 || typeof body.access_token !== 'string') {
    const why = typeof body.error_description === 'string' ? body.error_description : typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
    throw new PgwardenError('UNAUTHORIZED', `The identity provider did not issue a token: ${firstLine(why)}`);
  }
  return body.access_token;
}

/** Provider descriptions carry trace ids and timestamps on later lines; the first says why. */
export function firstLine(s: string): string {
  return s.split(/\r?\n/)[0]!.slice(0, 300);
}
