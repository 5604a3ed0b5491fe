// Knows, after sign-in, whether a session could be handed to the next client: it follows
// message boundaries in both directions (type byte and length only; no body is read
// except ReadyForQuery's status and ParameterStatus), counts the points that the server
// answers with ReadyForQuery, and notices a Terminate sent while the server is idle.
// This is the least a server-connection reuse needs (PgBouncer follows the same
// boundaries in its sbuf.c); it copies nothing and costs a few operations per message.
// https://www.postgresql.org/docs/current/protocol-flow.html
import { FrameSplitter } from '../protocol/frames.js';
import { readCString } from '../protocol/messages.js';

const Q = 0x51; // Query
const S = 0x53; // Sync (client) / ParameterStatus (server)
const F = 0x46; // FunctionCall
const X = 0x58; // Terminate
const Z = 0x5a; // ReadyForQuery
const E = 0x45; // ErrorResponse (server)
const IDLE = 0x49; // 'I': not in a transaction block
const ALWAYS = (): boolean => true;
const NOTHING = (): void => undefined;
/** ReadyForQuery and ParameterStatus are small; a larger one is not PostgreSQL's. */
const MAX_STATUS_BYTES = 64 * 1024;

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

  // Only message starts from the client (every message streamed past, nothing kept); from
  // the server, ReadyForQuery and ParameterStatus whole (they are small), the rest streamed.
  private readonly client = new FrameSplitter(ALWAYS, { header: (type, offset) => this.clientMessage(type, offset), message: NOTHING, piece: NOTHING }, 0);
  private readonly server = new FrameSplitter(
    (type) => type !== Z && type !== S,
    { header: (type) => (this.lastFromServer = type), message: (type, frame) => this.serverMessage(type, frame.subarray(5)), piece: NOTHING },
    MAX_STATUS_BYTES,
  );
  /** A stream that is not PostgreSQL's (a bad length, an oversized status message): never reused. */
  private broken = false;
  /** The type of the last message the server began. */
  private lastFromServer = 0;

  constructor(parameters: ReadonlyMap<string, string>) {
    this.parameters = new Map(parameters);
  }

  /** Sees a chunk from the client. When `reusable` turns true, the chunk's bytes before
   * `terminatedAt` go to the server and the Terminate does not. */
  fromClient(chunk: Buffer): void {
    this.follow(this.client, chunk);
  }

  fromServer(chunk: Buffer): void {
    this.follow(this.server, chunk);
  }

  private follow(splitter: FrameSplitter, chunk: Buffer): void {
    if (this.broken) return;
    try {
      splitter.feed(chunk);
    } catch {
      this.broken = true;
    }
  }

  /** Called after a ReadyForQuery that leaves nothing owed (token-expiry.ts waits for it). */
  onIdle: (() => void) | undefined;

  /** No query in flight: every point the client asked to be answered was answered, no
   * extended-protocol message waits for a Sync, and nothing has come half-way. */
  get idle(): boolean {
    return !this.broken && this.awaiting === 0 && !this.unsynced && this.server.atBoundary && this.client.atBoundary;
  }

  /** Nothing of a server message has gone to the client half-way. */
  get betweenServerMessages(): boolean {
    return !this.broken && this.server.atBoundary;
  }

  /** Whether the last message the server sent was an ErrorResponse (a FATAL before it went, say). */
  get serverLastSentError(): boolean {
    return this.lastFromServer === E;
  }

  /** True when the server is idle, owes no answer, has sent nothing half-way (an
   * asynchronous notice, say), and the client ended cleanly. */
  get reusable(): boolean {
    return this.terminatedAt !== undefined && !this.afterTerminate && !this.broken && this.server.atBoundary;
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
      if (this.awaiting === 0) this.onIdle?.();
    } else {
      try {
        const [name, next] = readCString(body, 0);
        this.parameters.set(name, readCString(body, next)[0]);
      } catch {
        this.broken = true; // a malformed ParameterStatus: never reuse this session
      }
    }
  }
}
