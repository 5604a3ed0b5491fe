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
import type { BackendTarget } from './backend.js';
import { CancelRegistry } from './cancel.js';
import { ClientConnection } from './connection.js';
import type { EntraSignIn, GatewayContext } from './context.js';

export interface GatewayOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  backend: BackendTarget;
  roles: RoleCatalog;
  /** The cluster's authentication method now (default: both, fixed). */
  authMethod?: () => AuthMethod;
  audit?: AuditWriter;
  /** Microsoft Entra sign-in (token verification and derived role passwords). */
  entra?: EntraSignIn;
  mockKey: Buffer;
  log: Logger;
  /** Accept unencrypted connections from loopback addresses (off by default). */
  allowPlainLoopback?: boolean;
  /** A client must finish signing in within this time (default 30 s). */
  authTimeoutMs?: number;
  /** PostgreSQL must answer within this time (default 10 s). */
  backendTimeoutMs?: number;
}

export class Gateway {
  private readonly server: Server;
  private readonly ctx: GatewayContext;
  private readonly pending = new Set<Socket>();

  constructor(private readonly options: GatewayOptions) {
    this.ctx = {
      secureContext: createSecureContext({ cert: options.tls.certPem, key: options.tls.keyPem, minVersion: 'TLSv1.2' }),
      endPointHash: tlsServerEndPoint(options.tls.certPem),
      allowPlainLoopback: options.allowPlainLoopback ?? false,
      authTimeoutMs: options.authTimeoutMs ?? 30_000,
      backendTimeoutMs: options.backendTimeoutMs ?? 10_000,
      backend: options.backend,
      roles: options.roles,
      authMethod: options.authMethod ?? (() => 'both'),
      audit: options.audit,
      entra: options.entra,
      mockKey: options.mockKey,
      cancels: new CancelRegistry(),
      sessions: new Set(),
      log: options.log,
    };
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (e) => options.log.error({ event: 'gateway-error', error: e.message }, 'gateway socket error'));
  }

  private accept(socket: Socket): void {
    this.pending.add(socket);
    socket.once('close', () => this.pending.delete(socket));
    void new ClientConnection(socket, this.ctx).run();
  }

  /** Starts listening; a port in use is a one-line error that names --port. */
  listen(): Promise<AddressInfo> {
    const { host, port } = this.options;
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        if (e.code === 'EADDRINUSE') {
          reject(new PgwardenError('PORT_IN_USE', `port ${port} on ${host} is already in use; choose another with --port`));
        } else if (e.code === 'EACCES') {
          reject(new PgwardenError('PORT_IN_USE', `not allowed to listen on ${host}:${port}; choose another with --port or --host`));
        } else reject(new PgwardenError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${e.message}`));
      };
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  get sessionCount(): number {
    return this.ctx.sessions.size;
  }

  /** Stops accepting, then closes every connection, signed in or not. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of [...this.pending, ...this.ctx.sessions]) s.destroy();
    await closed;
  }
}
