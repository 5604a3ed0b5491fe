// Knows, after sign-in, whether a session could be handed to the next client: it follows
// message boundaries in both directions (type byte and length only; no body is read
// except ReadyForQuery's status and ParameterStatus), counts the points that the server
// answers with ReadyForQuery, and notices a Terminate sent while the server is idle.
// This is the least a server-connection reuse needs (PgBouncer follows the same
// boundaries in its sbuf.c); it copies nothing and costs a few operations per message.
// https://www.postgresql.org/docs/current/protocol-flow.html
import { readCString } from '../protocol/messages.js';

const Q = 0x51; // Query
const S = 0x53; // Sync (client) / ParameterStatus (server)
const F = 0x46; // FunctionCall
const X = 0x58; // Terminate
const Z = 0x5a; // ReadyForQuery
const IDLE = 0x49; // 'I': not in a transaction block

type BodyHandler = (type: number, body: Buffer) => void;

/**
 * Follows the messages of one direction of a byte stream split anywhere. `onHeader`
 * sees every message's type and offset in the chunk; bodies of the `wanted` types are
 * handed to `onBody` whole (copied only when a body straddles chunks).
 */
export class MessageBoundaries {
  /** Body bytes of the current message still to come. */
  private remaining = 0;
  private readonly header = Buffer.alloc(5);
  private headerFill = 0;
  private parts: Buffer[] | undefined;
  private partsType = 0;
  /** A length below 4 was seen: the stream is not PostgreSQL's; stop following it. */
  broken = false;

  constructor(
    private readonly wanted: (type: number) => boolean,
    private readonly onHeader: (type: number, offset: number) => void,
    private readonly onBody: BodyHandler,
  ) {}

  feed(chunk: Buffer): void {
    if (this.broken) return;
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - pos);
        this.parts?.push(chunk.subarray(pos, pos + take));
        pos += take;
        this.remaining -= take;
        if (this.remaining === 0 && this.parts) this.finishParts();
        continue;
      }
      let type: number;
      let len: number;
      let offset = pos;
      if (this.headerFill === 0 && n - pos >= 5) {
        type = chunk[pos]!;
        len = chunk.readInt32BE(pos + 1);
        pos += 5;
      } else {
        // A header split across chunks: collect its 5 bytes first.
        const take = Math.min(5 - this.headerFill, n - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + take);
        this.headerFill += take;
        pos += take;
        if (this.headerFill < 5) return;
        this.headerFill = 0;
        offset = -1; // began in an earlier chunk
        type = this.header[0]!;
        len = this.header.readInt32BE(1);
      }
      if (len < 4) {
        this.broken = true;
        return;
      }
      this.onHeader(type, offset);
      const bodyLen = len - 4;
      if (!this.wanted(type)) {
        this.remaining = bodyLen;
      } else if (n - pos >= bodyLen) {
        this.onBody(type, chunk.subarray(pos, pos + bodyLen));
        pos += bodyLen;
      } else {
        this.parts = [chunk.subarray(pos)];
        this.partsType = type;
        this.remaining = bodyLen - (n - pos);
        pos = n;
      }
    }
  }

  /** Between two messages: nothing of a message is pending. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerFill === 0 && this.parts === undefined;
  }

  private finishParts(): void {
    const body = Buffer.concat(this.parts!);
    this.parts = undefined;
    this.onBody(this.partsType, body);
  }
}

/** Where the session stands, from the messages seen so far. */
export class SessionTracker {
  /** Points the client asked to be answered with ReadyForQuery, not yet answered. */
  private awaiting = 0;
  /** The client sent extended-protocol or COPY messages since its last Sync or Query. */
  private unsynced = false;
  private status = IDLE;
  /** The client sent something after a Terminate: its stream is not a clean close. */
  private afterTerminate = false;
  /** Set when the client sent Terminate while the server was idle with nothing pending:
   * the bytes before it go to the server, the Terminate itself does not. */
  terminatedAt: number | undefined;
  /** The server's current ParameterStatus values (startup values, then changes). */
  readonly parameters: Map<string, string>;

  private readonly client = new MessageBoundaries(
    () => false,
    (type, offset) => this.clientMessage(type, offset),
    () => undefined,
  );
  private readonly server = new MessageBoundaries(
    (type) => type === Z || type === S,
    () => undefined,
    (type, body) => this.serverMessage(type, body),
  );

  constructor(parameters: ReadonlyMap<string, string>) {
    this.parameters = new Map(parameters);
  }

  /** Sees a chunk from the client. When `reusable` turns true, the chunk's bytes before
   * `terminatedAt` go to the server and the Terminate does not. */
  fromClient(chunk: Buffer): void {
    this.client.feed(chunk);
  }

  fromServer(chunk: Buffer): void {
    this.server.feed(chunk);
  }

  /** True when the server is idle, owes no answer, has sent nothing half-way (an
   * asynchronous notice, say), and the client ended cleanly. */
  get reusable(): boolean {
    return this.terminatedAt !== undefined && !this.afterTerminate && !this.client.broken && !this.server.broken && this.server.atBoundary;
  }

  private clientMessage(type: number, offset: number): void {
    if (this.terminatedAt !== undefined) {
      this.afterTerminate = true;
      return;
    }
    if (type === Q || type === S || type === F) {
      this.awaiting++;
      this.unsynced = false;
    } else if (type === X) {
      if (this.awaiting === 0 && !this.unsynced && this.status === IDLE && offset >= 0) this.terminatedAt = offset;
    } else {
      this.unsynced = true;
    }
  }

  private serverMessage(type: number, body: Buffer): void {
    if (type === Z) {
      if (this.awaiting > 0) this.awaiting--;
      this.status = body[0] ?? 0;
    } else {
      try {
        const [name, next] = readCString(body, 0);
        this.parameters.set(name, readCString(body, next)[0]);
      } catch {
        this.server.broken = true; // a malformed ParameterStatus: never reuse this session
      }
    }
  }
}
