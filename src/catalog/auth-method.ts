// The cluster's authentication methods, as the managed service names them:
// "PostgreSQL authentication only", "Microsoft Entra authentication",
// "PostgreSQL and Microsoft Entra authentication".

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
