// What pgwarden puts on every node at every start. Idempotent: it creates what is
// missing and re-asserts what matters (attributes, the verifier, grants), so that a
// node edited by hand heals on the next start.
import pg from 'pg';
import { isAuthMethod, type AuthMethod } from '../catalog/auth-method.js';
import { coordinatorOf, detectCitus, type ClusterAdmin } from '../control/cluster-admin.js';
import { installReconcileSchema } from '../reconcile/index.js';
import { quoteIdent, quoteLiteral } from '../util/sql.js';
import { constantTimeEqual, formatScramSecret, makeScramSecret, parseScramSecret, saltedPassword, clientKeyFrom, sha256 } from '../scram/primitives.js';

/** The built-in privileged role, as in the managed service. */
export const CITUS_ROLE = 'citus';
/** Holds the privileges that `citus` and Entra admins share. Cannot sign in. */
export const ADMIN_GROUP_ROLE = 'pgwarden_admin';
/** The gateway's own role on the coordinator: it may only read role secrets. */
export const GATEWAY_ROLE = 'pgwarden_gateway';
/** The bootstrap superuser; never reachable through the gateway. */
export const SUPERUSER_ROLE = 'postgres';
/** Roles that pgwarden keeps for itself: never signed in to through the gateway, never
 * managed as users' roles. */
export const RESERVED_ROLES: readonly string[] = [SUPERUSER_ROLE, GATEWAY_ROLE, ADMIN_GROUP_ROLE];

/** True if `password` is what `verifier` was made from (so the verifier, and its salt, can stay). */
export function verifierMatches(verifier: string | null | undefined, password: string): boolean {
  const s = parseScramSecret(verifier);
  if (!s) return false;
  return constantTimeEqual(sha256(clientKeyFrom(saltedPassword(password, s.salt, s.iterations))), s.storedKey);
}

/**
 * The verifier to give `role` on every node: the coordinator's current one if it was
 * made from `password` (so the salt, and every node's copy, stay as they are), else a
 * new one. Every node gets the same bytes.
 */
export async function verifierFor(coordinator: pg.Client, role: string, password: string): Promise<string> {
  const r = await coordinator.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
  const current = r.rows[0]?.rolpassword;
  return current && verifierMatches(current, password) ? current : formatScramSecret(makeScramSecret(password));
}

async function ensureRole(client: pg.Client, role: string, attributes: string, verifier?: string): Promise<void> {
  const existing = await client.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
  if (existing.rowCount === 0) await client.query(`CREATE ROLE ${quoteIdent(role)}`);
  let sql = `ALTER ROLE ${quoteIdent(role)} ${attributes}`;
  // A verifier, never the password: nothing in PostgreSQL's logs can reveal it.
  if (verifier !== undefined && existing.rows[0]?.rolpassword !== verifier) sql += ` PASSWORD ${quoteLiteral(verifier)}`;
  await client.query(sql);
}

/** The cluster's authentication method, as stored on the coordinator (undefined before the first start). */
export async function readAuthMethod(client: pg.Client): Promise<AuthMethod | undefined> {
  const r = await client.query<{ value: string }>(
    "SELECT value FROM pgwarden.settings WHERE name = 'auth_method' AND to_regclass('pgwarden.settings') IS NOT NULL",
  ).catch(() => ({ rows: [] as Array<{ value: string }> }));
  const v = r.rows[0]?.value;
  return isAuthMethod(v) ? v : undefined;
}

export interface BootstrapSecrets {
  /** SCRAM verifiers (never passwords). */
  citusVerifier: string;
  gatewayRoleVerifier: string;
}

/** Roles and grants that every node has. `citusLogin` is false when the cluster allows
 * Microsoft Entra authentication only (the managed service disables citus then). */
export async function bootstrapNode(client: pg.Client, secrets: BootstrapSecrets, citusLogin: boolean): Promise<void> {
  await ensureRole(client, ADMIN_GROUP_ROLE, 'NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS');
  await ensureRole(client, CITUS_ROLE, `${citusLogin ? 'LOGIN' : 'NOLOGIN'} INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`, secrets.citusVerifier);
  const admin = quoteIdent(ADMIN_GROUP_ROLE);
  await client.query(`GRANT ${admin} TO ${quoteIdent(CITUS_ROLE)}`);
  await client.query(`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE postgres TO ${admin}`);
  await client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${admin}`);
  await client.query(`GRANT pg_monitor, pg_signal_backend TO ${admin}`);
}

export interface CoordinatorOptions {
  /** Stored on the first start only; later the control plane changes it. */
  initialAuthMethod: AuthMethod;
}

/** The coordinator also holds pgwarden's schema and the gateway's role. */
export async function bootstrapCoordinator(client: pg.Client, secrets: BootstrapSecrets, options: CoordinatorOptions): Promise<void> {
  await ensureRole(client, GATEWAY_ROLE, 'LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', secrets.gatewayRoleVerifier);
  const gateway = quoteIdent(GATEWAY_ROLE);
  await client.query('CREATE SCHEMA IF NOT EXISTS pgwarden');
  await client.query('REVOKE ALL ON SCHEMA pgwarden FROM PUBLIC');
  await client.query(`GRANT USAGE ON SCHEMA pgwarden TO ${gateway}`);
  // The gateway's only window on role secrets (PgBouncer's auth_query pattern): it
  // answers for roles that may sign in through pgwarden, and for nothing else: no
  // superusers, no replication or RLS-bypassing roles, none of pgwarden's own roles,
  // no role past VALID UNTIL. `found` tells a role without a SCRAM secret from an
  // unknown one, for the log only: clients see the same failure for both.
  const reserved = RESERVED_ROLES.map(quoteLiteral).join(', ');
  await client.query(`
    CREATE OR REPLACE FUNCTION pgwarden.role_secret(role_name text, OUT found boolean, OUT secret text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
      SELECT count(*) > 0, max(a.rolpassword)
        FROM pg_catalog.pg_authid a
       WHERE a.rolname = role_name
         AND a.rolcanlogin AND NOT a.rolsuper AND NOT a.rolreplication AND NOT a.rolbypassrls
         AND a.rolname NOT IN (${reserved})
         AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > now())
    $fn$`);
  await client.query('REVOKE ALL ON FUNCTION pgwarden.role_secret(text) FROM PUBLIC');
  await client.query(`GRANT EXECUTE ON FUNCTION pgwarden.role_secret(text) TO ${gateway}`);

  // Which roles are Microsoft Entra principals (src/catalog/principals.ts).
  await client.query(`
    CREATE TABLE IF NOT EXISTS pgwarden.entra_principals (
      role_name      text PRIMARY KEY CHECK (octet_length(role_name) BETWEEN 1 AND 63),
      principal_type text NOT NULL CHECK (principal_type IN ('user', 'servicePrincipal', 'group')),
      object_id      uuid NOT NULL,
      tenant_id      uuid NOT NULL,
      app_id         uuid,
      is_admin       boolean NOT NULL DEFAULT false,
      created_at     timestamptz NOT NULL DEFAULT now(),
      CHECK ((principal_type = 'servicePrincipal') = (app_id IS NOT NULL)),
      CHECK (NOT (is_admin AND principal_type = 'group'))
    )`);
  await client.query(`GRANT SELECT ON pgwarden.entra_principals TO ${gateway}`);

  // Cluster-wide settings (the authentication method), read by every gateway.
  await client.query(`
    CREATE TABLE IF NOT EXISTS pgwarden.settings (
      name       text PRIMARY KEY,
      value      text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  await client.query(`GRANT SELECT ON pgwarden.settings TO ${gateway}`);
  await client.query(
    `INSERT INTO pgwarden.settings (name, value) VALUES ('auth_method', $1) ON CONFLICT (name) DO NOTHING`,
    [options.initialAuthMethod],
  );

  // Gateways LISTEN on pgwarden_catalog: a change here reaches every one of them at once.
  await client.query(`
    CREATE OR REPLACE FUNCTION pgwarden.notify_catalog_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
    BEGIN
      PERFORM pg_notify('pgwarden_catalog', TG_TABLE_NAME);
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

export interface ClusterBootstrap {
  citusPassword: string;
  gatewayRolePassword: string;
  /** Stored on the first start only. */
  initialAuthMethod: AuthMethod;
}

/**
 * Brings roles and pgwarden's schema up to date on every node: the coordinator first (it
 * holds the authentication method, which decides whether citus may sign in), then every
 * worker, with the same verifier bytes everywhere. With Citus, on the coordinator only:
 * Citus sends the role statements on to every worker in the same transaction, and
 * refuses or deadlocks on the same statements sent to the workers directly; the
 * reconciler's first pass brings along what Citus does not propagate.
 */
export async function bootstrapCluster(admin: ClusterAdmin, options: ClusterBootstrap): Promise<void> {
  const coordinator = coordinatorOf(admin);
  const citusLogin = await admin.withAdmin(coordinator, async (c) => {
    const citus = await detectCitus(c);
    const boot: BootstrapSecrets = {
      citusVerifier: await verifierFor(c, CITUS_ROLE, options.citusPassword),
      gatewayRoleVerifier: await verifierFor(c, GATEWAY_ROLE, options.gatewayRolePassword),
    };
    await bootstrapCoordinator(c, boot, { initialAuthMethod: options.initialAuthMethod });
    await installReconcileSchema(c);
    const login = (await readAuthMethod(c)) !== 'entra';
    await bootstrapNode(c, boot, login);
    return { boot, login, citus };
  });
  if (citusLogin.citus) return;
  await Promise.all(
    admin.adminNodes.filter((n) => n.kind === 'worker').map((n) => admin.withAdmin(n, (c) => bootstrapNode(c, citusLogin.boot, citusLogin.login))),
  );
}
