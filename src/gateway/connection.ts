// One client connection through its sign-in, step by step (in the manner of
// PgBouncer's client.c): negotiate TLS, read the startup packet, authenticate the role,
// sign in to PostgreSQL as that role, hand over to the byte pump.
// https://www.postgresql.org/docs/current/protocol-flow.html
import { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { ALPN_POSTGRESQL, MAX_AUTH_MESSAGE_BYTES, TLS_HANDSHAKE_BYTE } from '../protocol/constants.js';
import {
  authenticationCleartextPassword,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  errorResponse,
  negotiateProtocolVersion,
  parsePasswordMessage,
  parseSASLInitialResponse,
} from '../protocol/messages.js';
import type { RoleLookup } from '../catalog/role-catalog.js';
import type { EntraPrincipal } from '../catalog/principals.js';
import { matchPrincipalAsking } from '../identity/match-principal.js';
import { allowsEntra, allowsNative } from '../catalog/auth-method.js';
import { parseStartupPacket, type StartupPacket } from '../protocol/startup.js';
import { mockScramSecret, type ScramSecret } from '../scram/primitives.js';
import { ScramServerExchange, scramMechanisms } from '../scram/server.js';
import { PgwardenError, describeError, isPgwardenError } from '../util/errors.js';
import { retryAfterText } from '../util/throttle.js';
import { BackendRefusal, openBackendSession, startupMessages, type BackendSession } from './backend.js';
import type { GatewayContext } from './context.js';
import { pump, type Reuse } from './pump.js';
import { closeSession, poolKey, type PooledSession } from './server-pool.js';
import { SessionTracker } from './session-tracker.js';
import { Wire } from './wire.js';

type Startup = Extract<StartupPacket, { kind: 'startup' }>;

/** What a successful authentication of the client leaves behind. */
interface ClientProof {
  /** Sent to the client once PostgreSQL has accepted the role too. */
  finalMessages: Buffer;
  /** Signs in to PostgreSQL as the role. */
  keysFor: Parameters<typeof openBackendSession>[2];
}

/** Three base64url parts, the first one a JSON header: something meant as a token. */
function looksLikeJwt(s: string): boolean {
  return /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export class ClientConnection {
  private socket: Socket;
  private wire: Wire;
  private tls: TLSSocket | undefined;
  private role = '';
  private startupParams: Map<string, string> = new Map();
  private failed = false;
  private database = '';
  private readonly timer: NodeJS.Timeout;
  private readonly remote: string;

  /** When the startup packet arrived (sign-in latency). */
  private startedAt = 0;
  private method: 'scram' | 'entra' | undefined;
  /** The role's verifier as the sign-in found it (server sessions are reused only while
   * it stays the same); null when the role cannot have its sessions reused. */
  private verifier: string | null = null;
  /** Which kept server sessions could serve this client (server-pool.ts). */
  private poolKey = '';
  private recheckStartedAt = 0;
  /** How long the answer to this client's failure waits (its address failed often). */
  private holdBackMs = 0;

  /** @param signedInOrGone called once the connection leaves the sign-in phase */
  constructor(raw: Socket, private readonly ctx: GatewayContext, private readonly signedInOrGone: () => void = () => undefined) {
    this.socket = raw;
    this.remote = raw.remoteAddress ?? 'unknown';
    raw.on('error', () => undefined); // errors surface through the wire; never crash
    this.wire = new Wire(raw, MAX_AUTH_MESSAGE_BYTES);
    this.timer = setTimeout(() => this.abort(new PgwardenError('AUTH_TIMEOUT', 'canceling authentication due to timeout')), ctx.authTimeoutMs);
  }

  async run(): Promise<void> {
    try {
      const startup = await this.negotiate();
      if (!startup) return;
      this.startedAt = performance.now();
      this.checkTransport();
      this.acceptStartup(startup);
      this.checkThrottle();
      const recheck = this.recheckEarly();
      const proof = await this.authenticate();
      this.checkCapacity();
      const backend = (await this.reuseSession(recheck)) ?? (await this.signInToBackend(proof));
      this.handOver(proof, backend);
    } catch (e) {
      if (this.holdBackMs > 0) await this.holdBack(this.holdBackMs);
      this.fail(e);
    }
  }

  // Step 1: TLS negotiation and the startup packet. Returns undefined for a cancel.
  private async negotiate(): Promise<Startup | undefined> {
    if ((await this.wire.peekByte()) === TLS_HANDSHAKE_BYTE) await this.startTls(true);
    for (;;) {
      const packet = parseStartupPacket(await this.wire.readStartupPacket());
      switch (packet.kind) {
        case 'ssl':
          if (this.tls) throw new PgwardenError('PROTOCOL_VIOLATION', 'SSL request received on an encrypted connection');
          // Bytes after SSLRequest and before our answer would be read as if they had
          // come through TLS (CVE-2021-23214): refuse them.
          if (this.wire.pendingBytes > 0) throw new PgwardenError('PROTOCOL_VIOLATION', 'received unencrypted data after SSL request');
          this.socket.write('S');
          await this.startTls(false);
          break;
        case 'gssenc':
          if (this.tls) throw new PgwardenError('PROTOCOL_VIOLATION', 'GSSAPI encryption request received on an encrypted connection');
          this.socket.write('N');
          break;
        case 'cancel':
          this.ctx.cancels.cancel(packet.processId, packet.secretKey);
          this.close();
          return undefined;
        case 'startup':
          return packet;
      }
    }
  }

  private async startTls(direct: boolean): Promise<void> {
    const raw = this.socket;
    const early = this.wire.detach();
    // Bytes already read (the ClientHello of a direct-TLS client) go back to the socket;
    // TLSSocket feeds a wrapped socket's buffered bytes to OpenSSL before reading more.
    if (early.length > 0) raw.unshift(early);
    const tls = new TLSSocket(raw, { isServer: true, secureContext: this.ctx.secureContext, ALPNProtocols: [ALPN_POSTGRESQL] });
    tls.on('error', () => undefined);
    this.socket = tls;
    this.tls = tls;
    this.wire = new Wire(tls, MAX_AUTH_MESSAGE_BYTES);
    await new Promise<void>((resolve, reject) => {
      const failed = (e?: Error): void => {
        tls.off('close', failed);
        tls.off('error', failed);
        reject(new PgwardenError('PROTOCOL_VIOLATION', e ? 'TLS handshake failed' : 'the client closed the connection during the TLS handshake', { cause: e }));
      };
      tls.once('error', failed);
      tls.once('close', failed);
      tls.once('secure', () => {
        // Off again: an error object (with its stack trace) per closing session is waste.
        tls.off('error', failed);
        tls.off('close', failed);
        resolve();
      });
    });
    if (direct && tls.alpnProtocol !== ALPN_POSTGRESQL) {
      throw new PgwardenError('PROTOCOL_VIOLATION', 'direct SSL connection without the "postgresql" ALPN protocol');
    }
  }

  // Step 2: transport policy.
  private checkTransport(): void {
    if (this.tls) return;
    if (this.ctx.allowPlainLoopback && LOOPBACK.has(this.remote)) return;
    throw new PgwardenError('SSL_REQUIRED', 'SSL connection is required', {
      detail: 'pgwarden accepts only encrypted connections. Use sslmode=require or stronger.',
    });
  }

  // Step 3: the startup parameters.
  private acceptStartup(startup: Startup): void {
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
    this.poolKey = poolKey(params);
  }

  // Step 3b: a role that failed too often from this address recently is refused before
  // it tries again. Only the role's own failures refuse it: failures of other roles from
  // the same address (a NAT, a shared host) only hold back the answers to failures
  // (authFailed), never a right password.
  private checkThrottle(): void {
    const verdict = this.ctx.throttle.check(this.remote, this.role);
    if (!verdict.blocked) return;
    this.ctx.metrics?.throttled.inc();
    this.recordSignIn('refused', 'THROTTLED');
    throw new PgwardenError('THROTTLED', `too many failed sign-in attempts; try again in ${retryAfterText(verdict.retryAfterMs)}`);
  }

  private checkCapacity(): void {
    if (this.ctx.sessions.size >= this.ctx.maxConnections) {
      this.recordSignIn('refused', 'TOO_MANY_CONNECTIONS', this.method);
      throw new PgwardenError('TOO_MANY_CONNECTIONS', 'sorry, too many clients already');
    }
  }

  // Step 4: the client proves who it is: an Entra principal with an access token, any
  // other role with SCRAM against its secret.
  private async authenticate(): Promise<ClientProof> {
    const lookup = await this.ctx.roles.lookup(this.role);
    const method = this.ctx.authMethod();
    this.method = lookup.kind === 'entra' ? 'entra' : 'scram';
    if (lookup.kind !== 'none') this.verifier = lookup.verifier;
    if (lookup.kind === 'entra') {
      if (!allowsEntra(method)) throw this.refused('Microsoft Entra authentication is disabled for this cluster');
      return this.authenticateEntra(lookup.principal);
    }
    // Every role that is not an Entra principal, known or not, gets the same answer.
    if (!allowsNative(method)) throw this.refused('PostgreSQL authentication is disabled for this cluster');
    return this.authenticateNative(lookup);
  }

  private refused(message: string): PgwardenError {
    this.recordSignIn('refused', 'AUTH_METHOD_DISABLED');
    return new PgwardenError('AUTH_METHOD_DISABLED', message);
  }

  private recordSignIn(result: 'ok' | 'failed' | 'refused', reason?: string, method?: string): void {
    this.ctx.audit?.record({ kind: 'sign-in', action: 'sign-in', actor: this.role, target: this.database, method, clientAddr: this.remote, result, reason });
    this.ctx.metrics?.signIns.inc({ method: method ?? this.method ?? 'none', result, code: reason ?? 'OK' });
  }

  private async authenticateEntra(principal: EntraPrincipal): Promise<ClientProof> {
    const entra = this.ctx.entra;
    if (!entra) throw this.authFailed('entra-not-configured');
    // The token travels as a cleartext password: only ever inside TLS.
    if (!this.tls) {
      throw new PgwardenError('AUTH_METHOD_DISABLED', 'Microsoft Entra authentication requires an encrypted connection', {
        detail: 'Use sslmode=require or stronger.',
      });
    }
    this.socket.write(authenticationCleartextPassword());
    const msg = await this.wire.readMessage();
    if (msg.type !== 'p') throw new PgwardenError('PROTOCOL_VIOLATION', `expected password response, got message type "${msg.type}"`);
    const token = parsePasswordMessage(msg.body);
    try {
      const verified = await entra.verifier.verify(token);
      await matchPrincipalAsking(verified, principal, entra.membership);
      // Members of a group sign in as one role: a kept session goes only to the same
      // member again (session state DISCARD ALL does not reach stays with one person).
      if (principal.type === 'group') this.poolKey += `\0entra-object-id\0${verified.objectId.toLowerCase()}`;
    } catch (e) {
      // A DETAIL helps the holder of a token. A password that is not even shaped like
      // one gets none: it answers exactly as a wrong password for any other role does, so
      // that the answer does not tell who is an Entra principal.
      if (isPgwardenError(e) && e.kind.sqlstate === '28P01') throw this.authFailed(e.code, looksLikeJwt(token) ? e.message : undefined);
      throw e;
    }
    return {
      finalMessages: authenticationOk(),
      keysFor: entra.derivedKeys.keysFor(principal.roleName, principal.objectId),
    };
  }

  private async authenticateNative(lookup: Exclude<RoleLookup, { kind: 'entra' }>): Promise<ClientProof> {
    const secret: ScramSecret = lookup.kind === 'scram' ? lookup.secret : mockScramSecret(this.role, this.ctx.mockKey);
    const endPoint = this.tls ? this.ctx.endPointHash : undefined;
    const exchange = new ScramServerExchange(secret, endPoint);
    this.socket.write(authenticationSASL(scramMechanisms(endPoint !== undefined)));
    const initial = await this.wire.readMessage();
    if (initial.type !== 'p') throw new PgwardenError('PROTOCOL_VIOLATION', `expected SASL response, got message type "${initial.type}"`);
    const { mechanism, data } = parseSASLInitialResponse(initial.body);
    this.socket.write(authenticationSASLContinue(exchange.start(mechanism, data)));
    const final = await this.wire.readMessage();
    if (final.type !== 'p') throw new PgwardenError('PROTOCOL_VIOLATION', `expected SASL response, got message type "${final.type}"`);
    const result = exchange.finish(final.body.toString('utf8'));
    if (!result.ok || lookup.kind !== 'scram') {
      this.ctx.roles.forget(this.role);
      throw this.authFailed(lookup.kind === 'none' ? lookup.reason : 'wrong-password');
    }
    const { clientKey, serverFinal } = result;
    return {
      finalMessages: Buffer.concat([authenticationSASLFinal(serverFinal), authenticationOk()]),
      // The same secret signs in to PostgreSQL: same salt and iterations, so the
      // ClientKey recovered from the client's proof is all it takes.
      keysFor: (s) =>
        s.iterations === secret.iterations && s.salt.equals(secret.salt) ? { clientKey, serverKey: secret.serverKey } : undefined,
    };
  }

  /** The one failure every sign-in gets (28P01), with a DETAIL only for token holders. */
  private authFailed(reason: string, detail?: string): PgwardenError {
    this.holdBackMs = this.ctx.throttle.failure(this.remote, this.role);
    const delayed = this.holdBackMs > 0 ? { delayedMs: this.holdBackMs } : {};
    this.ctx.log.info({ event: 'sign-in', result: 'failed', reason, role: this.role, database: this.database, client: this.remote, ...delayed }, 'sign-in failed');
    this.recordSignIn('failed', reason);
    if (this.holdBackMs > 0) this.ctx.metrics?.failuresDelayed.inc();
    return new PgwardenError('AUTH_FAILED', `password authentication failed for user "${this.role}"`, detail ? { detail } : undefined);
  }

  // Step 5: an idle session of the same role, database and parameters, if one is kept
  // and the role may still sign in with the same verifier; else a new one.
  private async reuseSession(early: Promise<string | undefined> | undefined): Promise<PooledSession | undefined> {
    const pool = this.ctx.serverPool;
    if (!pool || this.verifier === null) return undefined;
    const session = pool.take(this.poolKey);
    if (!session) return undefined;
    // An early answer older than a second (a slow client) is asked again.
    const now = await (early && Date.now() - this.recheckStartedAt < 1_000 ? early : this.recheck());
    if (session.socket.destroyed) return undefined; // ended while we asked: a new one
    if (now === this.verifier && now === session.verifier) {
      pool.reused++;
      this.ctx.metrics?.serverSessionsReused.inc();
      return session;
    }
    // The role changed: its other kept sessions and its cached secret go too.
    closeSession(session.socket);
    this.ctx.roles.changed(this.role);
    return undefined;
  }

  /** When a session is waiting for this client's role, database and parameters, the
   * recheck runs while the client is still busy with its proof (its PBKDF2 takes
   * milliseconds), so that a reuse adds no round trip to the sign-in. */
  private recheckEarly(): Promise<string | undefined> | undefined {
    return this.ctx.serverPool?.has(this.poolKey) ? this.recheck() : undefined;
  }

  private recheck(): Promise<string | undefined> {
    this.recheckStartedAt = Date.now();
    return this.ctx.roles.recheck(this.role, this.database).catch(() => undefined);
  }

  private async signInToBackend(proof: ClientProof, attempt = 0): Promise<PooledSession> {
    let session: BackendSession;
    try {
      session = await openBackendSession(this.ctx.backend, this.startupParams, proof.keysFor, this.ctx.backendTimeoutMs);
    } catch (e) {
      if (isPgwardenError(e, 'AUTH_FAILED') || (e instanceof BackendRefusal && e.sqlstate === '28P01')) {
        // The secret changed between our check and PostgreSQL's.
        this.ctx.roles.changed(this.role);
        throw this.authFailed('secret-changed');
      }
      // Too many connections (in all, or for the role): idle kept sessions count too.
      // Close them, give their backends a moment to exit, and try again (a few times, if
      // sessions were closed for it).
      const pool = this.ctx.serverPool;
      if (e instanceof BackendRefusal && e.sqlstate === '53300' && pool && (pool.idleCount > 0 || (attempt > 0 && attempt < 4))) {
        pool.forget();
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        return this.signInToBackend(proof, attempt + 1);
      }
      throw e;
    }
    return { ...session, role: this.role, verifier: this.verifier ?? '', bornAt: Date.now() };
  }

  // Step 6: finish the client's sign-in and pipe bytes.
  private handOver(proof: ClientProof, backend: PooledSession): void {
    clearTimeout(this.timer);
    const early = this.wire.detach();
    const issued = backend.key ? this.ctx.cancels.issue(backend.key, this.ctx.backend) : undefined;
    this.socket.write(Buffer.concat([proof.finalMessages, startupMessages(backend, issued?.key)]));
    if (early.length > 0) backend.socket.write(early);
    const client = this.socket;
    if (!this.tls) client.setNoDelay(true);
    this.ctx.sessions.add(client);
    this.ctx.log.info({ event: 'sign-in', result: 'ok', method: this.method, role: this.role, database: this.database, client: this.remote }, 'signed in');
    this.recordSignIn('ok', undefined, this.method);
    this.ctx.throttle.success(this.remote, this.role);
    this.signedInOrGone();
    const metrics = this.ctx.metrics;
    metrics?.signInSeconds.observe({ method: this.method }, (performance.now() - this.startedAt) / 1000);
    metrics?.connectionsTotal.inc({ outcome: 'signed-in' });
    metrics?.connectionsActive.inc();
    pump(
      client,
      backend.socket,
      (stats) => {
        issued?.withdraw();
        this.ctx.sessions.delete(client);
        metrics?.connectionsActive.dec();
        metrics?.bytes.inc({ direction: 'client-to-server' }, stats.bytesFromClient);
        metrics?.bytes.inc({ direction: 'server-to-client' }, stats.bytesFromServer);
      },
      // Bytes the client sent ahead of its sign-in's end were not followed: no reuse then.
      early.length === 0 ? this.reuseOnCleanEnd(backend) : undefined,
    );
  }

  private reuseOnCleanEnd(backend: PooledSession): Reuse | undefined {
    const pool = this.ctx.serverPool;
    if (!pool || !backend.verifier || backend.trailing.length > 0) return undefined;
    const tracker = new SessionTracker(backend.parameters);
    const key = this.poolKey;
    return {
      tracker,
      release: (socket) => void pool.release(key, { ...backend, socket, parameters: tracker.parameters }),
    };
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
      if (e.code !== 'AUTH_FAILED' && e.code !== 'PEER_CLOSED') this.ctx.log.info({ event: 'connection-refused', code: e.code, reason: e.message, client: this.remote }, 'connection refused');
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
