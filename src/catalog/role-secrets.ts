// Where the gateway learns a native role's SCRAM secret: the coordinator's
// pgwarden.role_secret() (a SECURITY DEFINER function that answers only for roles that
// may sign in through pgwarden, the auth_query pattern of PgBouncer), with a short cache.
// Found and not-found answers are cached alike, so that the timing of an answer does not
// tell a known role from an unknown one.
import type pg from 'pg';
import { parseScramSecret, type ScramSecret } from '../scram/primitives.js';

/** Long enough to absorb connection storms, short enough that a password changed
 * outside pgwarden takes effect quickly. pgwarden's own changes drop entries at once. */
export const ROLE_SECRET_TTL_MS = 5_000;
/** Bounds memory when somebody probes many names. */
const MAX_ENTRIES = 10_000;

export type RoleSecretLookup =
  | { kind: 'scram'; secret: ScramSecret }
  /** Unknown role, a role that may not sign in here, or a role whose password is not
   * SCRAM (MD5, none): all answered with a mock exchange and the same failure. */
  | { kind: 'none'; reason: 'unknown-or-not-allowed' | 'not-scram' };

interface Entry {
  value: RoleSecretLookup;
  expires: number;
}

export class RoleSecrets {
  private readonly cache = new Map<string, Entry>();

  constructor(private readonly pool: pg.Pool, private readonly ttlMs = ROLE_SECRET_TTL_MS) {}

  async lookup(role: string): Promise<RoleSecretLookup> {
    const now = Date.now();
    const hit = this.cache.get(role);
    if (hit && hit.expires > now) return hit.value;
    const res = await this.pool.query<{ secret: string | null; found: boolean }>(
      'SELECT s.secret, s.found FROM pgwarden.role_secret($1) AS s',
      [role],
    );
    const row = res.rows[0];
    let value: RoleSecretLookup;
    if (!row || !row.found) value = { kind: 'none', reason: 'unknown-or-not-allowed' };
    else {
      const secret = parseScramSecret(row.secret);
      value = secret ? { kind: 'scram', secret } : { kind: 'none', reason: 'not-scram' };
    }
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(role, { value, expires: now + this.ttlMs });
    return value;
  }

  /** Drops a cached answer (after a failed sign-in, or a change made through pgwarden). */
  forget(role?: string): void {
    if (role === undefined) this.cache.clear();
    else this.cache.delete(role);
  }
}
