// LISTEN pgwarden_reconcile on the coordinator: the event trigger (schema.ts) sends a
// NOTIFY after each GRANT, REVOKE, ALTER DEFAULT PRIVILEGES or object creation, which
// PostgreSQL delivers when the transaction commits. PostgreSQL fires no event trigger
// for roles, memberships, role settings or database privileges (shared catalogs): on the
// same connection, a digest of those catalogs is read every second, and a change counts
// as a notification. A lost connection is re-opened; as notifications may have been
// missed meanwhile, a reconnection asks for a pass too.
// https://www.postgresql.org/docs/current/sql-notify.html
import type pg from 'pg';
import { coordinatorOf, type ClusterAdmin } from '../cluster/admin.js';
import { describeError } from '../util/errors.js';
import { quoteIdent } from '../util/sql.js';
import { pause, withTimeout } from './probe.js';
import { RECONCILE_CHANNEL } from './schema.js';

const RECONNECT_DELAY_MS = 1_000;
/** How often a listener that reads no digest checks its connection. */
const KEEPALIVE_MS = 5_000;
/** A digest read that takes longer ends the connection (and is reported as lost). */
const DIGEST_TIMEOUT_MS = 10_000;

/** What the pass reads from the shared catalogs, as one digest (SHA-256: md5() is refused
 * on FIPS-mode servers). Whole rows of pg_authid, pg_auth_members and pg_db_role_setting
 * (nothing in them changes by itself); of pg_database only what a pass reads (its other
 * columns move with VACUUM). */
const SHARED_DIGEST_SQL = `SELECT encode(sha256(convert_to(concat_ws(E'\\n',
  (SELECT string_agg(a::text, ',' ORDER BY a.oid) FROM pg_authid a),
  (SELECT string_agg(m::text, ',' ORDER BY m.oid) FROM pg_auth_members m),
  (SELECT string_agg(s::text, ',' ORDER BY s.setdatabase, s.setrole) FROM pg_db_role_setting s),
  (SELECT string_agg(concat_ws(' ', d.oid, d.datname, d.datdba, d.datacl, d.datallowconn), ',' ORDER BY d.oid) FROM pg_database d)),
  'UTF8')), 'hex') AS digest`;

export interface ListenerEvents {
  notified(payload: string): void;
  /** Listening (again) after a lost connection. */
  reconnected(): void;
  lost(error: string): void;
}

export class CoordinatorListener {
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly admin: ClusterAdmin,
    private readonly events: ListenerEvents,
    /** How often the shared catalogs' digest is read; undefined: not read on this
     * connection (the shared catalogs are the same from every database). */
    private readonly pollMs: number | undefined,
    /** Where to listen (event triggers and NOTIFY are per database); default the admin connection's. */
    private readonly database?: string,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    let first = true;
    while (!signal.aborted) {
      try {
        await this.admin.withAdmin(
          coordinatorOf(this.admin),
          async (c) => {
            c.on('notification', (n) => this.events.notified(n.payload ?? ''));
            await c.query(`LISTEN ${quoteIdent(RECONCILE_CHANNEL)}`);
            if (!first) this.events.reconnected();
            first = false;
            await this.watch(c, signal);
          },
          this.database,
        );
        if (!signal.aborted) this.events.lost('the connection closed');
      } catch (e) {
        if (!signal.aborted) this.events.lost(describeError(e));
      }
      first = false;
      await pause(RECONNECT_DELAY_MS, signal);
    }
  }

  /** Holds the connection until it ends or `signal` aborts, reading the shared catalogs'
   * digest every pollMs (a change is told as a notification); without pollMs, a cheap
   * query every few seconds notices a lost connection. A failed read ends the connection. */
  private async watch(c: pg.Client, signal: AbortSignal): Promise<void> {
    let closed = false;
    const onClosed = (): void => {
      closed = true;
    };
    c.once('end', onClosed);
    c.once('error', onClosed);
    let last: string | undefined;
    while (!signal.aborted && !closed) {
      if (this.pollMs === undefined) {
        await withTimeout(c.query('SELECT 1'), DIGEST_TIMEOUT_MS);
        await pause(KEEPALIVE_MS, signal);
        continue;
      }
      const r = await withTimeout(c.query<{ digest: string }>(SHARED_DIGEST_SQL), DIGEST_TIMEOUT_MS);
      const digest = r.rows[0]!.digest;
      if (last !== undefined && digest !== last) this.events.notified('roles, memberships, role settings or database privileges changed');
      last = digest;
      await pause(this.pollMs, signal);
    }
  }
}
