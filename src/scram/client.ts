// The client side of SCRAM-SHA-256 (RFC 5802 section 3), driven by a ClientKey rather
// than a password. The gateway uses it towards PostgreSQL in two ways:
//  - pass-through: the ClientKey recovered from the client's own proof (native roles);
//  - derived: the ClientKey of a password that only the gateway knows (Entra roles),
//    computed once per salt and cached, so a sign-in costs a few HMACs, not PBKDF2.
import { randomBytes } from 'node:crypto';
import { PgwardenError } from '../util/errors.js';
import { constantTimeEqual, hmac, sha256, xor } from './primitives.js';
import { formatClientFinal, parseServerFinal, parseServerFirst, type ServerFirst } from './messages.js';

const GS2_HEADER = 'n,,';

export class ScramClientExchange {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly bare = `n=,r=${this.clientNonce}`;
  private expectedServerSignature: Buffer | undefined;

  /**
   * @param keysFor returns the ClientKey and ServerKey for the salt and iteration count
   *   the server announces, or undefined if this client has none for them (for
   *   pass-through, the verifier changed since the client proved itself)
   */
  constructor(private readonly keysFor: (s: ServerFirst) => { clientKey: Buffer; serverKey: Buffer } | undefined) {}

  /** client-first-message. PostgreSQL ignores the SCRAM user name; the startup packet names the role. */
  clientFirst(): string {
    return GS2_HEADER + this.bare;
  }

  /** Answers server-first-message with client-final-message. */
  clientFinal(serverFirstText: string): string {
    const serverFirst = parseServerFirst(serverFirstText);
    if (!serverFirst.nonce.startsWith(this.clientNonce) || serverFirst.nonce.length === this.clientNonce.length) {
      throw new PgwardenError('PROTOCOL_VIOLATION', 'the server answered SCRAM with an invalid nonce');
    }
    const keys = this.keysFor(serverFirst);
    if (!keys) throw new PgwardenError('AUTH_FAILED', "the role's password changed during sign-in");
    const channelBinding = Buffer.from(GS2_HEADER, 'utf8');
    const withoutProof = `c=${channelBinding.toString('base64')},r=${serverFirst.nonce}`;
    const authMessage = `${this.bare},${serverFirstText},${withoutProof}`;
    const storedKey = sha256(keys.clientKey);
    const proof = xor(keys.clientKey, hmac(storedKey, authMessage));
    this.expectedServerSignature = hmac(keys.serverKey, authMessage);
    return formatClientFinal(channelBinding, serverFirst.nonce, proof);
  }

  /** Checks server-final-message: the server, too, must prove that it knows the secret. */
  verifyServerFinal(text: string): void {
    const parsed = parseServerFinal(text);
    if ('error' in parsed) throw new PgwardenError('AUTH_FAILED', `the server refused SCRAM: ${parsed.error}`);
    if (!this.expectedServerSignature || !constantTimeEqual(parsed.verifier, this.expectedServerSignature)) {
      throw new PgwardenError('BACKEND_UNAVAILABLE', "the server's SCRAM signature is wrong");
    }
  }
}
