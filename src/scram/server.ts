// The server side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802 section 5,
// RFC 7677, channel binding type tls-server-end-point from RFC 5929 section 4),
// checked against a stored secret. Unlike a plain server, a successful exchange yields
// the client's ClientKey (recovered from the proof), which lets the gateway prove the
// same identity to PostgreSQL without ever knowing the password.
import { randomBytes } from 'node:crypto';
import { PgwardenError } from '../util/errors.js';
import { constantTimeEqual, hmac, sha256, xor, type ScramSecret } from './primitives.js';
import {
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  TLS_SERVER_END_POINT,
  formatServerFirst,
  parseClientFinal,
  parseClientFirst,
  type ClientFirst,
} from './messages.js';

/** The mechanisms to offer, best first. PLUS only where there is a TLS channel to bind. */
export function scramMechanisms(channelBindingAvailable: boolean): string[] {
  return channelBindingAvailable ? [SCRAM_SHA_256_PLUS, SCRAM_SHA_256] : [SCRAM_SHA_256];
}

export type ScramFinalResult = { ok: true; clientKey: Buffer; serverFinal: string } | { ok: false };

export class ScramServerExchange {
  private first: ClientFirst | undefined;
  private serverFirst = '';
  private nonce = '';
  private done = false;

  /**
   * @param secret the role's stored secret (or a mock one)
   * @param endPointHash the tls-server-end-point data of this connection's certificate,
   *   or undefined when the connection has no TLS
   */
  constructor(
    private readonly secret: ScramSecret,
    private readonly endPointHash: Buffer | undefined,
    private readonly serverNonce: string = randomBytes(18).toString('base64'),
  ) {}

  /** Handles SASLInitialResponse; returns server-first-message. */
  start(mechanism: string, clientFirst: string): string {
    if (this.first) throw new PgwardenError('PROTOCOL_VIOLATION', 'SCRAM exchange already started');
    const offered = scramMechanisms(this.endPointHash !== undefined);
    if (!offered.includes(mechanism)) {
      throw new PgwardenError('PROTOCOL_VIOLATION', 'client selected an invalid SASL authentication mechanism');
    }
    const first = parseClientFirst(clientFirst);
    if (mechanism === SCRAM_SHA_256_PLUS) {
      if (first.gs2.flag !== 'p') {
        throw new PgwardenError('PROTOCOL_VIOLATION', 'channel binding is required with SCRAM-SHA-256-PLUS, but the client message does not request it');
      }
      if (first.gs2.channel !== TLS_SERVER_END_POINT) {
        throw new PgwardenError('PROTOCOL_VIOLATION', `unsupported SCRAM channel-binding type "${first.gs2.channel}"`);
      }
    } else if (first.gs2.flag === 'p') {
      throw new PgwardenError('PROTOCOL_VIOLATION', 'the client requests SCRAM channel binding, but SCRAM-SHA-256 was selected');
    } else if (first.gs2.flag === 'y' && this.endPointHash !== undefined) {
      // RFC 5802 section 6: the client could bind but believes the server cannot. The
      // server can, so somebody removed PLUS from the offer on the way: a downgrade.
      throw new PgwardenError('PROTOCOL_VIOLATION', 'SCRAM channel binding negotiation error', {
        detail: 'The client supports SCRAM channel binding but thinks the server does not. However, this server does support channel binding.',
      });
    }
    this.first = first;
    this.nonce = first.clientNonce + this.serverNonce;
    this.serverFirst = formatServerFirst({ nonce: this.nonce, salt: this.secret.salt, iterations: this.secret.iterations });
    return this.serverFirst;
  }

  /** Handles the client-final-message. A wrong proof is { ok: false }; a malformed message throws. */
  finish(clientFinal: string): ScramFinalResult {
    const first = this.first;
    if (!first || this.done) throw new PgwardenError('PROTOCOL_VIOLATION', 'unexpected SCRAM message');
    this.done = true;
    const final = parseClientFinal(clientFinal);
    const expectedBinding =
      first.gs2.flag === 'p' ? Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), this.endPointHash!]) : Buffer.from(first.gs2Header, 'utf8');
    if (!constantTimeEqual(final.channelBinding, expectedBinding)) {
      throw new PgwardenError('PROTOCOL_VIOLATION', 'SCRAM channel binding check failed');
    }
    if (final.nonce !== this.nonce) throw new PgwardenError('PROTOCOL_VIOLATION', 'malformed SCRAM message', { detail: 'nonce mismatch' });
    const authMessage = `${first.bare},${this.serverFirst},${final.withoutProof}`;
    const clientSignature = hmac(this.secret.storedKey, authMessage);
    const clientKey = xor(final.proof, clientSignature);
    if (!constantTimeEqual(sha256(clientKey), this.secret.storedKey)) return { ok: false };
    const serverSignature = hmac(this.secret.serverKey, authMessage);
    return { ok: true, clientKey, serverFinal: `v=${serverSignature.toString('base64')}` };
  }
}
