// The composition root: the embedded cluster, the TLS material, the catalog watch and
// the gateway, started in order and stopped in reverse. The CLI's `up` and the tests
// both start pgwarden here.
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi, listenApi } from './api/server.js';
import { Metrics } from './observability/metrics.js';
import { Reconciler } from './reconcile/index.js';
import { SessionStore } from './api/sessions.js';
import { PORTAL_APPLICATION, portalPlugin, type PortalOptions } from './portal/index.js';
import { EmbeddedIdp, type SeededAdmin } from './idp/embedded-idp.js';
import { oauthChallenge } from './identity/config.js';
import { AuditWriter } from './catalog/audit.js';
import type { AuthMethod } from './catalog/auth-method.js';
import { CatalogWatch } from './catalog/catalog-watch.js';
import { DerivedKeys } from './catalog/derived-password.js';
import { RoleCatalog } from './catalog/role-catalog.js';
import { EmbeddedCluster } from './cluster/embedded.js';
import { ExternalCluster } from './cluster/external.js';
import type { Cluster } from './cluster/cluster.js';
import type { ServerPoolOptions } from './gateway/server-pool.js';
import { Gateway, type GatewayOptions } from './gateway/server.js';
import { SignInThrottle, type ThrottlePolicy } from './util/throttle.js';
import { startIdentity, type IdentityOptions } from './identity-startup.js';
import { reload, type Reloadable, type ReloadOutcome, type ReloadSettings } from './reload.js';
import { TokenVerifier } from './identity/verify-token.js';
import { OidcVerifier } from './identity/oidc-verifier.js';
import { checkOidcIssuers, type OidcIssuerConfig } from './identity/oidc-config.js';
import { ensureLocalTls, loadOperatorTls, type TlsMaterial } from './tls/certificates.js';
import { PgwardenError } from './util/errors.js';
import type { Logger } from './util/log.js';
import { dataDirPaths } from './util/data-dir-paths.js';
import { DEFAULTS, defined } from './util/defaults.js';

export interface PgwardenOptions {
  dataDir: string;
  workers?: number;
  host: string;
  port: number;
  citusPassword?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowPlainLoopback?: boolean;
  authTimeoutMs?: number;
  maxPendingAuth?: number;
  maxConnections?: number;
  /** How long a signed-in client waits for PostgreSQL to start its session while it is slow or full. */
  serverWaitTimeoutMs?: number;
  /** Idle server sessions kept for reuse (src/gateway/server-pool.ts). */
  serverPool?: Partial<ServerPoolOptions>;
  /** The transaction pool's port (0: any) and settings (src/gateway/txpool/); undefined: none. */
  transactionPool?: GatewayOptions['transactionPool'];
  /** The OAuth port (0: any), where Entra principals sign in with PostgreSQL 18's
   * OAUTHBEARER, and the scope its clients ask for (default: the first accepted
   * audience's `/.default`); undefined: none. */
  oauth?: { port: number; scope?: string };
  throttle?: Partial<ThrottlePolicy>;
  /** How long a query in flight when its session's token expires may still run (tests shorten it). */
  sessionExpiryGraceMs?: number;
  /** The authentication method of a new cluster (default both). */
  authMethod?: AuthMethod;
  /**
   * Whose access tokens are accepted: a real Microsoft Entra tenant (`entra`), or the
   * embedded identity provider started here (`embedded`, the default, on `port`, 0 for
   * any), or nobody (`none`: Entra sign-in is off).
   */
  identity?: IdentityOptions;
  /** Other OpenID Connect issuers whose principals sign in with their tokens (docs/oidc.md). */
  oidc?: { issuers: readonly OidcIssuerConfig[]; clockSkewSeconds?: number };
  /** The control plane's REST API (and portal): loopback and 8080 unless given. */
  apiHost?: string;
  apiPort?: number;
  /** The portal's sign-in with a real tenant: its application (client) id and public URL. */
  portal?: PortalOptions;
  /** The reconciler's periodic full pass (default 30 s). */
  reconcileIntervalMs?: number;
  /** The embedded cluster is a Citus cluster (its binaries must have Citus). */
  citus?: boolean;
  /** The bin directory of the PostgreSQL the embedded cluster runs. */
  postgresBin?: string;
  /** An existing cluster (administrators' connection strings) instead of the embedded one. */
  external?: { coordinator: string; workers: string[] };
  /** Benchmarks: nodes also listen on loopback TCP with TLS (ports basePort, basePort+1, ...). */
  nodeTcp?: { host: string; basePort: number };
  /** Benchmarks: extra server settings for every node (max_connections, ...). */
  nodeSettings?: Record<string, string>;
  log: Logger;
}

export interface RunningPgwarden {
  readonly cluster: Cluster;
  readonly gateway: Gateway;
  readonly tls: TlsMaterial;
  readonly address: AddressInfo;
  readonly catalog: CatalogWatch;
  readonly reconciler: Reconciler;
  readonly api: FastifyInstance;
  /** The API's base URL, e.g. https://127.0.0.1:8080 */
  readonly apiUrl: string;
  /** The citus password, when this start generated it (to be printed once). */
  readonly generatedCitusPassword: string | undefined;
  readonly metrics: Metrics;
  /** The embedded identity provider, when it runs. */
  readonly idp: EmbeddedIdp | undefined;
  /** The embedded provider's first user (an Entra admin), when this start created it (to be printed once). */
  readonly seededAdmin: SeededAdmin | undefined;
  /** Applies new settings without a restart (src/reload.ts); refused whole when one is bad. */
  reload(settings: ReloadSettings): Promise<ReloadOutcome>;
  /** The OAuth port and what its clients need (oauth_issuer), when it runs. */
  readonly oauth: { address: AddressInfo; issuer: string; scope: string } | undefined;
  /** Stops everything; signed-in sessions get up to `drainMs` to finish (default 0). */
  stop(drainMs?: number): Promise<void>;
}

export async function startPgwarden(options: PgwardenOptions): Promise<RunningPgwarden> {
  const { log } = options;
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new PgwardenError('CONFIG_INVALID', '--tls-cert and --tls-key go together');
  }
  // The TLS material comes first: nodes that also listen on TCP use the same certificate.
  const dataDirTls = options.tlsCert && options.tlsKey ? undefined : await ensureLocalTls(resolve(options.dataDir), [options.host]);
  const cluster: Cluster = options.external
    ? await ExternalCluster.open({
        dataDir: options.dataDir,
        log,
        coordinator: options.external.coordinator,
        workers: options.external.workers,
        ...defined({ citusPassword: options.citusPassword, authMethod: options.authMethod }),
      })
    : await EmbeddedCluster.open({
        dataDir: options.dataDir,
        log,
        ...(options.nodeTcp && dataDirTls ? { tcp: { ...options.nodeTcp, certPem: dataDirTls.certPem, keyPem: dataDirTls.keyPem } } : {}),
        ...defined({
          settings: options.nodeSettings,
          workers: options.workers,
          citusPassword: options.citusPassword,
          authMethod: options.authMethod,
          citus: options.citus,
          postgresBin: options.postgresBin,
        }),
      });
  const tls = dataDirTls ?? (await loadOperatorTls(options.tlsCert!, options.tlsKey!));
  const started = await cluster.start();

  // Everything started from here on is stopped in reverse order, also when a later step fails.
  const stoppers: Array<() => Promise<void>> = [() => cluster.stop()];
  let drainMs = 0;
  const stopAll = async (): Promise<void> => {
    for (const stop of stoppers.reverse()) await stop().catch((e: unknown) => log.warn({ error: (e as Error).message }, 'error while stopping'));
  };
  const metrics = new Metrics();
  try {
    const pool = cluster.gatewayPool('reads');
    stoppers.push(() => pool.end());
    const writes = cluster.gatewayPool();
    stoppers.push(() => writes.end());
    const roles = new RoleCatalog(pool);
    const catalog = new CatalogWatch(() => cluster.gatewayClient(), pool, roles, log);
    await catalog.start();
    stoppers.push(() => catalog.stop());
    const audit = new AuditWriter(writes, log);
    stoppers.push(() => audit.close());
    // Every worker converges to the coordinator (roles, grants), also after an outage.
    const reconciler = new Reconciler({ admin: cluster, log, ...(options.reconcileIntervalMs ? { intervalMs: options.reconcileIntervalMs } : {}) });
    await reconciler.start();
    stoppers.push(() => reconciler.stop());
    watchReconciler(reconciler, metrics);
    const identity = await startIdentity(options.identity, cluster, tls, log);
    if (identity.idp) stoppers.push(() => identity.idp!.close());
    const verifier = identity.config ? new TokenVerifier(identity.config) : undefined;
    if (verifier) stoppers.push(async () => verifier.keys.close());
    const oidc = options.oidc?.issuers.length
      ? new OidcVerifier(
          checkOidcIssuers(options.oidc.issuers),
          options.oidc.clockSkewSeconds ?? identity.config?.clockSkewSeconds ?? DEFAULTS.clockSkewSeconds,
        )
      : undefined;
    const derivedKeys = new DerivedKeys(cluster.gatewaySecret);
    if (options.oauth && !identity.config)
      throw new PgwardenError('CONFIG_INVALID', '--oauth-port needs an identity provider (the embedded one, or --entra-tenant)');
    const oauth = options.oauth && identity.config && { port: options.oauth.port, ...oauthChallenge(identity.config, options.oauth.scope) };

    const gateway = new Gateway({
      host: options.host,
      port: options.port,
      tls,
      backend: cluster.backend,
      roles,
      authMethod: () => catalog.authMethod,
      sessionExpiry: () => catalog.sessionExpiry,
      audit,
      ...(verifier || oidc ? { entra: { verifier, derivedKeys, ...defined({ membership: identity.membership, oidc }) } } : {}),
      mockKey: cluster.mockKey,
      log,
      metrics,
      allowPlainLoopback: options.allowPlainLoopback ?? false,
      ...defined({
        authTimeoutMs: options.authTimeoutMs,
        maxPendingAuth: options.maxPendingAuth,
        maxConnections: options.maxConnections,
        serverWaitTimeoutMs: options.serverWaitTimeoutMs,
        serverPool: options.serverPool,
        throttle: options.throttle,
        transactionPool: options.transactionPool,
        oauth: oauth && { port: oauth.port, discoveryUrl: oauth.discoveryUrl, scope: oauth.scope },
        sessionExpiryGraceMs: options.sessionExpiryGraceMs,
      }),
    });
    const address = await gateway.listen();
    stoppers.push(() => gateway.close(drainMs));

    const apiThrottle = new SignInThrottle(Date.now, options.throttle);
    const api = await buildApi(
      {
        admin: cluster,
        cluster,
        gatewaySecret: cluster.gatewaySecret,
        tenantId: identity.config?.tenantId,
        verifier,
        oidcIssuers: oidc?.configs.map((c) => c.issuer) ?? [],
        directory: identity.directory,
        audit,
        reconciler,
        citusPasswordFile: cluster.citusPasswordFile,
        log,
      },
      {
        tls,
        metrics,
        sessions: new SessionStore(),
        signInThrottle: apiThrottle,
        plugins: [portalPlugin(identity.idp ? { entra: { clientId: PORTAL_APPLICATION.appId } } : (options.portal ?? {}))],
        ready: async () => {
          await pool.query('SELECT 1');
          return gateway.listening;
        },
      },
    );
    stoppers.push(() => api.close());
    const apiAddress = await listenApi(api, options.apiHost ?? DEFAULTS.apiHost, options.apiPort ?? DEFAULTS.apiPort);
    const apiUrl = `https://${apiAddress.family === 'IPv6' ? `[${apiAddress.address}]` : apiAddress.address}:${apiAddress.port}`;
    await writeFile(dataDirPaths(cluster.dataDir).api, JSON.stringify({ url: apiUrl }, null, 2) + '\n');
    log.info({ event: 'started', gateway: `${address.address}:${address.port}`, nodes: cluster.adminNodes.length }, 'pgwarden is running');

    const reloadable: Reloadable = { gateway, api, apiThrottle, verifier, oidc, log, tls };
    let stopping: Promise<void> | undefined;
    return {
      cluster,
      gateway,
      tls,
      address,
      catalog,
      reconciler,
      api,
      apiUrl,
      metrics,
      idp: identity.idp,
      seededAdmin: identity.seededAdmin,
      oauth: oauth && { address: gateway.oauthAddress!, issuer: oauth.issuer, scope: oauth.scope },
      generatedCitusPassword: started.generatedCitusPassword,
      reload: (settings) => reload(reloadable, settings),
      stop: (drain = 0) => {
        drainMs = drain;
        return (stopping ??= stopAll().then(() => {
          log.info({ event: 'stopped' }, 'pgwarden stopped');
        }));
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Worker health and reconciler lag as metrics, computed at each scrape. */
function watchReconciler(reconciler: Reconciler, metrics: Metrics): void {
  const update = (): void => {
    const now = Date.now();
    for (const s of reconciler.status()) {
      metrics.nodeUp.set({ node: s.node, kind: 'worker' }, s.state === 'unreachable' ? 0 : 1);
      const since = s.state === 'in-sync' ? now : s.lastInSyncAt ? Date.parse(s.lastInSyncAt) : now;
      metrics.reconcilerLag.set({ node: s.node }, Math.max(0, (now - since) / 1000));
    }
  };
  metrics.beforeScrape.push(update);
}
