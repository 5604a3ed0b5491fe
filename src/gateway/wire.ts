// Reads the sign-in phase from one socket: the untyped startup packets first, then
// typed messages, each awaited in turn. It keeps whatever arrives beyond what was asked
// for, so that nothing a client sends early is lost when the connection moves on to TLS
// or to the byte pump.
import type { Socket } from 'node:net';
import { MessageReader, type Message } from '../protocol/messages.js';
import { startupPacketLength } from '../protocol/startup.js';
import { PgwardenError } from '../util/errors.js';

export class Wire {
  private buffered: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;
  private readonly reader: MessageReader;
  private readonly onData = (chunk: Buffer): void => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.wake();
  };
  private readonly onEnd = (): void => {
    this.ended ??= new PgwardenError('PEER_CLOSED', 'the peer closed the connection');
    this.wake();
  };
  private readonly onError = (e: Error): void => {
    this.ended ??= e;
    this.wake();
  };

  constructor(
    readonly socket: Socket,
    maxMessageBytes: number,
  ) {
    this.reader = new MessageReader(maxMessageBytes);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async waitForData(): Promise<void> {
    if (this.ended) throw this.ended;
    await new Promise<void>((resolve) => (this.waiter = resolve));
  }

  /** Resolves with the first byte once it has arrived, without consuming it. */
  async peekByte(): Promise<number> {
    while (this.buffered.length === 0) await this.waitForData();
    return this.buffered[0]!;
  }

  /** Reads one complete startup packet (length-prefixed, no type byte). */
  async readStartupPacket(): Promise<Buffer> {
    for (;;) {
      const len = startupPacketLength(this.buffered);
      if (len !== undefined && this.buffered.length >= len) {
        const packet = this.buffered.subarray(0, len);
        this.buffered = this.buffered.subarray(len);
        return packet;
      }
      await this.waitForData();
    }
  }

  /** Reads one complete typed message. */
  async readMessage(): Promise<Message> {
    for (;;) {
      if (this.buffered.length > 0) {
        this.reader.push(this.buffered);
        this.buffered = Buffer.alloc(0);
      }
      const msg = this.reader.next();
      if (msg) return msg;
      await this.waitForData();
    }
  }

  /** Bytes that arrived and were not yet read. */
  get pendingBytes(): number {
    return this.buffered.length;
  }

  /** Stops reading and returns every byte received but not consumed. The socket is
   * left paused, so nothing more is read until its next owner resumes it. */
  detach(): Buffer {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    const rest = Buffer.concat([this.reader.takeRest(), this.buffered]);
    this.buffered = Buffer.alloc(0);
    return rest;
  }
}
