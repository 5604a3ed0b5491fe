// One error type for all of pgwarden. Each code is stable (tests, logs, metrics and
// API clients match on it) and maps to what each surface needs: a SQLSTATE for the
// gateway, an HTTP status for the API, an exit code for the CLI. The message is safe
// to show to whoever caused the error: it never carries a secret.

export interface ErrorKind {
  /** SQLSTATE sent by the gateway in an ErrorResponse. */
  readonly sqlstate: string;
  /** HTTP status for the API. */
  readonly http: number;
  /** Process exit code for the CLI. */
  readonly exit: number;
}

export const ERROR_KINDS = {
  // Sign-in
  AUTH_FAILED: { sqlstate: '28P01', http: 401, exit: 3 },
  AUTH_METHOD_DISABLED: { sqlstate: '28000', http: 403, exit: 3 },
  SSL_REQUIRED: { sqlstate: '28000', http: 400, exit: 3 },
  AUTH_TIMEOUT: { sqlstate: '08006', http: 408, exit: 3 },
  PROTOCOL_VIOLATION: { sqlstate: '08P01', http: 400, exit: 2 },
  PEER_CLOSED: { sqlstate: '08006', http: 400, exit: 4 },
  FEATURE_NOT_SUPPORTED: { sqlstate: '0A000', http: 400, exit: 2 },
  BACKEND_UNAVAILABLE: { sqlstate: '08006', http: 503, exit: 4 },
  THROTTLED: { sqlstate: '28000', http: 429, exit: 3 },
  TOO_MANY_CONNECTIONS: { sqlstate: '53300', http: 503, exit: 4 },
  /** PostgreSQL had no room for another session within the gateway's wait (--server-wait-timeout). */
  CLUSTER_FULL: { sqlstate: '53300', http: 503, exit: 4 },
  /** PostgreSQL did not start a new session within the wait (slow, or not accepting sessions). */
  CLUSTER_NOT_ACCEPTING: { sqlstate: '57P03', http: 503, exit: 4 },
  /** The coordinator lists several hosts, and none is the primary now (a failover under way). */
  NO_PRIMARY: { sqlstate: '57P03', http: 503, exit: 4 },
  /** An OAUTHBEARER client asked where to get a token (discovery): it connects again with one. */
  DISCOVERY_REQUEST: { sqlstate: '28000', http: 401, exit: 3 },
  // Access tokens (Microsoft Entra ID). The gateway answers each with 28P01 "password
  // authentication failed for user" and the message as DETAIL, for the token's holder.
  TOKEN_MALFORMED: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_ALGORITHM: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_ISSUER: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_TENANT: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_KEY_UNKNOWN: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_SIGNATURE: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_EXPIRED: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_NOT_YET_VALID: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_AUDIENCE: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_CLAIMS: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_PRINCIPAL_MISMATCH: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_NAME_MISMATCH: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_NOT_GROUP_MEMBER: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_GROUPS_OVERAGE: { sqlstate: '28P01', http: 401, exit: 3 },
  TOKEN_APP_MISMATCH: { sqlstate: '28P01', http: 401, exit: 3 },
  IDENTITY_PROVIDER_UNAVAILABLE: { sqlstate: '28000', http: 503, exit: 4 },
  // Control plane (API and CLI)
  INVALID_INPUT: { sqlstate: '22023', http: 400, exit: 2 },
  UNAUTHORIZED: { sqlstate: '28000', http: 401, exit: 3 },
  FORBIDDEN: { sqlstate: '42501', http: 403, exit: 3 },
  NOT_FOUND: { sqlstate: '42704', http: 404, exit: 6 },
  ALREADY_EXISTS: { sqlstate: '42710', http: 409, exit: 7 },
  ROLE_IN_USE: { sqlstate: '2BP01', http: 409, exit: 7 },
  PROTECTED_ROLE: { sqlstate: '42501', http: 409, exit: 7 },
  NODE_FAILED: { sqlstate: '58000', http: 502, exit: 4 },
  /** A node is down and the change needs every node at once (Citus): nothing was changed. */
  NODE_UNAVAILABLE: { sqlstate: '08006', http: 503, exit: 4 },
  PAYLOAD_TOO_LARGE: { sqlstate: '54000', http: 413, exit: 2 },
  // Answers of the embedded identity provider (src/idp), shaped like Microsoft Entra ID's
  // OAuth 2.0 errors: the OAuth `error` is the code without OAUTH_, lower-cased; the
  // message starts with the AADSTS number. The CLI uses the same codes for the answers of
  // any Entra-compatible provider.
  // https://learn.microsoft.com/entra/identity-platform/reference-error-codes
  OAUTH_INVALID_REQUEST: { sqlstate: '22023', http: 400, exit: 2 },
  OAUTH_INVALID_CLIENT: { sqlstate: '28000', http: 401, exit: 3 },
  OAUTH_UNAUTHORIZED_CLIENT: { sqlstate: '28000', http: 400, exit: 3 },
  OAUTH_INVALID_GRANT: { sqlstate: '28000', http: 400, exit: 3 },
  OAUTH_INVALID_RESOURCE: { sqlstate: '22023', http: 400, exit: 2 },
  OAUTH_INVALID_SCOPE: { sqlstate: '22023', http: 400, exit: 2 },
  OAUTH_UNSUPPORTED_GRANT_TYPE: { sqlstate: '22023', http: 400, exit: 2 },
  OAUTH_UNSUPPORTED_RESPONSE_TYPE: { sqlstate: '22023', http: 400, exit: 2 },
  OAUTH_AUTHORIZATION_PENDING: { sqlstate: '28000', http: 400, exit: 3 },
  OAUTH_SLOW_DOWN: { sqlstate: '28000', http: 400, exit: 3 },
  OAUTH_EXPIRED_TOKEN: { sqlstate: '28000', http: 400, exit: 3 },
  OAUTH_AUTHORIZATION_DECLINED: { sqlstate: '28000', http: 400, exit: 3 },
  // Signed-in accounts (directory entries use NOT_FOUND and ALREADY_EXISTS above)
  NOT_LOGGED_IN: { sqlstate: '28000', http: 401, exit: 3 },
  // Configuration and start-up
  CONFIG_INVALID: { sqlstate: '22023', http: 400, exit: 2 },
  PORT_IN_USE: { sqlstate: '58000', http: 500, exit: 5 },
  ALREADY_RUNNING: { sqlstate: '55006', http: 409, exit: 5 },
  CLUSTER_START_FAILED: { sqlstate: '58000', http: 500, exit: 5 },
  INTERNAL: { sqlstate: 'XX000', http: 500, exit: 1 },
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_KINDS;

export class PgwardenError extends Error {
  readonly code: ErrorCode;
  /** Extra explanation for the person on the other end (ErrorResponse DETAIL, problem detail). */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { detail?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgwardenError';
    this.code = code;
    this.detail = options?.detail;
  }

  get kind(): ErrorKind {
    return ERROR_KINDS[this.code];
  }
}

export function isPgwardenError(e: unknown, code?: ErrorCode): e is PgwardenError {
  return e instanceof PgwardenError && (code === undefined || e.code === code);
}

/** PostgreSQL's SQLSTATEs that say the server is going away or not there yet, not that it
 * refused what was asked: 57P01-57P03 (admin or crash shutdown, cannot connect now) and
 * class 08 (connection exceptions). */
export function isServerGoingAway(sqlstate: string | undefined): boolean {
  return sqlstate !== undefined && /^(57P0[1-3]|08)/.test(sqlstate);
}

/** A short, secret-free description of any thrown value, for logs. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ? `${(e as NodeJS.ErrnoException).code}: ${e.message}` : e.message;
  return String(e);
}
