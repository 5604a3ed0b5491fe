// Authorization codes of the authorization code flow (RFC 6749 section 4.1) with PKCE
// (RFC 7636): issued after the user signs in on the authorize page, redeemed once at the
// token endpoint by the same client, with the same redirect URI and the code verifier.
// In memory: they live minutes.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { refuse } from './oauth-errors.js';
import type { Target } from './resources.js';

/** Entra's authorization codes are short-lived (about 10 minutes). */
export const AUTHORIZATION_CODE_LIFETIME_SECONDS = 600;
const MAX_OUTSTANDING = 10_000;

export interface AuthorizationGrant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly target: Target;
  readonly nonce: string | undefined;
  /** S256 code challenge, when the client sent one (required of public clients). */
  readonly codeChallenge: string | undefined;
  readonly objectId: string;
}

interface Outstanding extends AuthorizationGrant {
  readonly expiresAt: number;
  redeemed: boolean;
}

export class AuthorizationCodes {
  private readonly codes = new Map<string, Outstanding>();

  constructor(private readonly now: () => number) {}

  issue(grant: AuthorizationGrant): string {
    this.sweep();
    const code = `1.A${randomBytes(64).toString('base64url')}`;
    this.codes.set(code, { ...grant, expiresAt: this.now() + AUTHORIZATION_CODE_LIFETIME_SECONDS * 1000, redeemed: false });
    return code;
  }

  redeem(code: string, clientId: string, redirectUri: string | undefined, verifier: string | undefined): AuthorizationGrant {
    const grant = this.codes.get(code);
    if (!grant || grant.expiresAt <= this.now()) throw refuse.badGrant();
    if (grant.redeemed) throw refuse.codeRedeemed();
    // One attempt per code: a failed redemption burns it, so a verifier cannot be guessed.
    grant.redeemed = true;
    if (grant.clientId !== clientId) throw refuse.clientMismatch();
    if (redirectUri === undefined) throw refuse.missingParameter('redirect_uri');
    if (redirectUri !== grant.redirectUri) throw refuse.redirectMismatch(redirectUri);
    if (grant.codeChallenge !== undefined) {
      if (!verifier) throw refuse.missingParameter('code_verifier');
      const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
      const expected = Buffer.from(grant.codeChallenge);
      if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) throw refuse.verifierMismatch();
    }
    return grant;
  }

  private sweep(): void {
    const now = this.now();
    for (const [code, g] of this.codes) if (g.expiresAt <= now || this.codes.size > MAX_OUTSTANDING) this.codes.delete(code);
  }
}
