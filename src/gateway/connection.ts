// One client connection through its sign-in, step by step (in the manner of
// PgBouncer's client.c): negotiate TLS and read the startup packet (client-transport.ts),
// check the policies, let the client prove who it is (sign-in/), take a kept server
// session or sign in to PostgreSQL as the role, in line while it is slow or full
// (session-reuse.ts, server-session.ts), hand over to the byte pump. Every sign-in is
// recorded once, when it ends either way.
// https://www.postgresql.org/docs/current/protocol-flow.html
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { errorResponse, negotiateProtocolVersion } from '../protocol/messages.js';
import { allowsEntra, allowsNative } from '../catalog/auth-method.js';
import { PgwardenError, describeError, isPgwardenError } from '../util/errors.js';
import { retryAfterText } from '../util/throttle.js';
import { BackendRefusal, sendCancel, startupMessages, type BackendSession } from './backend.js';
import { serverSession } from './server-session.js';
import { ClientTransport, type Startup } from './client-transport.js';
import type { EntraSignIn, GatewayContext, OAuthChallenge } from './context.js';
import type { EntraPrincipal } from '../catalog/principals.js';
import { pump } from './pump.js';
import type { PooledSession } from './server-pool.js';
import { SessionReuse } from './session-reuse.js';
import { tokenExpiredMessage, watchSession, whenTokenExpires } from './token-expiry.js';
import { poolKey } from './server-pool.js';
import { TransactionClient } from './txpool/client.js';
import type { TransactionPool } from './txpool/pool.js';
import { SignInRejected, type ClientProof, type SignInMethod } from './sign-in/method.js';
import { scramSignIn } from './sign-in/scram.js';
import { entraTokenSignIn } from './sign-in/entra-token.js';
import { oauthBearerSignIn } from './sign-in/oauth-bearer.js';

const EMPTY = Buffer.alloc(0);
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** Refusals that are recorded as such (other failures are not sign-ins: a protocol
 * error, a client gone, PostgreSQL's own answer). */
const RECORDED_REFUSALS = new Set(['THROTTLED', 'TOO_MANY_CONNECTIONS', 'CLUSTER_FULL', 'CLUSTER_NOT_ACCEPTING', 'AUTH_METHOD_DISABLED']);
/** Ends of a sign-in that are not worth a log line at info. */
const QUIET_ENDS = new Set(['AUTH_FAILED', 'PEER_CLOSED', 'DISCOVERY_REQUEST']);

export class ClientConnection {
  private readonly io: ClientTransport;
  private role = '';
  private startupParams: Map<string, string> = new Map();
  private failed = false;
  private database = '';
  private readonly timer: NodeJS.Timeout;
  private readonly remote: string;

  /** When the startup packet arrived (sign-in latency). */
  private startedAt = 0;
  private method: SignInMethod['name'] | undefined;
  /** The role's verifier as the sign-in found it (server sessions are reused only while
   * it stays the same); null when the role cannot have its sessions reused. */
  private verifier: string | null = null;
  private reuse: SessionReuse | undefined;
  /** Why the credentials were refused (logs and the audit). */
  private failureReason = '';
  /** How long the answer to this client's failure waits (its address failed often). */
  private holdBackMs = 0;

  /** @param signedInOrGone called once the connection leaves the sign-in phase */
  constructor(
    raw: Socket,
    private readonly ctx: GatewayContext,
    private readonly signedInOrGone: () => void = () => undefined,
  ) {
    this.remote = raw.remoteAddress ?? 'unknown';
    this.io = new ClientTransport(raw);
    this.timer = setTimeout(() => this.abort(new PgwardenError('AUTH_TIMEOUT', 'canceling authentication due to timeout')), ctx.live.authTimeoutMs);
  }

  private get socket(): Socket {
    return this.io.socket;
  }

  async run(): Promise<void> {
    try {
      // The certificate of now: a reload changes it for the next connections only.
      const packet = await this.io.negotiate(this.ctx.live.tls);
      if (packet.kind === 'cancel') {
        this.ctx.cancels.cancel(packet.processId, packet.secretKey);
        return this.close();
      }
      this.startedAt = performance.now();
      this.checkTransport();
      const reuse = this.acceptStartup(packet);
      this.checkThrottle();
      reuse.startEarly();
      const proof = await this.authenticate();
      reuse.narrow(proof.reuseScope);
      this.checkCapacity();
      if (this.ctx.transactionPool) {
        await this.joinTransactionPool(this.ctx.transactionPool, proof);
      } else {
        this.handOver(proof, await this.serverSession(proof, reuse));
      }
    } catch (e) {
      this.record(e);
      if (this.holdBackMs > 0) await this.holdBack(this.holdBackMs);
      return this.fail(e);
    }
    this.record();
  }

  // Step 2: transport policy.
  private checkTransport(): void {
    if (this.io.tls) return;
    if (this.ctx.allowPlainLoopback && LOOPBACK.has(this.remote)) return;
    throw new PgwardenError('SSL_REQUIRED', 'SSL connection is required', {
      detail: 'pgwarden accepts only encrypted connections. Use sslmode=require or stronger.',
    });
  }

  // Step 3: the startup parameters.
  private acceptStartup(startup: Startup): SessionReuse {
    const params = startup.params;
    this.role = params.get('user')!;
    this.database = params.get('database') || this.role;
    const replication = params.get('replication');
    if (replication !== undefined && !['false', 'off', 'no', '0'].includes(replication.toLowerCase())) {
      throw new PgwardenError('FEATURE_NOT_SUPPORTED', 'replication connections are not supported through pgwarden');
    }
    // We speak 3.0 with both sides. A newer minor version or protocol options
    // (`_pq_.*`) are answered with NegotiateProtocolVersion, as PostgreSQL does.
    const options = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
    if (startup.minorVersion > 0 || options.length > 0) {
      this.socket.write(negotiateProtocolVersion(0, options));
    }
    for (const o of options) params.delete(o);
    params.set('database', this.database);
    this.startupParams = params;
    this.reuse = new SessionReuse(this.ctx, this.role, this.database, params);
    return this.reuse;
  }

  // Step 3b: a role that failed too often from this address recently is refused before
  // it tries again. Only the role's own failures refuse it: failures of other roles from
  // the same address (a NAT, a shared host) only hold back the answers to failures
  // (authFailed), never a right password.
  private checkThrottle(): void {
    const verdict = this.ctx.throttle.check(this.remote, this.role);
    if (!verdict.blocked) return;
    this.ctx.metrics?.throttled.inc();
    throw new PgwardenError('THROTTLED', `too many failed sign-in attempts; try again in ${retryAfterText(verdict.retryAfterMs)}`);
  }

  private checkCapacity(): void {
    if (this.ctx.sessions.size >= this.ctx.live.maxConnections) throw new PgwardenError('TOO_MANY_CONNECTIONS', 'sorry, too many clients already');
  }

  // Step 4: the client proves who it is: an Entra principal with an access token (in the
  // password field, or by OAUTHBEARER on the OAuth port), any other role (known or not,
  // all get the same answer) with SCRAM against its secret.
  private async authenticate(): Promise<ClientProof> {
    const lookup = await this.ctx.roles.lookup(this.role);
    const method = this.ctx.authMethod();
    if (lookup.kind !== 'none') this.verifier = lookup.verifier;
    const { entra, oauth } = this.ctx;
    const signIn =
      lookup.kind !== 'entra'
        ? scramSignIn(this.ctx, this.role, lookup)
        : oauth
          ? oauthBearerSignIn(entra, lookup.principal, oauthChallengeFor(lookup.principal, entra, oauth))
          : entraTokenSignIn(entra, lookup.principal);
    this.method = signIn.name;
    if (signIn.name !== 'scram' && !allowsEntra(method))
      throw new PgwardenError('AUTH_METHOD_DISABLED', 'Microsoft Entra authentication is disabled for this cluster');
    if (signIn.name === 'scram' && !allowsNative(method))
      throw new PgwardenError('AUTH_METHOD_DISABLED', 'PostgreSQL authentication is disabled for this cluster');
    try {
      return await signIn.prove(this.io);
    } catch (e) {
      if (e instanceof SignInRejected) throw this.authFailed(e.reason, e.detail);
      throw e;
    }
  }

  /** The one failure every sign-in gets (28P01), with a DETAIL only for token holders;
   * `guess` false: not counted by the throttle. */
  private authFailed(reason: string, detail?: string, guess = true): PgwardenError {
    this.failureReason = reason;
    this.holdBackMs = guess ? this.ctx.throttle.failure(this.remote, this.role) : 0;
    const delayed = this.holdBackMs > 0 ? { delayedMs: this.holdBackMs } : {};
    this.ctx.log.info(
      { event: 'sign-in', result: 'failed', reason, role: this.role, database: this.database, client: this.remote, ...delayed },
      'sign-in failed',
    );
    if (this.holdBackMs > 0) this.ctx.metrics?.failuresDelayed.inc();
    return new PgwardenError('AUTH_FAILED', `password authentication failed for user "${this.role}"`, detail ? { detail } : undefined);
  }

  // Step 5: a kept server session, or a new one signed in as the role, waiting in line
  // while PostgreSQL is slow or full (server-session.ts). The sign-in timer stops here: the
  // client has done its part, and the wait has a bound of its own.
  private async serverSession(proof: ClientProof, reuse?: SessionReuse): Promise<PooledSession> {
    clearTimeout(this.timer);
    const kept = reuse ? { kept: () => reuse.take(this.verifier) } : {};
    let session: BackendSession | PooledSession;
    try {
      session = await serverSession({ ctx: this.ctx, params: this.startupParams, keysFor: proof.keysFor, client: this.socket, ...kept });
    } catch (e) {
      if (isPgwardenError(e, 'AUTH_FAILED') || (e instanceof BackendRefusal && e.sqlstate === '28P01')) {
        // The secret changed between our check and PostgreSQL's: the client proved the
        // password that was right then, which is no guess (a reset during sign-ins).
        this.ctx.roles.changed(this.role);
        throw this.authFailed('secret-changed', undefined, false);
      }
      throw e;
    }
    return 'bornAt' in session ? session : { ...session, role: this.role, verifier: this.verifier ?? '', bornAt: Date.now() };
  }

  // Step 6: finish the client's sign-in and pipe bytes.
  private handOver(proof: ClientProof, backend: PooledSession): void {
    clearTimeout(this.timer);
    const early = this.io.wire.detach();
    const issued = backend.key ? this.ctx.cancels.issue(backend.key) : undefined;
    this.socket.write(Buffer.concat([proof.finalMessages, startupMessages(backend, issued?.key)]));
    // Bytes the client sent ahead of its sign-in's end were not followed: no reuse then.
    const reuse = early.length === 0 ? this.reuse?.onCleanEnd(backend) : undefined;
    const expiry =
      proof.expiresAtMs === undefined
        ? undefined
        : watchSession(this.ctx, { role: this.role, client: this.socket, backend, expiresAtMs: proof.expiresAtMs }, reuse?.tracker, early);
    if (early.length > 0) backend.socket.write(early);
    const client = this.socket;
    this.signedIn(client);
    const metrics = this.ctx.metrics;
    pump(
      client,
      backend.socket,
      (stats) => {
        expiry?.stop();
        issued?.withdraw();
        this.ctx.sessions.delete(client);
        metrics?.connectionsActive.dec();
        metrics?.bytes.inc({ direction: 'client-to-server' }, stats.bytesFromClient);
        metrics?.bytes.inc({ direction: 'server-to-client' }, stats.bytesFromServer);
      },
      reuse,
      expiry?.tracker,
    );
  }

  // Step 5 and 6 on the transaction pool's port: the client joins the group of server
  // sessions of its role, database and startup parameters (application_name aside). Its
  // sign-in is checked by PostgreSQL as on the session port: a new session when the group
  // has none yet, else the same check a kept session gets (LOGIN, CONNECT, the verifier
  // the sign-in found).
  private async joinTransactionPool(pool: TransactionPool, proof: ClientProof): Promise<void> {
    const params = new Map([...this.startupParams].filter(([name]) => name !== 'application_name'));
    const group = pool.group(poolKey(params) + (proof.reuseScope ? `\0${proof.reuseScope}` : ''), this.role);
    const open = (): Promise<BackendSession> => this.serverSession(proof);
    let parameters = group.parameters;
    if (parameters && (this.verifier === null || (await this.ctx.roles.recheck(this.role, this.database)) !== this.verifier)) parameters = undefined;
    if (!parameters) {
      const server = await pool.acquire(group, open);
      parameters = server.session.parameters;
      pool.release(server, true);
    }
    clearTimeout(this.timer);
    const early = this.io.wire.detach();
    const socket = this.socket;
    const metrics = this.ctx.metrics;
    const client = new TransactionClient({
      pool,
      group,
      client: socket,
      open,
      log: this.ctx.log,
      onClose: () => {
        stopExpiry?.();
        issued.withdraw();
        this.ctx.sessions.delete(socket);
        metrics?.connectionsActive.dec();
      },
    });
    const issued = this.ctx.cancels.issueRoute(() => client.backendKey);
    const graceMs = this.ctx.sessionExpiryGraceMs;
    const stopExpiry =
      proof.expiresAtMs === undefined
        ? undefined
        : whenTokenExpires(proof.expiresAtMs, this.ctx.sessionExpiry, () => client.expire(tokenExpiredMessage(), graceMs, sendCancel));
    socket.write(Buffer.concat([proof.finalMessages, startupMessages({ parameters, notices: EMPTY, trailing: EMPTY }, issued.key)]));
    this.signedIn(socket);
    client.start(early);
  }

  /** What every signed-in client counts: the session, the log line, the throttle, the metrics. */
  private signedIn(client: Socket): void {
    if (!this.io.tls) client.setNoDelay(true);
    this.ctx.sessions.add(client);
    this.ctx.log.info({ event: 'sign-in', result: 'ok', method: this.method, role: this.role, database: this.database, client: this.remote }, 'signed in');
    this.ctx.throttle.success(this.remote, this.role);
    this.signedInOrGone();
    const metrics = this.ctx.metrics;
    metrics?.signInSeconds.observe({ method: this.method }, (performance.now() - this.startedAt) / 1000);
    metrics?.connectionsTotal.inc({ outcome: 'signed-in' });
    metrics?.connectionsActive.inc();
  }

  /** Records how the sign-in ended (the audit and the metrics), once: signed in when
   * `error` is undefined, else failed (wrong credentials) or refused (a policy). */
  private record(error?: unknown): void {
    let result: 'ok' | 'failed' | 'refused';
    let reason: string | undefined;
    if (error === undefined) result = 'ok';
    else if (isPgwardenError(error, 'AUTH_FAILED')) [result, reason] = ['failed', this.failureReason];
    else if (isPgwardenError(error) && RECORDED_REFUSALS.has(error.code)) [result, reason] = ['refused', error.code];
    else return;
    const method = this.method;
    this.ctx.audit?.record({ kind: 'sign-in', action: 'sign-in', actor: this.role, target: this.database, method, clientAddr: this.remote, result, reason });
    this.ctx.metrics?.signIns.inc({ method: method ?? 'none', result, code: reason ?? 'OK' });
  }

  private fail(e: unknown): void {
    clearTimeout(this.timer);
    this.signedInOrGone();
    if (this.failed || this.socket.destroyed) return;
    this.failed = true;
    this.ctx.metrics?.connectionsTotal.inc({ outcome: isPgwardenError(e) ? e.code.toLowerCase() : 'error' });
    if (e instanceof BackendRefusal) {
      this.socket.end(e.raw);
      return;
    }
    if (isPgwardenError(e)) {
      if (!QUIET_ENDS.has(e.code))
        this.ctx.log.info({ event: 'connection-refused', code: e.code, reason: e.message, client: this.remote }, 'connection refused');
      else if (e.code === 'DISCOVERY_REQUEST')
        this.ctx.log.debug({ event: 'oauth-discovery', role: this.role, client: this.remote }, 'OAuth discovery requested');
      if (e.code === 'PEER_CLOSED') return this.close();
      this.socket.end(errorResponse({ severity: 'FATAL', sqlstate: e.kind.sqlstate, message: e.message, detail: e.detail }));
    } else {
      this.ctx.log.warn({ event: 'connection-error', error: describeError(e), client: this.remote }, 'connection failed');
      this.socket.end(errorResponse({ severity: 'FATAL', sqlstate: 'XX000', message: 'internal error in pgwarden' }));
    }
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** The answer to a failure waits, as with PostgreSQL's auth_delay (the failure is
   * counted already); a client that goes meanwhile ends the wait. Bounded by the
   * throttle's cap, so the sign-in timer is not needed any more. */
  private async holdBack(ms: number): Promise<void> {
    clearTimeout(this.timer);
    const socket = this.socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        socket.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      socket.once('close', done);
    });
  }

  private abort(e: PgwardenError): void {
    // The pending read ends when the socket closes; run() then finds us failed already.
    this.fail(e);
  }

  private close(): void {
    clearTimeout(this.timer);
    this.signedInOrGone();
    this.socket.destroy();
  }
}

/** What an OAuth client is told: the Entra tenant's discovery document, or that of the
 * principal's own OpenID Connect issuer, with the scope configured for it. */
function oauthChallengeFor(principal: EntraPrincipal, entra: EntraSignIn | undefined, entraChallenge: OAuthChallenge): OAuthChallenge {
  const issuer = principal.issuer === undefined ? undefined : entra?.oidc?.configs.find((c) => c.issuer === principal.issuer);
  if (!issuer) return entraChallenge;
  return { discoveryUrl: `${issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, scope: issuer.scope };
}
