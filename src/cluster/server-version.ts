// Which PostgreSQL and Citus versions pgwarden runs on. Older servers are refused at
// start, naming what was found and what is needed: pgwarden relies on PostgreSQL 16's
// role membership options (GRANT ... WITH INHERIT/SET, pg_auth_members.oid), its
// pg_ident.conf keywords, and its hexadecimal integer literals.
import type pg from 'pg';
import { PgwardenError } from '../util/errors.js';

export const MIN_SERVER_MAJOR = 16;
const MIN_CITUS_MAJOR = 13;

/** Throws when `major` is older than pgwarden supports. `what` names the server for people. */
export function checkServerMajor(major: number, version: string, what: string): void {
  if (major < MIN_SERVER_MAJOR) {
    throw new PgwardenError('CONFIG_INVALID', `${what}: PostgreSQL ${version} found; pgwarden needs PostgreSQL ${MIN_SERVER_MAJOR} or newer (16, 17 or 18)`);
  }
}

interface ServerVersion {
  /** server_version_num / 10000: 16, 17, 18. */
  readonly major: number;
  readonly version: string;
  /** The citus extension's version in the connected database, if it is installed there. */
  readonly citus?: string;
}

/** Reads and checks a connected server's version (and Citus's, when installed). */
export async function checkServer(c: pg.Client, what: string): Promise<ServerVersion> {
  const r = await c.query<{ num: string; version: string; citus: string | null }>(
    `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
            (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus`,
  );
  const row = r.rows[0]!;
  const major = Math.floor(Number(row.num) / 10000);
  const version = row.version.split(' ')[0]!;
  checkServerMajor(major, version, what);
  if (row.citus !== null) {
    const citusMajor = Number(row.citus.split('.')[0]);
    if (citusMajor < MIN_CITUS_MAJOR) {
      throw new PgwardenError('CONFIG_INVALID', `${what}: Citus ${row.citus} found; pgwarden needs Citus ${MIN_CITUS_MAJOR} or newer (13 or 14)`);
    }
  }
  return { major, version, ...(row.citus !== null ? { citus: row.citus } : {}) };
}
