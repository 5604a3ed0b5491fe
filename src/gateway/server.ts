// The gateway's listening socket: accepts clients, runs each through sign-in
// (connection.ts), and keeps track of the sessions it pipes so that it can close them.
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { RoleCatalog } from '../catalog/role-catalog.js';
import type { AuditWriter } from '../catalog/audit.js';
import type { AuthMethod } from '../catalog/auth-method.js';
import { tlsServerEndPoint, type TlsMaterial } from '../tls/certificates.js';
import { PgwardenError } from '../util/errors.js';
import type { BackendHosts } from '../cluster/cluster.js';
import { CancelRegistry } from './cancel.js';
import { DEFAULT_SERVER_POOL, ServerPool, type ServerPoolOptions } from './server-pool.js';
import { OpeningQueue } from './opening-queue.js';
import { SignInThrottle, type ThrottlePolicy } from '../util/throttle.js';
import { errorResponse } from '../protocol/messages.js';
import type { Metrics } from '../observability/metrics.js';
import { ClientConnection } from './connection.js';
import { SESSION_EXPIRY_GRACE_MS } from './token-expiry.js';
import type { SessionExpiry } from '../catalog/auth-method.js';
import { DEFAULT_TRANSACTION_POOL, TransactionPool, type TransactionPoolOptions } from './txpool/pool.js';
import type { EntraSignIn, GatewayContext, GatewayTls, OAuthChallenge } from './context.js';
import { DEFAULTS } from '../util/defaults.js';

export interface GatewayOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  backend: BackendHosts;
  roles: RoleCatalog;
  /** The cluster's authentication method now (default: both, fixed). */
  authMethod?: () => AuthMethod;
  /** The cluster's session expiry now (default: never, fixed). */
  sessionExpiry?: () => SessionExpiry;
  /** How long a query in flight when its session's token expires may still run (default 5 minutes). */
  sessionExpiryGraceMs?: number;
  audit?: AuditWriter;
  /** Microsoft Entra sign-in (token verification and derived role passwords). */
  entra?: EntraSignIn;
  mockKey: Buffer;
  log: Logger;
  /** Accept unencrypted connections from loopback addresses (off by default). */
  allowPlainLoopback?: boolean;
  /** A client must finish signing in within this time (default 30 s). */
  authTimeoutMs?: number;
  /** PostgreSQL must accept the connection within this time (default 10 s). */
  backendTimeoutMs?: number;
  /** A signed-in client waits this long for PostgreSQL to start its session while it is
   * slow or full (default 120 s); then 53300/57P03, the cluster is overloaded. */
  serverWaitTimeoutMs?: number;
  /** New server sessions opened at once (default 20); more sign-ins wait their turn. */
  serverOpenConcurrency?: number;
  /** Connections in the sign-in phase at once (default 1,000); as many more wait their turn
   * (their sign-in timer starts with it); beyond, refused at once. */
  maxPendingAuth?: number;
  /** Signed-in sessions at once (default 10,000); beyond, 53300 too many connections. */
  maxConnections?: number;
  metrics?: Metrics;
  /** How many failures the throttle allows before it blocks (defaults in throttle.ts). */
  throttle?: Partial<ThrottlePolicy>;
  /** Idle server sessions kept for the next client (server-pool.ts); maxIdle 0: none. */
  serverPool?: Partial<ServerPoolOptions>;
  /** A second port where clients share server sessions one transaction at a time
   * (txpool/); undefined: none. On `host`. */
  transactionPool?: { port: number } & Partial<TransactionPoolOptions>;
  /** A third port where Microsoft Entra principals sign in with PostgreSQL 18's
   * OAUTHBEARER instead of a token in the password field (sign-in/oauth-bearer.ts);
   * undefined: none. On `host`. */
  oauth?: { port: number } & OAuthChallenge;
}

/** What a reload may change (Gateway.reconfigure); what is left out stays. */
export interface GatewayReload {
  tls?: TlsMaterial;
  authTimeoutMs?: number;
  maxConnections?: number;
  maxPendingAuth?: number;
  throttle?: Partial<ThrottlePolicy>;
}

/** The secure context and channel-binding data of a certificate (throws when the pair is unusable). */
function gatewayTls(tls: TlsMaterial): GatewayTls {
  return {
    secureContext: createSecureContext({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' }),
    endPointHash: tlsServerEndPoint(tls.certPem),
  };
}

export class Gateway {
  private readonly server: Server;
  private readonly ctx: GatewayContext;
  /** The transaction pool's listener and context (the same sessions, throttle and cancel keys). */
  private readonly pool: { server: Server; ctx: GatewayContext } | undefined;
  /** The OAuth port's listener (the same sessions, kept server sessions, throttle and cancel keys). */
  private readonly oauth: Server | undefined;
  private readonly pending = new Set<Socket>();
  /** Connections waiting for a sign-in slot, in the order they came: nothing is read from
   * them and no sign-in timer runs until their turn. */
  private readonly waiting = new Map<Socket, GatewayContext>();
  private maxPending: number;

  constructor(private readonly options: GatewayOptions) {
    const poolOptions = { ...DEFAULT_SERVER_POOL, ...options.serverPool };
    const serverPool = poolOptions.maxIdle > 0 ? new ServerPool(poolOptions, options.log) : undefined;
    // A role changed (through pgwarden, or noticed by the catalog watch): its kept
    // sessions go, as its cached secret does.
    if (serverPool) options.roles.onChange((role) => serverPool.forget(role));
    const openings = new OpeningQueue(options.serverOpenConcurrency ?? DEFAULTS.serverOpenConcurrency);
    if (serverPool) serverPool.onKept = () => openings.roomFreed();
    if (options.metrics) {
      const metrics = options.metrics;
      metrics.beforeScrape.push(() => metrics.signInsWaitingForServer.set(openings.waiting));
    }
    if (serverPool && options.metrics) {
      const metrics = options.metrics;
      metrics.beforeScrape.push(() => metrics.serverSessionsIdle.set(serverPool.idleCount));
    }
    this.ctx = {
      live: {
        tls: gatewayTls(options.tls),
        authTimeoutMs: options.authTimeoutMs ?? DEFAULTS.authTimeoutSeconds * 1000,
        maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
      },
      allowPlainLoopback: options.allowPlainLoopback ?? false,
      backendTimeoutMs: options.backendTimeoutMs ?? DEFAULTS.backendTimeoutMs,
      serverWaitMs: options.serverWaitTimeoutMs ?? DEFAULTS.serverWaitTimeoutSeconds * 1000,
      openings,
      backend: options.backend,
      roles: options.roles,
      authMethod: options.authMethod ?? (() => 'both'),
      audit: options.audit,
      entra: options.entra,
      mockKey: options.mockKey,
      cancels: new CancelRegistry(),
      serverPool,
      transactionPool: undefined,
      oauth: undefined,
      sessionExpiry: options.sessionExpiry ?? (() => 'never'),
      sessionExpiryGraceMs: options.sessionExpiryGraceMs ?? SESSION_EXPIRY_GRACE_MS,
      sessions: new Set(),
      throttle: new SignInThrottle(Date.now, options.throttle),
      metrics: options.metrics,
      log: options.log,
    };
    if (options.metrics) {
      const metrics = options.metrics;
      const throttle = this.ctx.throttle;
      metrics.beforeScrape.push(() => metrics.throttledClients.set(throttle.blockedCount()));
    }
    this.maxPending = options.maxPendingAuth ?? DEFAULTS.maxPendingAuth;
    this.server = this.listener(this.ctx);
    if (options.transactionPool) {
      const transactionPool = new TransactionPool({ ...DEFAULT_TRANSACTION_POOL, ...options.transactionPool }, options.log);
      options.roles.onChange((role) => transactionPool.forget(role));
      const metrics = options.metrics;
      metrics?.beforeScrape.push(() => {
        const n = transactionPool.counts();
        for (const state of ['idle', 'busy', 'opening'] as const) metrics.poolServerSessions.set({ state }, n[state]);
        metrics.poolClientsWaiting.set(n.waiting);
      });
      const ctx = { ...this.ctx, transactionPool };
      this.pool = { server: this.listener(ctx), ctx };
    }
    if (options.oauth) {
      const { discoveryUrl, scope } = options.oauth;
      this.oauth = this.listener({ ...this.ctx, oauth: { discoveryUrl, scope } });
    }
  }

  /**
   * A reload: the certificate (served to new connections; signed-in sessions keep theirs),
   * the limits and the throttle's thresholds. Applies to every listener at once.
   */
  reconfigure(settings: GatewayReload): void {
    const live = this.ctx.live;
    if (settings.tls) live.tls = gatewayTls(settings.tls);
    if (settings.authTimeoutMs !== undefined) live.authTimeoutMs = settings.authTimeoutMs;
    if (settings.maxConnections !== undefined) live.maxConnections = settings.maxConnections;
    if (settings.maxPendingAuth !== undefined) {
      this.maxPending = settings.maxPendingAuth;
      this.nextTurn();
    }
    if (settings.throttle) this.ctx.throttle.setPolicy(settings.throttle);
  }

  private listener(ctx: GatewayContext): Server {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, ctx));
    server.on('error', (e) => this.options.log.error({ event: 'gateway-error', error: e.message }, 'gateway socket error'));
    return server;
  }

  private accept(socket: Socket, ctx: GatewayContext): void {
    if (this.pending.size < this.maxPending) return this.signIn(socket, ctx);
    if (this.waiting.size >= this.maxPending) {
      // Cheapest possible refusal: no TLS, no parsing. libpq shows the message.
      ctx.metrics?.connectionsTotal.inc({ outcome: 'too-many-pending' });
      socket.on('error', () => undefined);
      socket.end(errorResponse({ severity: 'FATAL', sqlstate: '53300', message: 'too many connections are signing in at once; try again' }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    // In line for a sign-in slot: the sign-in timer (--auth-timeout) starts with the
    // turn, so that a storm's last clients are not timed out for the gateway's slowness.
    this.waiting.set(socket, ctx);
    socket.on('error', () => undefined);
    socket.once('close', () => this.waiting.delete(socket));
  }

  private signIn(socket: Socket, ctx: GatewayContext): void {
    const metrics = ctx.metrics;
    this.pending.add(socket);
    metrics?.signInsPending.inc();
    const settled = (): void => {
      if (!this.pending.delete(socket)) return;
      metrics?.signInsPending.dec();
      this.nextTurn();
    };
    socket.once('close', settled);
    void new ClientConnection(socket, ctx, settled).run();
  }

  /** Gives free sign-in slots to the connections waiting longest. */
  private nextTurn(): void {
    for (const [socket, ctx] of this.waiting) {
      if (this.pending.size >= this.maxPending) return;
      this.waiting.delete(socket);
      if (!socket.destroyed) this.signIn(socket, ctx);
    }
  }

  /** Starts listening (and on the transaction pool's port); a port in use is a one-line
   * error that names the option. */
  async listen(): Promise<AddressInfo> {
    const address = await listenOn(this.server, this.options.host, this.options.port, '--port');
    const more: Array<[Server, number, string]> = [];
    if (this.pool) more.push([this.pool.server, this.options.transactionPool!.port, '--pool-port']);
    if (this.oauth) more.push([this.oauth, this.options.oauth!.port, '--oauth-port']);
    const listening = [this.server];
    try {
      for (const [server, port, option] of more) {
        await listenOn(server, this.options.host, port, option);
        listening.push(server);
      }
    } catch (e) {
      await Promise.all(listening.map((server) => new Promise((r) => server.close(r))));
      throw e;
    }
    return address;
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** The transaction pool's address, when there is one. */
  get poolAddress(): AddressInfo | undefined {
    return this.pool?.server.address() as AddressInfo | undefined;
  }

  /** The OAuth port's address, when there is one. */
  /** The transaction pool's server sessions by state (undefined without --pool-port). */
  get transactionPoolCounts(): ReturnType<TransactionPool['counts']> | undefined {
    return this.pool?.ctx.transactionPool?.counts();
  }

  get oauthAddress(): AddressInfo | undefined {
    return this.oauth?.address() as AddressInfo | undefined;
  }

  /** Closes every idle server session kept for reuse; returns how many there were. */
  closeIdleServerSessions(): number {
    const n = this.ctx.serverPool?.idleCount ?? 0;
    this.ctx.serverPool?.forget();
    return n;
  }

  /** Signed-in clients waiting for their turn to get a server session, and sessions being opened. */
  get serverWaitStats(): { waiting: number; opening: number } {
    return { waiting: this.ctx.openings.waiting, opening: this.ctx.openings.openingCount };
  }

  /** Idle server sessions kept for reuse, how many sign-ins reused one, and how many are being reset. */
  get serverPoolStats(): { idle: number; reused: number; resetting: number } {
    const pool = this.ctx.serverPool;
    return { idle: pool?.idleCount ?? 0, reused: pool?.reused ?? 0, resetting: pool?.resetting ?? 0 };
  }

  get sessionCount(): number {
    return this.ctx.sessions.size;
  }

  /**
   * Stops accepting and ends every connection still signing in; then lets signed-in
   * sessions finish for up to `drainMs` (0: close them at once), and closes the rest.
   */
  async close(drainMs = 0): Promise<void> {
    const servers = [this.server, ...(this.pool ? [this.pool.server] : []), ...(this.oauth ? [this.oauth] : [])];
    const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const s of this.waiting.keys()) s.destroy();
    for (const s of this.pending) s.destroy();
    if (drainMs > 0 && this.ctx.sessions.size > 0) {
      this.ctx.log.info({ event: 'draining', sessions: this.ctx.sessions.size, drainMs }, 'waiting for sessions to finish');
      const deadline = Date.now() + drainMs;
      while (this.ctx.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    for (const s of this.ctx.sessions) s.destroy();
    this.ctx.serverPool?.close();
    this.pool?.ctx.transactionPool?.close();
    await closed;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Connections waiting for a sign-in slot (--max-pending-auth). */
  get waitingCount(): number {
    return this.waiting.size;
  }
}

function listenOn(server: Server, host: string, port: number, option: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'EADDRINUSE') {
        reject(new PgwardenError('PORT_IN_USE', `port ${port} on ${host} is already in use; choose another with ${option}`));
      } else if (e.code === 'EACCES') {
        reject(new PgwardenError('PORT_IN_USE', `not allowed to listen on ${host}:${port}; choose another with ${option} or --host`));
      } else reject(new PgwardenError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${e.message}`));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
