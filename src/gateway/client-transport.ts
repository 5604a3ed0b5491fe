// The client's side of a connection before sign-in: TLS negotiation (SSLRequest, or
// direct TLS with ALPN "postgresql"), GSSAPI encryption declined, cancel requests, and
// the startup packet. The socket and the wire change when TLS starts; everything after
// negotiation reads and writes through `socket` and `wire` here.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
import { TLSSocket } from 'node:tls';
import type { GatewayTls } from './context.js';
import type { Socket } from 'node:net';
import { ALPN_POSTGRESQL, MAX_AUTH_MESSAGE_BYTES, TLS_HANDSHAKE_BYTE } from '../protocol/constants.js';
import { parseStartupPacket, type StartupPacket } from '../protocol/startup.js';
import { PgwardenError } from '../util/errors.js';
import { Wire } from './wire.js';

export type Startup = Extract<StartupPacket, { kind: 'startup' }>;
type Cancel = Extract<StartupPacket, { kind: 'cancel' }>;

export class ClientTransport {
  socket: Socket;
  wire: Wire;
  /** Set once TLS is up. */
  tls: TLSSocket | undefined;
  /** Set once TLS is up: tls-server-end-point of the certificate this client was served. */
  endPointHash: Buffer | undefined;

  constructor(raw: Socket) {
    this.socket = raw;
    raw.on('error', () => undefined); // errors surface through the wire; never crash
    this.wire = new Wire(raw, MAX_AUTH_MESSAGE_BYTES);
  }

  /** Reads packets until the startup packet (or a cancel request), starting TLS when asked. */
  async negotiate(tls: GatewayTls): Promise<Startup | Cancel> {
    if ((await this.wire.peekByte()) === TLS_HANDSHAKE_BYTE) await this.startTls(tls, true);
    for (;;) {
      const packet = parseStartupPacket(await this.wire.readStartupPacket());
      switch (packet.kind) {
        case 'ssl':
          if (this.tls) throw new PgwardenError('PROTOCOL_VIOLATION', 'SSL request received on an encrypted connection');
          // Bytes after SSLRequest and before our answer would be read as if they had
          // come through TLS (CVE-2021-23214): refuse them.
          if (this.wire.pendingBytes > 0) throw new PgwardenError('PROTOCOL_VIOLATION', 'received unencrypted data after SSL request');
          this.socket.write('S');
          await this.startTls(tls, false);
          break;
        case 'gssenc':
          if (this.tls) throw new PgwardenError('PROTOCOL_VIOLATION', 'GSSAPI encryption request received on an encrypted connection');
          this.socket.write('N');
          break;
        case 'cancel':
        case 'startup':
          return packet;
      }
    }
  }

  private async startTls({ secureContext, endPointHash }: GatewayTls, direct: boolean): Promise<void> {
    this.endPointHash = endPointHash;
    const raw = this.socket;
    const early = this.wire.detach();
    // Bytes already read (the ClientHello of a direct-TLS client) go back to the socket;
    // TLSSocket feeds a wrapped socket's buffered bytes to OpenSSL before reading more.
    if (early.length > 0) raw.unshift(early);
    const tls = new TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: [ALPN_POSTGRESQL] });
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

  /** Reads the client's next message, which must be a password-type ('p') message. */
  async readPasswordMessage(what: string): Promise<Buffer> {
    const msg = await this.wire.readMessage();
    if (msg.type !== 'p') throw new PgwardenError('PROTOCOL_VIOLATION', `expected ${what}, got message type "${msg.type}"`);
    return msg.body;
  }
}
