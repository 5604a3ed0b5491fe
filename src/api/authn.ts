// Who is calling the API: a Microsoft Entra admin with a bearer access token (verified
// exactly as the gateway verifies a token used as a password), or citus with HTTP Basic.
// A caller whose kind of authentication the cluster has disabled is refused, as at the
// gateway. Everything else gets 401.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CITUS_ROLE } from '../catalog/roles.js';
import { allowsEntra, allowsNative, type AuthMethod } from '../catalog/auth-method.js';
import type { EntraPrincipal } from '../catalog/principals.js';
import { verifierMatches } from '../scram/primitives.js';
import { coordinatorOf, type ClusterAdmin } from '../cluster/admin.js';
import { listPrincipals } from '../control/principals.js';
import { isGuid } from '../util/guid.js';
import { matchPrincipal } from '../identity/match-principal.js';
import type { TokenVerifier } from '../identity/verify-token.js';
import { PgwardenError, isPgwardenError } from '../util/errors.js';
import { constantTimeEqual } from '../scram/primitives.js';
import { SignInThrottle, retryAfterText } from '../util/throttle.js';

export type Caller =
  /** `password` is there when the request itself carried it (HTTP Basic), for statements
   * run as citus (cluster exec); it lives as long as the request, never logged. */
  { kind: 'citus'; name: 'citus'; password?: string } | { kind: 'entra'; name: string; principal: EntraPrincipal };

function unauthorized(message = "Sign in with a Microsoft Entra admin's access token (Authorization: Bearer) or as citus (HTTP Basic)."): PgwardenError {
  return new PgwardenError('UNAUTHORIZED', message);
}

export class ApiAuthenticator {
  /** The last citus password that matched, as a hash, with the verifier it matched. */
  private citusOk: { verifier: string; hash: string } | undefined;

  constructor(
    private readonly admin: ClusterAdmin,
    private readonly authMethod: () => Promise<AuthMethod>,
    private readonly verifier: TokenVerifier | undefined,
    private readonly throttle: SignInThrottle = new SignInThrottle(),
  ) {}

  /** @param address the caller's address, for throttling failed password attempts */
  async authenticate(authorization: string | undefined, address = 'unknown'): Promise<Caller> {
    if (!authorization) throw unauthorized();
    const space = authorization.indexOf(' ');
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === 'bearer' && value) return this.entra(value);
    if (scheme === 'basic' && value) return this.basic(value, address);
    throw unauthorized();
  }

  private async entra(token: string): Promise<Caller> {
    if (!this.verifier) throw unauthorized('Microsoft Entra ID is not configured for this cluster.');
    if (!allowsEntra(await this.authMethod())) throw new PgwardenError('FORBIDDEN', 'Microsoft Entra authentication is disabled for this cluster.');
    let verified;
    try {
      verified = await this.verifier.verify(token);
    } catch (e) {
      if (isPgwardenError(e) && e.code.startsWith('TOKEN_')) throw unauthorized(e.message);
      throw e;
    }
    // Only this token's object can match: the catalog answers for it alone.
    const candidates = isGuid(verified.objectId) ? await listPrincipals(this.admin, { admins: true, objectId: verified.objectId }) : [];
    for (const principal of candidates) {
      try {
        matchPrincipal(verified, principal);
        return { kind: 'entra', name: principal.roleName, principal };
      } catch {
        // try the next candidate
      }
    }
    throw new PgwardenError('FORBIDDEN', 'Only Microsoft Entra admins of this cluster may manage it.');
  }

  /** Whether a caller that signed in earlier (a portal session) may still manage the
   * cluster: its kind of sign-in still enabled, an Entra admin still an admin. */
  async stillAllowed(caller: Caller): Promise<boolean> {
    const method = await this.authMethod();
    if (caller.kind === 'citus') return allowsNative(method);
    if (!this.verifier || !allowsEntra(method)) return false;
    const admins = await listPrincipals(this.admin, { admins: true, objectId: caller.principal.objectId });
    return admins.some((p) => p.roleName === caller.principal.roleName);
  }

  private async basic(value: string, address: string): Promise<Caller> {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (colon < 0 || user !== CITUS_ROLE) throw unauthorized('HTTP Basic sign-in is for citus only.');
    // Password guessing through the API is throttled like at the gateway: citus is refused
    // from an address where it failed too often; other failures from the address only
    // make the answers to failures wait.
    const verdict = this.throttle.check(address, CITUS_ROLE);
    if (verdict.blocked) throw new PgwardenError('THROTTLED', `Too many failed sign-in attempts; try again in ${retryAfterText(verdict.retryAfterMs)}.`);
    const verifier = await this.admin.withAdmin(coordinatorOf(this.admin), async (c) => {
      const r = await c.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [CITUS_ROLE]);
      return r.rows[0]?.rolpassword ?? '';
    });
    const hash = createHash('sha256').update(password).digest('hex');
    const cached = this.citusOk !== undefined && this.citusOk.verifier === verifier && constantTimeEqual(Buffer.from(this.citusOk.hash), Buffer.from(hash));
    if (!cached && !verifierMatches(verifier, password)) {
      const delayMs = this.throttle.failure(address, CITUS_ROLE);
      if (delayMs > 0) await sleep(delayMs);
      throw unauthorized('The citus password is wrong.');
    }
    this.throttle.success(address, CITUS_ROLE);
    this.citusOk = { verifier, hash };
    if (!allowsNative(await this.authMethod()))
      throw new PgwardenError('FORBIDDEN', "PostgreSQL authentication is disabled for this cluster; sign in with a Microsoft Entra admin's token.");
    return { kind: 'citus', name: 'citus', password };
  }
}
