import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { RoleCatalog } from '../catalog/role-catalog.js';
import type { GroupMembership } from '../identity/group-membership.js';
import type { DerivedKeys } from '../catalog/derived-password.js';
import type { TokenVerifier } from '../identity/verify-token.js';
import type { OidcVerifier } from '../identity/oidc-verifier.js';
import type { AuditWriter } from '../catalog/audit.js';
import type { AuthMethod } from '../catalog/auth-method.js';
import type { Metrics } from '../observability/metrics.js';
import type { BackendHosts } from '../cluster/cluster.js';
import type { SignInThrottle } from '../util/throttle.js';
import type { CancelRegistry } from './cancel.js';
import type { OpeningQueue } from './opening-queue.js';
import type { ServerPool } from './server-pool.js';
import type { TransactionPool } from './txpool/pool.js';
import type { SessionExpiry } from '../catalog/auth-method.js';

/** The gateway's certificate as served to new connections. */
export interface GatewayTls {
  readonly secureContext: SecureContext;
  /** tls-server-end-point channel-binding data of the certificate. */
  readonly endPointHash: Buffer;
}

/** The settings a reload changes (SIGHUP): one object, shared by every listener's context;
 * each connection reads them once, as it starts. */
export interface GatewayLive {
  tls: GatewayTls;
  authTimeoutMs: number;
  /** Signed-in sessions allowed at once; beyond, 53300 too many connections. */
  maxConnections: number;
}

/** What every client connection of one gateway shares. */
export interface GatewayContext {
  readonly live: GatewayLive;
  readonly allowPlainLoopback: boolean;
  /** Connecting to PostgreSQL (the socket) must take at most this long. */
  readonly backendTimeoutMs: number;
  /** How long a signed-in client waits for a server session while PostgreSQL is slow or full. */
  readonly serverWaitMs: number;
  /** New server sessions take turns (the same queue on both ports). */
  readonly openings: OpeningQueue;
  /** The coordinator, where every session goes (at the host it is at now). */
  readonly backend: BackendHosts;
  readonly roles: RoleCatalog;
  /** The cluster's authentication method now (kept current by CatalogWatch). */
  readonly authMethod: () => AuthMethod;
  /** Where sign-ins are recorded; undefined to record none. */
  readonly audit: AuditWriter | undefined;
  /** Microsoft Entra sign-in; undefined when no tenant is configured. */
  readonly entra: EntraSignIn | undefined;
  /** Key for mock SCRAM secrets of unknown roles. */
  readonly mockKey: Buffer;
  readonly cancels: CancelRegistry;
  /** Idle server sessions kept for reuse; undefined when none are kept. */
  readonly serverPool: ServerPool | undefined;
  /** Set on the transaction pool's port: clients share its server sessions one
   * transaction at a time (txpool/). */
  readonly transactionPool: TransactionPool | undefined;
  /** Set on the OAuth port: Entra principals sign in with SASL OAUTHBEARER
   * (sign-in/oauth-bearer.ts) instead of a token in the password field. */
  readonly oauth: OAuthChallenge | undefined;
  /** Whether sessions signed in with a token end when it expires (token-expiry.ts). */
  readonly sessionExpiry: () => SessionExpiry;
  /** How long a query in flight at the token's expiry may still run. */
  readonly sessionExpiryGraceMs: number;
  readonly sessions: Set<Socket>;
  readonly throttle: SignInThrottle;
  readonly metrics: Metrics | undefined;
  readonly log: Logger;
}

/** Token sign-in: of the Microsoft Entra tenant, and of other OpenID Connect issuers. */
export interface EntraSignIn {
  /** The Entra tenant's tokens; undefined when only other issuers are trusted. */
  readonly verifier: TokenVerifier | undefined;
  /** Other OpenID Connect issuers' tokens (--oidc-issuer), for their principals. */
  readonly oidc?: OidcVerifier;
  /** SCRAM keys of the Entra roles' derived passwords. */
  readonly derivedKeys: DerivedKeys;
  /** Group membership for tokens that could not list their groups, where a directory can tell. */
  readonly membership?: GroupMembership;
}

/** What an OAUTHBEARER client without a token is told (RFC 7628 3.2.2). */
export interface OAuthChallenge {
  /** The issuer's OpenID discovery document: `{issuer}/.well-known/openid-configuration`. */
  readonly discoveryUrl: string;
  /** The scope the client asks the issuer for (space-separated). */
  readonly scope: string;
}
