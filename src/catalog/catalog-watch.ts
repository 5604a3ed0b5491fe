// Keeps a gateway's view of the catalog current: the authentication method, the session
// expiry, and which
// cached role answers and kept server sessions are stale. Changes arrive at once through LISTEN pgwarden_catalog
// (the catalog's triggers and the control plane send NOTIFY); a re-read every second is
// the safety net for a lost notification or a dropped connection, so that a change
// applies to every new sign-in within a second on every gateway.
import type pg from 'pg';
import type { CatalogDb } from './db.js';
import type { Logger } from 'pino';
import { isAuthMethod, isSessionExpiry, type AuthMethod, type SessionExpiry } from './auth-method.js';
import type { RoleCatalog } from './role-catalog.js';

export const CATALOG_CHANNEL = 'pgwarden_catalog';
export const REREAD_INTERVAL_MS = 1_000;
const RECONNECT_DELAY_MS = 1_000;
const REREAD_SQL = `SELECT (SELECT value FROM pgwarden.settings WHERE name = 'auth_method') AS method,
  (SELECT value FROM pgwarden.settings WHERE name = 'session_expiry') AS session_expiry,
  (SELECT encode(sha256(convert_to(coalesce(
            string_agg(setdatabase || ' ' || setrole || ' ' || setconfig::text, ',' ORDER BY setdatabase, setrole), ''), 'UTF8')), 'hex')
     FROM pg_db_role_setting) AS settings`;

export class CatalogWatch {
  private method: AuthMethod = 'both';
  private expiry: SessionExpiry = 'never';
  /** A digest of pg_db_role_setting at the last re-read. */
  private settings: string | undefined;
  private rereading: Promise<void> | undefined;
  private rereadAgain = false;
  private listener: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    /** A new connection to the coordinator (for LISTEN); the watch ends it when done. */
    private readonly connect: () => Promise<pg.Client>,
    private readonly pool: CatalogDb,
    private readonly roles: RoleCatalog,
    private readonly log: Logger,
  ) {}

  get authMethod(): AuthMethod {
    return this.method;
  }

  /** Whether sessions signed in with a token end when it expires. */
  get sessionExpiry(): SessionExpiry {
    return this.expiry;
  }

  async start(): Promise<void> {
    await this.reread();
    await this.listen();
    this.timer = setInterval(() => void this.reread().catch(() => undefined), REREAD_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.listener?.end().catch(() => undefined);
  }

  /** Re-reads, one at a time: an ask while a read runs makes one more read after it (an
   * older answer landing last would undo a newer one). */
  private reread(): Promise<void> {
    if (this.rereading) {
      this.rereadAgain = true;
      return this.rereading;
    }
    this.rereading = (async () => {
      try {
        do {
          this.rereadAgain = false;
          await this.readOnce();
        } while (this.rereadAgain);
      } finally {
        this.rereading = undefined;
      }
    })();
    return this.rereading;
  }

  private async readOnce(): Promise<void> {
    const r = await this.pool.query<{ method: string | null; session_expiry: string | null; settings: string }>({
      name: 'pgwarden_catalog_reread',
      text: REREAD_SQL,
    });
    const expiry = r.rows[0]?.session_expiry ?? 'never';
    if (isSessionExpiry(expiry) && expiry !== this.expiry) {
      this.log.info({ event: 'session-expiry', sessionExpiry: expiry }, 'session expiry changed');
      this.expiry = expiry;
    }
    const v = r.rows[0]?.method ?? undefined;
    if (isAuthMethod(v) && v !== this.method) {
      this.log.info({ event: 'auth-method', method: v }, 'authentication method changed');
      this.method = v;
      // A method change also changes roles (citus LOGIN or not): cached answers are stale.
      this.roles.changed();
    }
    // ALTER ROLE/DATABASE ... SET applies when a session starts: kept server sessions
    // started before the change would hand the old settings on. (No trigger fires on
    // those commands; this re-read is how a change is seen.)
    const settings = r.rows[0]?.settings;
    if (settings !== undefined && this.settings !== undefined && settings !== this.settings) {
      this.log.info({ event: 'role-settings' }, 'role or database settings changed');
      this.roles.changed();
    }
    this.settings = settings;
  }

  private async listen(): Promise<void> {
    const client = await this.connect();
    client.on('notification', (n) => this.onChange(n.payload ?? ''));
    try {
      await client.query(`LISTEN ${CATALOG_CHANNEL}`);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    client.on('end', () => {
      if (this.stopped) return;
      this.log.warn({ event: 'catalog-listen-lost' }, 'lost the catalog notification connection; reconnecting');
      setTimeout(() => void this.reconnect(), RECONNECT_DELAY_MS).unref();
    });
    this.listener = client;
  }

  private async reconnect(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.listen();
      // Whatever changed while we were away: forget it all, read it again.
      this.roles.changed();
      await this.reread();
    } catch {
      setTimeout(() => void this.reconnect(), RECONNECT_DELAY_MS).unref();
    }
  }

  private onChange(payload: string): void {
    if (payload === 'settings') void this.reread().catch(() => undefined);
    else if (payload.startsWith('role:')) this.roles.changed(payload.slice(5));
    else this.roles.changed();
  }
}
