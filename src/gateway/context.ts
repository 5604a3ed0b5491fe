import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { RoleSecrets } from '../catalog/role-secrets.js';
import type { BackendTarget } from './backend.js';
import type { CancelRegistry } from './cancel.js';

/** What every client connection of one gateway shares. */
export interface GatewayContext {
  readonly secureContext: SecureContext;
  /** tls-server-end-point channel-binding data of the gateway's certificate. */
  readonly endPointHash: Buffer;
  readonly allowPlainLoopback: boolean;
  readonly authTimeoutMs: number;
  readonly backendTimeoutMs: number;
  /** The coordinator, where every session goes. */
  readonly backend: BackendTarget;
  readonly roles: RoleSecrets;
  /** Key for mock SCRAM secrets of unknown roles. */
  readonly mockKey: Buffer;
  readonly cancels: CancelRegistry;
  readonly sessions: Set<Socket>;
  readonly log: Logger;
}
