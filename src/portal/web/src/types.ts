// The shapes the page reads from /api/v1 (src/api/schemas.ts) and /portal/session.

export type AuthMethod = 'postgres' | 'entra' | 'both';

export const METHOD_LABELS: Record<AuthMethod, string> = {
  postgres: 'PostgreSQL authentication only',
  entra: 'Microsoft Entra authentication',
  both: 'PostgreSQL and Microsoft Entra authentication',
};

/** Whether a session signed in with an access token ends when the token expires. */
export type SessionExpiry = 'token' | 'never';

export const allowsNative = (m: AuthMethod): boolean => m !== 'entra';
export const allowsEntra = (m: AuthMethod): boolean => m !== 'postgres';

export type PrincipalType = 'user' | 'servicePrincipal' | 'group';

export const PRINCIPAL_TYPE_LABELS: Record<PrincipalType, string> = {
  user: 'User',
  servicePrincipal: 'Enterprise application',
  group: 'Group',
};

export interface Principal {
  name: string;
  type: PrincipalType;
  /** Entra: the object id; another OpenID Connect issuer's principal: its subject. */
  objectId: string;
  tenantId?: string;
  /** Another OpenID Connect issuer's principal (docs/oidc.md); absent: the Entra tenant. */
  issuer?: string;
  appId?: string;
  isAdmin: boolean;
}

export interface Role {
  name: string;
  builtIn: boolean;
  canLogin: boolean;
  memberOf: string[];
}

export interface NodeOutcome {
  node: string;
  ok: boolean;
  error?: string;
}

/** A node of the cluster; later versions add fields (sync state), shown as they come. */
/** A worker compared with the coordinator (the reconciler). */
export interface NodeSync {
  state: 'in-sync' | 'pending' | 'unreachable' | string;
  pending?: string;
  unreachableSince?: string;
  lastInSyncAt?: string;
  drift?: Array<{ kind: string; subject: string }>;
  errors?: string[];
}

export interface ClusterNode {
  name: string;
  kind: 'coordinator' | 'worker' | string;
  state: 'up' | 'down' | string;
  error?: string;
  sync?: NodeSync;
  [extra: string]: unknown;
}

export interface ClusterState {
  authentication: AuthMethod;
  nodes: ClusterNode[];
  [extra: string]: unknown;
}

export interface DirectoryEntry {
  type: PrincipalType;
  objectId: string;
  displayName: string;
  userPrincipalName?: string;
  appId?: string;
  roleName: string;
}

export type SessionInfo =
  | {
      signedIn: true;
      user: { kind: 'citus' | 'entra'; name: string; type?: PrincipalType };
      csrf: string;
      csrfHeader: string;
      methods: AuthMethod;
    }
  | {
      signedIn: false;
      signIn: { citus: boolean; entra: boolean };
      error?: string;
    };
