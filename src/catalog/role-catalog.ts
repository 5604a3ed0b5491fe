// What the gateway learns about a role from the coordinator, in one round trip: whether
// it is a Microsoft Entra principal (then the token decides), else its SCRAM secret
// through pgwarden.role_secret() (a SECURITY DEFINER function that answers only for roles
// that may sign in through pgwarden: PgBouncer's auth_query pattern). Answers are cached
// briefly, found and not-found alike, so that the timing of an answer does not tell a
// known role from an unknown one.
import type { CatalogDb } from './db.js';
import { parseScramSecret, type ScramSecret } from '../scram/primitives.js';
import { PgwardenError } from '../util/errors.js';
import { principalFromRow, type EntraPrincipal, type PrincipalRow } from './principals.js';

/** Long enough to absorb connection storms, short enough that a password changed
 * outside pgwarden takes effect quickly. pgwarden's own changes drop entries at once. */
export const ROLE_CACHE_TTL_MS = 5_000;
/** Bounds memory when somebody probes many names. */
const MAX_ENTRIES = 10_000;

export type RoleLookup =
  /** `verifier`: the role's password verifier as stored, to tell whether it changed. */
  | { kind: 'entra'; principal: EntraPrincipal; verifier: string | null }
  | { kind: 'scram'; secret: ScramSecret; verifier: string }
  /** Unknown role, a role that may not sign in here, or a role whose password is not
   * SCRAM (MD5, none): all answered with a mock exchange and the same failure. */
  | { kind: 'none'; reason: 'unknown-or-not-allowed' | 'not-scram' };

interface Entry {
  value: RoleLookup;
  expires: number;
}

type Row = Partial<PrincipalRow> & { found: boolean; secret: string | null };

export class RoleCatalog {
  private readonly cache = new Map<string, Entry>();
  private readonly changeListeners: Array<(role: string | undefined) => void> = [];
  /** Rechecks in flight, by role and database. */
  private readonly rechecks = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly pool: CatalogDb,
    private readonly ttlMs = ROLE_CACHE_TTL_MS,
  ) {}

  async lookup(role: string): Promise<RoleLookup> {
    const now = Date.now();
    const hit = this.cache.get(role);
    if (hit && hit.expires > now) return hit.value;
    // Named statements: each pool connection parses and plans them once.
    const res = await this.pool
      .query<Row>({
        name: 'pgwarden-role-lookup',
        text: `SELECT s.found, s.secret, p.role_name, p.principal_type, p.object_id, p.tenant_id, p.issuer, p.app_id, p.is_admin
               FROM pgwarden.role_secret($1) AS s
               LEFT JOIN pgwarden.entra_principals AS p ON p.role_name = $1`,
        values: [role],
      })
      .catch((e: unknown) => {
        throw new PgwardenError('BACKEND_UNAVAILABLE', 'the database server is not reachable right now; try again', { cause: e });
      });
    const value = toLookup(res.rows[0]);
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(role, { value, expires: now + this.ttlMs });
    return value;
  }

  /**
   * Asks the coordinator now, past the cache, for the verifier of a role that may still
   * sign in (LOGIN, not expired) and connect to `database` (CONNECT, and the database
   * allows connections); undefined if it may not. A server session handed to a new
   * client skips PostgreSQL's own checks: this is them. Sign-ins that ask while a query
   * for the same role and database is under way share it (its answer is as old as that
   * query, milliseconds), so that a flood of connections costs the coordinator one query
   * at a time per role and database.
   */
  recheck(role: string, database: string): Promise<string | undefined> {
    const key = `${role}\0${database}`;
    const inFlight = this.rechecks.get(key);
    if (inFlight) return inFlight;
    const asked = this.pool
      .query<{ secret: string | null; may_connect: boolean | null }>({
        name: 'pgwarden-role-recheck',
        text: `SELECT s.secret,
                      CASE WHEN s.found THEN has_database_privilege($1, $2, 'CONNECT')
                                         AND (SELECT datallowconn FROM pg_catalog.pg_database WHERE datname = $2) END AS may_connect
                 FROM pgwarden.role_secret($1) AS s`,
        values: [role, database],
      })
      .then((res) => {
        const row = res.rows[0];
        return row?.may_connect && row.secret ? row.secret : undefined;
      })
      .finally(() => this.rechecks.delete(key));
    this.rechecks.set(key, asked);
    return asked;
  }

  /** Drops a cached answer (after a failed sign-in: the password may have changed). */
  forget(role?: string): void {
    if (role === undefined) this.cache.clear();
    else this.cache.delete(role);
  }

  /** A role changed (or all may have): drops its cached answer and tells whoever keeps
   * sessions of the role, so that they drop them too. */
  changed(role?: string): void {
    this.forget(role);
    for (const listener of this.changeListeners) listener(role);
  }

  onChange(listener: (role: string | undefined) => void): void {
    this.changeListeners.push(listener);
  }
}

function toLookup(row: Row | undefined): RoleLookup {
  if (row?.role_name) return { kind: 'entra', principal: principalFromRow(row as PrincipalRow), verifier: row.found ? row.secret : null };
  if (!row?.found) return { kind: 'none', reason: 'unknown-or-not-allowed' };
  const secret = parseScramSecret(row.secret);
  return secret ? { kind: 'scram', secret, verifier: row.secret! } : { kind: 'none', reason: 'not-scram' };
}
