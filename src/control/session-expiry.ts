// The cluster's session expiry: whether a session signed in with an access token ends
// when the token expires (`token`) or lives on (`never`, the default, as in the managed
// service). Only the coordinator's pgwarden.settings holds it; its trigger notifies every
// gateway, which applies it to sessions whose tokens expire from then on (and, within a
// minute, to those whose tokens have expired already).
import { SESSION_EXPIRIES, isSessionExpiry, type SessionExpiry } from '../catalog/auth-method.js';
import { coordinatorOf, exclusively, type ClusterAdmin } from '../cluster/admin.js';
import { PgwardenError } from '../util/errors.js';
import { onCoordinator } from './change.js';

export async function getSessionExpiry(admin: ClusterAdmin): Promise<SessionExpiry> {
  return admin.withAdmin(coordinatorOf(admin), async (c) => {
    const r = await c.query<{ value: string }>("SELECT value FROM pgwarden.settings WHERE name = 'session_expiry'");
    const v = r.rows[0]?.value;
    return isSessionExpiry(v) ? v : 'never';
  });
}

export async function setSessionExpiry(admin: ClusterAdmin, value: unknown): Promise<{ sessionExpiry: SessionExpiry; previous: SessionExpiry }> {
  if (!isSessionExpiry(value)) throw new PgwardenError('INVALID_INPUT', `sessionExpiry must be one of ${SESSION_EXPIRIES.join(', ')}`);
  return exclusively(admin, () =>
    onCoordinator(admin, async (c) => {
      const r = await c.query<{ value: string }>("SELECT value FROM pgwarden.settings WHERE name = 'session_expiry' FOR UPDATE");
      await c.query(
        `INSERT INTO pgwarden.settings (name, value, updated_at) VALUES ('session_expiry', $1, now())
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [value],
      );
      const previous = r.rows[0]?.value;
      return { sessionExpiry: value, previous: isSessionExpiry(previous) ? previous : 'never' };
    }),
  );
}
