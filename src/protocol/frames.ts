// Splits one direction of a protocol stream (after sign-in) into messages, however the
// bytes arrive. Most messages are handed on whole, each as its framed bytes (type byte,
// length, body), copied only when it straddles chunks. Messages of the `streamed` types
// (DataRow, CopyData: the ones that can be megabytes) are handed on in pieces as they
// arrive instead, so that a large row or COPY never has to sit in memory whole.
// https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
import { PgwardenError } from '../util/errors.js';

export interface FrameHandler {
  /** Every message's start: its type, and where its header begins in the chunk being fed
   * (-1 when it began in an earlier chunk). */
  header?(type: number, offset: number): void;
  /** A whole message: its type byte and framed bytes. */
  message(type: number, frame: Buffer): void;
  /** A streamed message's bytes (its header is in the first piece); `last` on its end. */
  piece(type: number, bytes: Buffer, last: boolean): void;
}

export class FrameSplitter {
  private readonly header = Buffer.alloc(5);
  private headerFill = 0;
  /** The current message: its type, bytes still to come, and (whole messages) its parts. */
  private type = 0;
  private remaining = 0;
  private parts: Buffer[] | undefined;
  private streaming = false;

  constructor(
    private readonly streamed: (type: number) => boolean,
    private readonly handler: FrameHandler,
    /** Longest whole message accepted (PostgreSQL's own limit is 1 GB). */
    private readonly maxMessageBytes: number,
  ) {}

  /** Between two messages: nothing of a message is pending. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerFill === 0;
  }

  feed(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - pos);
        const bytes = chunk.subarray(pos, pos + take);
        pos += take;
        this.remaining -= take;
        this.continueMessage(bytes);
        continue;
      }
      // A header: in this chunk whole, or collected across chunks.
      let start: number;
      let len: number;
      let headerBytes: Buffer;
      if (this.headerFill === 0 && n - pos >= 5) {
        start = pos;
        this.type = chunk[pos]!;
        len = chunk.readInt32BE(pos + 1);
        pos += 5;
        headerBytes = chunk.subarray(start, pos);
      } else {
        const take = Math.min(5 - this.headerFill, n - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + take);
        this.headerFill += take;
        pos += take;
        if (this.headerFill < 5) return;
        this.headerFill = 0;
        this.type = this.header[0]!;
        len = this.header.readInt32BE(1);
        headerBytes = Buffer.from(this.header);
        start = -1;
      }
      if (len < 4) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid message length');
      this.handler.header?.(this.type, start);
      const bodyLen = len - 4;
      this.streaming = this.streamed(this.type);
      if (!this.streaming && bodyLen > this.maxMessageBytes) {
        throw new PgwardenError('PROTOCOL_VIOLATION', `message too long: ${len} bytes, at most ${this.maxMessageBytes} are allowed here`);
      }
      if (this.streaming) {
        const take = Math.min(bodyLen, n - pos);
        const first = start >= 0 ? chunk.subarray(start, pos + take) : Buffer.concat([headerBytes, chunk.subarray(pos, pos + take)]);
        pos += take;
        this.remaining = bodyLen - take;
        this.handler.piece(this.type, first, this.remaining === 0);
      } else if (start >= 0 && n - pos >= bodyLen) {
        // The common case: the whole message in this chunk, no copy.
        pos += bodyLen;
        this.handler.message(this.type, chunk.subarray(start, pos));
      } else {
        const take = Math.min(bodyLen, n - pos);
        // A copy: the chunk's memory may be reused for the next read (server-reads.ts).
        this.parts = [start >= 0 ? Buffer.from(chunk.subarray(start, pos + take)) : Buffer.concat([headerBytes, chunk.subarray(pos, pos + take)])];
        pos += take;
        this.remaining = bodyLen - take;
        if (this.remaining === 0) this.finishParts();
      }
    }
  }

  private continueMessage(bytes: Buffer): void {
    if (this.streaming) {
      this.handler.piece(this.type, bytes, this.remaining === 0);
      return;
    }
    this.parts!.push(Buffer.from(bytes));
    if (this.remaining === 0) this.finishParts();
  }

  private finishParts(): void {
    const frame = this.parts!.length === 1 ? this.parts![0]! : Buffer.concat(this.parts!);
    this.parts = undefined;
    this.handler.message(this.type, frame);
  }
}
