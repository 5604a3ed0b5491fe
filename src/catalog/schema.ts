// pgwarden's own schema on the coordinator: what the gateways read (role secrets through
// role_secret(), Entra principals, the authentication method), the audit log, and the
// triggers that tell every gateway about a change at once. Idempotent: installed at
// every start (src/cluster/bootstrap.ts), after the gateway's role exists. The
// reconciler installs its own tables next to these (src/reconcile/schema.ts).
import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../util/sql.js';
import type { AuthMethod } from './auth-method.js';
import { CATALOG_CHANNEL } from './catalog-watch.js';
import { GATEWAY_ROLE, reservedRoleSql } from './roles.js';

export interface CatalogSchemaOptions {
  /** Stored on the first start only; later the control plane changes it. */
  initialAuthMethod: AuthMethod;
}

export async function installCatalogSchema(client: pg.Client, options: CatalogSchemaOptions): Promise<void> {
  const gateway = quoteIdent(GATEWAY_ROLE);
  await client.query('CREATE SCHEMA IF NOT EXISTS pgwarden');
  await client.query('REVOKE ALL ON SCHEMA pgwarden FROM PUBLIC');
  await client.query(`GRANT USAGE ON SCHEMA pgwarden TO ${gateway}`);
  // The gateway's only window on role secrets (PgBouncer's auth_query pattern): it
  // answers for roles that may sign in through pgwarden, and for nothing else: no
  // superusers, no replication or RLS-bypassing roles, none of pgwarden's own roles,
  // no role past VALID UNTIL. `found` tells a role without a SCRAM secret from an
  // unknown one, for the log only: clients see the same failure for both.
  await client.query(`
    CREATE OR REPLACE FUNCTION pgwarden.role_secret(role_name text, OUT found boolean, OUT secret text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
      SELECT count(*) > 0, max(a.rolpassword)
        FROM pg_catalog.pg_authid a
       WHERE a.rolname = role_name
         AND a.rolcanlogin AND NOT a.rolsuper AND NOT a.rolreplication AND NOT a.rolbypassrls
         AND NOT ${reservedRoleSql('a.rolname')}
         AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > now())
    $fn$`);
  await client.query('REVOKE ALL ON FUNCTION pgwarden.role_secret(text) FROM PUBLIC');
  await client.query(`GRANT EXECUTE ON FUNCTION pgwarden.role_secret(text) TO ${gateway}`);

  // Which roles are Microsoft Entra principals, or principals of another OpenID Connect
  // issuer (src/catalog/principals.ts).
  await client.query(`
    CREATE TABLE IF NOT EXISTS pgwarden.entra_principals (
      role_name      text PRIMARY KEY CHECK (octet_length(role_name) BETWEEN 1 AND 63),
      principal_type text NOT NULL CHECK (principal_type IN ('user', 'servicePrincipal', 'group')),
      object_id      text NOT NULL,
      tenant_id      uuid,
      issuer         text,
      app_id         uuid,
      is_admin       boolean NOT NULL DEFAULT false,
      created_at     timestamptz NOT NULL DEFAULT now(),
      CHECK ((principal_type = 'servicePrincipal') = (app_id IS NOT NULL)),
      CHECK (NOT (is_admin AND principal_type = 'group'))
    )`);
  await migratePrincipals(client);
  await client.query(`GRANT SELECT ON pgwarden.entra_principals TO ${gateway}`);

  // Cluster-wide settings (the authentication method), read by every gateway.
  await client.query(`
    CREATE TABLE IF NOT EXISTS pgwarden.settings (
      name       text PRIMARY KEY,
      value      text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  await client.query(`GRANT SELECT ON pgwarden.settings TO ${gateway}`);
  await client.query(`INSERT INTO pgwarden.settings (name, value) VALUES ('auth_method', $1) ON CONFLICT (name) DO NOTHING`, [options.initialAuthMethod]);

  // Gateways LISTEN on pgwarden_catalog: a change here reaches every one of them at once.
  await client.query(`
    CREATE OR REPLACE FUNCTION pgwarden.notify_catalog_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
    BEGIN
      PERFORM pg_notify(${quoteLiteral(CATALOG_CHANNEL)}, TG_TABLE_NAME);
      RETURN NULL;
    END
    $fn$`);
  for (const table of ['settings', 'entra_principals']) {
    await client.query(`DROP TRIGGER IF EXISTS notify_change ON pgwarden.${table}`);
    await client.query(`CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pgwarden.${table}
                        FOR EACH STATEMENT EXECUTE FUNCTION pgwarden.notify_catalog_change()`);
  }

  // Every sign-in and every change through pgwarden, never with a secret in it.
  await client.query(`
    CREATE TABLE IF NOT EXISTS pgwarden.audit_log (
      id          bigserial PRIMARY KEY,
      at          timestamptz NOT NULL DEFAULT now(),
      kind        text NOT NULL CHECK (kind IN ('sign-in', 'change')),
      actor       text,
      action      text NOT NULL,
      target      text,
      method      text,
      client_addr text,
      result      text NOT NULL,
      reason      text,
      details     jsonb
    )`);
  await client.query('CREATE INDEX IF NOT EXISTS audit_log_at ON pgwarden.audit_log (at)');
  await client.query(`GRANT INSERT ON pgwarden.audit_log TO ${gateway}`);
  await client.query(`GRANT USAGE ON SEQUENCE pgwarden.audit_log_id_seq TO ${gateway}`);
}

/**
 * Catalogs from before OpenID Connect issuers (issue 16) kept Entra object and tenant ids
 * as uuid, both required. Now: object_id is text (another issuer's subject need not be a
 * GUID; an Entra id is kept as its lower-case text, as uuid printed it), tenant_id is
 * NULL exactly for another issuer's principals, which name their issuer. Existing rows
 * keep meaning the Entra tenant (issuer NULL). Idempotent; a no-op once done.
 */
async function migratePrincipals(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ data_type: string }>(
    `SELECT data_type FROM information_schema.columns WHERE table_schema = 'pgwarden' AND table_name = 'entra_principals' AND column_name = 'object_id'`,
  );
  if (rows[0]?.data_type === 'uuid') {
    await client.query('ALTER TABLE pgwarden.entra_principals ALTER COLUMN object_id TYPE text USING object_id::text');
    await client.query('ALTER TABLE pgwarden.entra_principals ALTER COLUMN tenant_id DROP NOT NULL');
  }
  await client.query('ALTER TABLE pgwarden.entra_principals ADD COLUMN IF NOT EXISTS issuer text');
  await client.query(`DO $do$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conname = 'entra_principals_issuer_or_tenant'
                        AND conrelid = 'pgwarden.entra_principals'::regclass) THEN
        ALTER TABLE pgwarden.entra_principals ADD CONSTRAINT entra_principals_issuer_or_tenant CHECK (
          CASE WHEN issuer IS NULL
               THEN tenant_id IS NOT NULL AND object_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
               ELSE tenant_id IS NULL AND principal_type <> 'servicePrincipal' AND octet_length(object_id) BETWEEN 1 AND 255 END);
      END IF;
    END $do$`);
}
