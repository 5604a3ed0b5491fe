// What the reconciler keeps on the coordinator, installed by installReconcileSchema()
// (idempotent; Reconciler.start() calls it):
//
//   pgwarden.propagated_roles   the roles it has propagated: a role listed here that the
//                               coordinator no longer has is dropped on the workers; a
//                               role only on a worker and not listed is drift, left alone
//   pgwarden.notify_reconcile() + event trigger pgwarden_reconcile
//                               NOTIFY pgwarden_reconcile after GRANT, REVOKE, ALTER
//                               DEFAULT PRIVILEGES and the creation of objects that carry
//                               privileges, so that a pass starts as soon as they commit.
//
// PostgreSQL fires no event trigger for roles, role memberships or database privileges
// (shared objects); the periodic pass and the control plane's trigger() cover those.
// Event triggers and NOTIFY are per database: the trigger is in each managed database
// (catalog/databases.ts: pgwarden's own and the service's `citus`), and the listener
// listens in each; other databases wait for the periodic pass.
// https://www.postgresql.org/docs/current/event-trigger-matrix.html
import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../util/sql.js';

export const RECONCILE_CHANNEL = 'pgwarden_reconcile';
export const EVENT_TRIGGER = 'pgwarden_reconcile';

/** Command tags after which a pass is worth running at once. */
export const TRIGGER_TAGS: readonly string[] = [
  'GRANT',
  'REVOKE',
  'ALTER DEFAULT PRIVILEGES',
  'CREATE TABLE',
  'CREATE TABLE AS',
  'SELECT INTO',
  'CREATE VIEW',
  'CREATE MATERIALIZED VIEW',
  'CREATE FOREIGN TABLE',
  'CREATE SEQUENCE',
  'CREATE SCHEMA',
  'CREATE FUNCTION',
  'CREATE PROCEDURE',
  'CREATE AGGREGATE',
  'ALTER TABLE',
  'ALTER SCHEMA',
  'ALTER FUNCTION',
  'ALTER PROCEDURE',
  'ALTER ROUTINE',
  'ALTER SEQUENCE',
  'ALTER VIEW',
];

/** Creates or updates the reconciler's tables, function and event trigger in pgwarden's
 * own database. Needs a superuser (event triggers can only be created by one). */
export async function installReconcileSchema(client: pg.Client): Promise<void> {
  await client.query('CREATE SCHEMA IF NOT EXISTS pgwarden');
  await client.query(`
    CREATE TABLE IF NOT EXISTS pgwarden.propagated_roles (
      role_name     text PRIMARY KEY CHECK (octet_length(role_name) BETWEEN 1 AND 63),
      first_seen_at timestamptz NOT NULL DEFAULT now(),
      -- when the reconciler first saw the role gone from the coordinator
      vanished_at   timestamptz
    )`);
  await installNotifyTrigger(client);
}

/** The function and event trigger alone, in another managed database (the coordinator's
 * only: the session has Citus's DDL propagation off). */
export async function installNotifyTrigger(client: pg.Client): Promise<void> {
  await client.query('CREATE SCHEMA IF NOT EXISTS pgwarden');
  // The trigger runs inside the user's GRANT: it must never make that GRANT fail, hence
  // the exception block (a full NOTIFY queue is the only way pg_notify can fail).
  // Citus's own connections skip it (application_name "citus_internal gpid=...",
  // "citus_rebalancer gpid=...": how Citus itself tells them): Citus runs shard DDL over
  // them in transactions it PREPAREs (two-phase commit), and PostgreSQL refuses to
  // PREPARE a transaction that has sent a NOTIFY. The user's own statement, in the
  // user's session, has already sent one.
  await client.query(`
    CREATE OR REPLACE FUNCTION pgwarden.notify_reconcile() RETURNS event_trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
    BEGIN
      IF current_setting('application_name') LIKE 'citus\\_%gpid=%' THEN
        RETURN;
      END IF;
      PERFORM pg_notify(${quoteLiteral(RECONCILE_CHANNEL)}, tg_tag);
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END
    $fn$`);
  await client.query('REVOKE ALL ON FUNCTION pgwarden.notify_reconcile() FROM PUBLIC');
  // CREATE EVENT TRIGGER has no OR REPLACE: drop and create in one transaction, so that
  // there is never a moment without it, and the tag list follows upgrades.
  const tags = TRIGGER_TAGS.map(quoteLiteral).join(', ');
  await client.query(`
    DROP EVENT TRIGGER IF EXISTS ${quoteIdent(EVENT_TRIGGER)};
    CREATE EVENT TRIGGER ${quoteIdent(EVENT_TRIGGER)} ON ddl_command_end WHEN TAG IN (${tags})
      EXECUTE FUNCTION pgwarden.notify_reconcile()`);
}
