// Every connection the reconciler uses is set up the same way on every node, so that
// what PostgreSQL renders (type names in routine signatures, timestamps) is byte for
// byte comparable between nodes, and so that a statement never waits long on a lock.
// https://www.postgresql.org/docs/current/runtime-config-client.html
import type pg from 'pg';
import type { AdminNode, ClusterAdmin } from '../cluster/admin.js';
import { CITUS_SESSION } from './citus.js';
import { isServerGoingAway } from '../util/errors.js';

/** A worker busy with a long transaction must not hold up the pass: give up, retry next pass. */
const LOCK_TIMEOUT_MS = 2_000;
const STATEMENT_TIMEOUT_MS = 60_000;

// search_path pg_catalog only: format_type() then qualifies every type outside
// pg_catalog, and SET ROLE cannot change how a name resolves ("$user" schemas).
const SETUP = [
  'SET search_path = pg_catalog, pg_temp',
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'iso_8601'",
  `SET lock_timeout = ${LOCK_TIMEOUT_MS}`,
  `SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`,
  // The reconciler is the one writer to the workers: what it writes there stays there.
  ...CITUS_SESSION,
].join('; ');

const TEARDOWN = [
  'RESET ROLE',
  'RESET search_path',
  'RESET TimeZone',
  'RESET DateStyle',
  'RESET IntervalStyle',
  'RESET lock_timeout',
  'RESET statement_timeout',
  ...CITUS_SESSION.map((s) => s.replace(/^SET (\S+) = .*$/, 'RESET $1')),
].join('; ');

/** Thrown when the node could not be reached at all (as opposed to a statement failing there). */
export class UnreachableError extends Error {
  constructor(
    readonly node: string,
    cause: unknown,
  ) {
    super(`${node} is unreachable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'UnreachableError';
  }
}

/**
 * Runs `fn` on an administrative connection to `node`, set up as above. A failure to
 * connect becomes UnreachableError; a failure inside `fn` passes through unchanged.
 */
export async function withSession<T>(admin: ClusterAdmin, node: AdminNode, fn: (c: pg.Client) => Promise<T>, database?: string): Promise<T> {
  let connected = false;
  try {
    return await admin.withAdmin(
      node,
      async (c) => {
        connected = true;
        await c.query(SETUP);
        try {
          return await fn(c);
        } finally {
          // The connection may be pooled by another ClusterAdmin: leave it as we found it.
          await c.query(TEARDOWN).catch(() => undefined);
        }
      },
      database,
    );
  } catch (e) {
    if (!connected || isConnectionLoss(e)) throw new UnreachableError(node.name, e);
    throw e;
  }
}

/** The server went away under us: shutting down, crashed, or the socket closed. */
function isConnectionLoss(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  if (isServerGoingAway(code)) return true;
  return /Connection terminated|Client was closed|ECONNRESET|EPIPE/.test((e as Error)?.message ?? '');
}
