// The cluster's authentication method. Changing it needs no restart: the settings
// trigger notifies every gateway, which applies it to the next sign-in. Microsoft Entra
// only also makes citus NOLOGIN on every node (as the managed service disables it), so
// that nothing reaches the servers as citus by another path; allowing PostgreSQL
// authentication again gives it LOGIN back.
import type pg from 'pg';
import { CITUS_ROLE } from '../catalog/roles.js';
import { AUTH_METHODS, allowsNative, isAuthMethod, type AuthMethod } from '../catalog/auth-method.js';
import { PgwardenError } from '../util/errors.js';
import { quoteIdent } from '../util/sql.js';
import { coordinatorOf, exclusively, type ClusterAdmin } from '../cluster/admin.js';
import { changeCluster, type ChangeResult } from './change.js';

export async function getAuthMethod(admin: ClusterAdmin): Promise<AuthMethod> {
  return admin.withAdmin(coordinatorOf(admin), async (c) => {
    const r = await c.query<{ value: string }>("SELECT value FROM pgwarden.settings WHERE name = 'auth_method'");
    const v = r.rows[0]?.value;
    return isAuthMethod(v) ? v : 'both';
  });
}

async function setCitusLogin(c: pg.Client, login: boolean): Promise<void> {
  await c.query(`ALTER ROLE ${quoteIdent(CITUS_ROLE)} ${login ? 'LOGIN' : 'NOLOGIN'}`);
}

export async function setAuthMethod(admin: ClusterAdmin, method: unknown): Promise<ChangeResult<{ methods: AuthMethod; previous: AuthMethod }>> {
  return exclusively(admin, () => setAuthMethodNow(admin, method));
}

async function setAuthMethodNow(admin: ClusterAdmin, method: unknown): Promise<ChangeResult<{ methods: AuthMethod; previous: AuthMethod }>> {
  if (!isAuthMethod(method)) throw new PgwardenError('INVALID_INPUT', `methods must be one of ${AUTH_METHODS.join(', ')}`);
  const login = allowsNative(method);
  const { value: previous, workers } = await changeCluster(
    admin,
    async (c) => {
      const r = await c.query<{ value: string }>("SELECT value FROM pgwarden.settings WHERE name = 'auth_method' FOR UPDATE");
      await c.query(
        `INSERT INTO pgwarden.settings (name, value, updated_at) VALUES ('auth_method', $1, now())
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [method],
      );
      await setCitusLogin(c, login);
      const prev = r.rows[0]?.value;
      return isAuthMethod(prev) ? prev : 'both';
    },
    (c) => setCitusLogin(c, login),
  );
  return { value: { methods: method, previous }, workers };
}
