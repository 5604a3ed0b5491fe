// The cluster's authentication methods, as the managed service names them:
// "PostgreSQL authentication only", "Microsoft Entra authentication",
// "PostgreSQL and Microsoft Entra authentication".
import type pg from 'pg';

export const AUTH_METHODS = ['postgres', 'entra', 'both'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export const AUTH_METHOD_LABELS: Record<AuthMethod, string> = {
  postgres: 'PostgreSQL authentication only',
  entra: 'Microsoft Entra authentication',
  both: 'PostgreSQL and Microsoft Entra authentication',
};

export function isAuthMethod(v: unknown): v is AuthMethod {
  return typeof v === 'string' && (AUTH_METHODS as readonly string[]).includes(v);
}

export function allowsNative(m: AuthMethod): boolean {
  return m !== 'entra';
}

export function allowsEntra(m: AuthMethod): boolean {
  return m !== 'postgres';
}

/** The cluster's authentication method, as stored on the coordinator (undefined before the first start). */
export async function readAuthMethod(client: pg.Client): Promise<AuthMethod | undefined> {
  const r = await client
    .query<{ value: string }>("SELECT value FROM pgwarden.settings WHERE name = 'auth_method' AND to_regclass('pgwarden.settings') IS NOT NULL")
    .catch(() => ({ rows: [] as Array<{ value: string }> }));
  const v = r.rows[0]?.value;
  return isAuthMethod(v) ? v : undefined;
}

/** Whether a session signed in with an access token ends when the token expires
 * (`token`) or lives on (`never`, the managed service's behaviour and the default). */
export const SESSION_EXPIRIES = ['token', 'never'] as const;
export type SessionExpiry = (typeof SESSION_EXPIRIES)[number];

export function isSessionExpiry(v: unknown): v is SessionExpiry {
  return typeof v === 'string' && (SESSION_EXPIRIES as readonly string[]).includes(v);
}
