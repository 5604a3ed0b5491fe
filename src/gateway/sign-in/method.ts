// One interface for every way a client proves who it is (SCRAM for native roles, an
// Entra access token for principals, in the password field or by OAUTHBEARER). A method talks to the client through the
// transport, and either returns what signing in to PostgreSQL as the role takes, or
// throws: SignInRejected for wrong credentials (the connection answers every one the
// same way: 28P01, throttled and logged once), a PgwardenError for anything else.
import type { ClientTransport } from '../client-transport.js';
import type { openBackendSession } from '../backend.js';

/** What a successful proof leaves behind. */
export interface ClientProof {
  /** Sent to the client once PostgreSQL has accepted the role too. */
  readonly finalMessages: Buffer;
  /** Signs in to PostgreSQL as the role. */
  readonly keysFor: Parameters<typeof openBackendSession>[2];
  /** Narrows which kept server sessions may serve this client (a group member's own). */
  readonly reuseScope?: string | undefined;
  /** When the access token the client signed in with expires (ms since the epoch). */
  readonly expiresAtMs?: number | undefined;
}

export interface SignInMethod {
  /** As metrics and logs name it. */
  readonly name: 'scram' | 'entra' | 'oauthbearer';
  prove(io: ClientTransport): Promise<ClientProof>;
}

/** The credentials were wrong: `reason` goes to logs and the audit, `detail` to the
 * client (only for a token holder). */
export class SignInRejected extends Error {
  constructor(
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(reason);
    this.name = 'SignInRejected';
  }
}
