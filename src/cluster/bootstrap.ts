// What pgwarden puts on every node at every start, in order: the coordinator's roles and
// pgwarden's schema (src/catalog/schema.ts), then the roles every node has. Idempotent:
// it creates what is missing and re-asserts what matters (attributes, the verifier,
// grants), so that a node edited by hand heals on the next start. The reconciler
// installs its own schema when it starts (src/reconcile/schema.ts).
import pg from 'pg';
import { readAuthMethod, type AuthMethod } from '../catalog/auth-method.js';
import { ADMIN_GROUP_ROLE, CITUS_ROLE, GATEWAY_ROLE } from '../catalog/roles.js';
import { installCatalogSchema, type CatalogSchemaOptions } from '../catalog/schema.js';
import { formatScramSecret, makeScramSecret, verifierMatches } from '../scram/primitives.js';
import { quoteIdent } from '../util/sql.js';
import { ensureRole, GATEWAY_ROLE_ATTRIBUTES, LOGIN_ROLE, NOLOGIN_ROLE } from '../catalog/role-statements.js';
import { coordinatorOf, detectCitus, type AdminNode, type ClusterAdmin } from './admin.js';
import { managedDatabases } from '../catalog/databases.js';

/**
 * The verifier to give `role` on every node: the coordinator's current one if it was
 * made from `password` (so the salt, and every node's copy, stay as they are), else a
 * new one. Every node gets the same bytes.
 */
async function verifierFor(coordinator: pg.Client, role: string, password: string): Promise<string> {
  const r = await coordinator.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
  const current = r.rows[0]?.rolpassword;
  return current && verifierMatches(current, password) ? current : formatScramSecret(makeScramSecret(password));
}

interface BootstrapSecrets {
  /** SCRAM verifiers (never passwords). */
  citusVerifier: string;
  gatewayRoleVerifier: string;
}

/** Roles and grants that every node has, in each managed database (catalog/databases.ts).
 * `citusLogin` is false when the cluster allows Microsoft Entra authentication only (the
 * managed service disables citus then). */
async function bootstrapNode(admin: ClusterAdmin, node: AdminNode, secrets: BootstrapSecrets, citusLogin: boolean): Promise<void> {
  const group = quoteIdent(ADMIN_GROUP_ROLE);
  const others = await admin.withAdmin(node, async (client) => {
    await ensureRole(client, ADMIN_GROUP_ROLE, NOLOGIN_ROLE);
    await ensureRole(client, CITUS_ROLE, citusLogin ? LOGIN_ROLE : NOLOGIN_ROLE, secrets.citusVerifier);
    await client.query(`GRANT ${group} TO ${quoteIdent(CITUS_ROLE)}`);
    await client.query(`GRANT pg_monitor, pg_signal_backend TO ${group}`);
    const databases = await managedDatabases(client);
    for (const db of databases) await client.query(`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE ${quoteIdent(db)} TO ${group}`);
    await client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${group}`);
    return databases.slice(1);
  });
  for (const db of others) await admin.withAdmin(node, (c) => c.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${group}`).then(() => undefined), db);
}

/** The coordinator also holds pgwarden's schema and the gateway's role. */
async function bootstrapCoordinator(client: pg.Client, secrets: BootstrapSecrets, options: CatalogSchemaOptions): Promise<void> {
  await ensureRole(client, GATEWAY_ROLE, GATEWAY_ROLE_ATTRIBUTES, secrets.gatewayRoleVerifier);
  // The connection slots kept by reserved_connections (PostgreSQL 16+); INHERIT for this
  // grant alone (the role inherits nothing else).
  await client.query(`GRANT pg_use_reserved_connections TO ${quoteIdent(GATEWAY_ROLE)} WITH INHERIT TRUE`);
  await installCatalogSchema(client, options);
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
  const { boot, login, citus } = await admin.withAdmin(coordinator, async (c) => {
    const citus = await detectCitus(c);
    const boot: BootstrapSecrets = {
      citusVerifier: await verifierFor(c, CITUS_ROLE, options.citusPassword),
      gatewayRoleVerifier: await verifierFor(c, GATEWAY_ROLE, options.gatewayRolePassword),
    };
    await bootstrapCoordinator(c, boot, { initialAuthMethod: options.initialAuthMethod });
    return { boot, login: (await readAuthMethod(c)) !== 'entra', citus };
  });
  await bootstrapNode(admin, coordinator, boot, login);
  if (citus) return;
  await Promise.all(admin.adminNodes.filter((n) => n.kind === 'worker').map((n) => bootstrapNode(admin, n, boot, login)));
}
