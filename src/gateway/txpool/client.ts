// One client of the transaction pool after its sign-in: its messages go to a server
// session of its group for the length of one transaction (from its first message to the
// ReadyForQuery that says "idle" after its last Sync or Query), then the session serves
// the next client. Named prepared statements stay the client's own (statements.ts).
// Every answer PostgreSQL owes is followed in order (expected-responses.ts), so that the
// gateway can answer for what it does not send and swallow what it added.
import type { Socket } from 'node:net';
import { errorResponse } from '../../protocol/messages.js';
import { FrameSplitter } from '../../protocol/frames.js';
import { buildQuery, queryText } from '../../protocol/extended.js';
import { PgwardenError, describeError, isPgwardenError } from '../../util/errors.js';
import type { Logger } from 'pino';
import type { BackendSession } from '../backend.js';
import { writeShared } from '../server-reads.js';
import { ExpectedResponses } from './expected-responses.js';
import type { PoolServer, ServerGroup, ServerOwner, TransactionPool } from './pool.js';
import { refusal, sessionStateIn } from './session-state.js';
import { ClientStatements, type Send } from './statements.js';

const code = (c: string): number => c.charCodeAt(0);
const [PARSE, BIND, DESCRIBE, CLOSE, EXECUTE, SYNC, FLUSH, QUERY, FUNCTION_CALL, TERMINATE] = [...'PBDCESHQFX'].map(code) as number[];
const [COPY_DATA, COPY_DONE, COPY_FAIL] = [...'dcf'].map(code) as number[];
const IDLE = code('I');
/** Messages a client may stream (COPY data can be any size); DataRow from the server. */
const CLIENT_STREAMED = (t: number): boolean => t === COPY_DATA;
const SERVER_STREAMED = (t: number): boolean => t === code('D') || t === COPY_DATA;
/** A whole client message larger than this is refused (a Bind with large values fits). */
const MAX_CLIENT_MESSAGE_BYTES = 256 * 1024 * 1024;
const MAX_SERVER_MESSAGE_BYTES = 1024 * 1024 * 1024;
/** Bytes of client messages held while it waits for a server session; beyond, it is paused. */
const MAX_QUEUED_BYTES = 1024 * 1024;

type Queued = { kind: 'message'; type: number; frame: Buffer } | { kind: 'piece'; bytes: Buffer };

export interface TransactionClientOptions {
  readonly pool: TransactionPool;
  readonly group: ServerGroup;
  readonly client: Socket;
  /** Opens a new server session as the client's role (with its keys). */
  readonly open: () => Promise<BackendSession>;
  readonly log: Logger;
  /** Called once, when the client is gone. */
  readonly onClose: () => void;
}

export class TransactionClient implements ServerOwner {
  private server: PoolServer | undefined;
  private acquiring = false;
  private readonly queued: Queued[] = [];
  private queuedBytes = 0;
  private readonly statements: ClientStatements;
  private responses: ExpectedResponses;
  private readonly fromClient: FrameSplitter;
  /** One splitter for whichever session serves the client (between transactions it is
   * at a message boundary, so it carries nothing from one session to the next). */
  private readonly fromServer: FrameSplitter;
  private toServer: Buffer[] = [];
  private toClient: Buffer[] = [];
  /** Extended-protocol messages were sent since the last Sync: the session is mid-request. */
  private unsynced = false;
  private closed = false;
  private readonly client: Socket;
  /** Set when the client's token has expired (token-expiry.ts): what it is told as it ends. */
  private expiredMessage: Buffer | undefined;
  private expiredCancel: (() => void) | undefined;

  constructor(private readonly options: TransactionClientOptions) {
    this.client = options.client;
    this.statements = new ClientStatements(options.pool.options.maxPreparedStatements);
    this.responses = this.newResponses();
    this.fromClient = new FrameSplitter(
      CLIENT_STREAMED,
      {
        message: (type, frame) => this.clientMessage(type, frame),
        piece: (_type, bytes) => this.clientPiece(bytes),
      },
      MAX_CLIENT_MESSAGE_BYTES,
    );
    this.fromServer = new FrameSplitter(
      SERVER_STREAMED,
      {
        message: (type, frame) => this.responses.fromServer(type, frame),
        piece: (_type, bytes) => this.toClient.push(bytes),
      },
      MAX_SERVER_MESSAGE_BYTES,
    );
  }

  /** Starts reading the client; `early` are bytes it sent before its sign-in ended. */
  start(early: Buffer): void {
    const client = this.client;
    client.on('data', this.onClientData);
    client.on('drain', this.onClientDrain);
    client.on('end', () => this.end());
    client.on('close', () => this.end());
    client.on('error', () => this.end());
    if (early.length > 0) this.onClientData(early);
    client.resume();
  }

  /** Where a cancel request of this client goes: the server session running its
   * transaction, if any. */
  get backendKey(): BackendSession['key'] {
    return this.server?.session.key;
  }

  private newResponses(): ExpectedResponses {
    return new ExpectedResponses((bytes) => this.toClient.push(bytes));
  }

  private readonly onClientData = (chunk: Buffer): void => {
    try {
      this.fromClient.feed(chunk);
    } catch (e) {
      return this.fail(e);
    }
    this.flushToServer();
    this.maybeRelease();
    this.maybeExpire();
  };

  private readonly onClientDrain = (): void => {
    this.server?.session.socket.resume();
  };

  // ---- ServerOwner: the pool hands on the events of the session serving this client ----

  serverBytes(bytes: Buffer, shared: boolean): void {
    try {
      this.fromServer.feed(bytes);
    } catch (e) {
      return this.fail(e);
    }
    this.flushToClient(shared);
    this.maybeRelease();
    this.maybeExpire();
  }

  serverDrain(): void {
    if (this.queuedBytes < MAX_QUEUED_BYTES) this.client.resume();
  }

  serverGone(): void {
    if (!this.server) return;
    this.flushToClient();
    this.fail(new PgwardenError('BACKEND_UNAVAILABLE', 'the server session ended unexpectedly'));
  }

  private clientMessage(type: number, frame: Buffer): void {
    if (type === TERMINATE) return this.end();
    if (!this.server) return this.queue({ kind: 'message', type, frame });
    this.handle(type, frame);
  }

  private clientPiece(bytes: Buffer): void {
    if (!this.server) return this.queue({ kind: 'piece', bytes });
    this.toServer.push(bytes);
  }

  private queue(item: Queued): void {
    this.queued.push(item);
    this.queuedBytes += item.kind === 'message' ? item.frame.length : item.bytes.length;
    if (this.queuedBytes >= MAX_QUEUED_BYTES) this.client.pause();
    this.acquire();
  }

  private acquire(): void {
    if (this.acquiring || this.closed) return;
    this.acquiring = true;
    const { pool, group } = this.options;
    pool.acquire(group, this.options.open).then(
      (server) => {
        this.acquiring = false;
        if (this.closed) return pool.release(server, true);
        this.attach(server);
        const queued = this.queued.splice(0);
        this.queuedBytes = 0;
        try {
          for (const item of queued) {
            if (item.kind === 'message') this.handle(item.type, item.frame);
            else this.toServer.push(item.bytes);
          }
        } catch (e) {
          return this.fail(e); // a malformed message: the session is not handed on
        }
        this.flushToServer();
        this.client.resume();
        this.maybeRelease();
      },
      (e: unknown) => {
        this.acquiring = false;
        this.fail(e);
      },
    );
  }

  private attach(server: PoolServer): void {
    this.server = server;
    // Between transactions nothing is owed (`betweenTransactions`): the previous
    // transaction's expectations are spent, and can be followed on.
    if (!this.responses.empty) this.responses = this.newResponses();
    server.owner = this;
    server.session.socket.resume(); // paused if a previous client was slow to read
  }

  private detach(): PoolServer | undefined {
    const server = this.server;
    if (!server) return undefined;
    server.owner = undefined;
    this.server = undefined;
    // Paused while that session could not take more: the next one may.
    if (!this.closed && this.queuedBytes < MAX_QUEUED_BYTES) this.client.resume();
    return server;
  }

  /** Between transactions: nothing owed, nothing half-sent, the server idle. */
  private get betweenTransactions(): boolean {
    return this.responses.empty && this.responses.status === IDLE && !this.unsynced && this.fromServer.atBoundary && this.toServer.length === 0;
  }

  private maybeRelease(): void {
    if (!this.server || this.closed || !this.betweenTransactions) return;
    this.options.pool.release(this.detach()!, true);
  }

  // ---- one client message, with a server session ----

  private handle(type: number, frame: Buffer): void {
    switch (type) {
      case PARSE:
        return this.statements.parse(frame, this.server!, this.send);
      case BIND:
        return this.statements.bind(frame, this.server!, this.send);
      case DESCRIBE:
        return this.statements.describe(frame, this.server!, this.send);
      case CLOSE:
        return this.statements.close(frame, this.send);
      case EXECUTE:
        return this.send(frame, { kind: 'execute' });
      case SYNC:
        this.unsynced = false;
        return this.send(frame, { kind: 'sync' });
      case FLUSH:
        this.unsynced = true;
        this.toServer.push(frame);
        return;
      case QUERY: {
        const leak = sessionStateIn(queryText(frame));
        return this.send(leak ? buildQuery(refusal(leak)) : frame, { kind: 'query' });
      }
      case FUNCTION_CALL:
        return this.send(frame, { kind: 'function' });
      case COPY_DATA:
      case COPY_DONE:
      case COPY_FAIL:
      default:
        // COPY's messages, and anything else: PostgreSQL judges it.
        this.toServer.push(frame);
    }
  }

  private readonly send: Send = (frame, slot) => {
    if (slot.kind !== 'sync' && slot.kind !== 'query' && slot.kind !== 'function') this.unsynced = true;
    if (frame) this.toServer.push(frame);
    this.responses.add(slot);
  };

  // ---- writing ----

  private flushToServer(): void {
    if (this.toServer.length === 0 || !this.server) return;
    const bytes = this.toServer.length === 1 ? this.toServer[0]! : Buffer.concat(this.toServer);
    this.toServer = [];
    if (!this.server.session.socket.write(bytes)) this.client.pause();
    this.flushToClient(); // the gateway's own answers, if any came first in line
  }

  /** `shared`: the pending bytes may be views on the shared read buffer (server-reads.ts),
   * so a chunk that the client's socket would keep past this call is copied first. */
  private flushToClient(shared = false): void {
    if (this.toClient.length === 0) return;
    const single = this.toClient.length === 1;
    const bytes = single ? this.toClient[0]! : Buffer.concat(this.toClient);
    this.toClient = [];
    if (!writeShared(this.client, bytes, shared && single)) this.server?.session.socket.pause();
  }

  // ---- the end ----

  /** The client's token has expired: it ends, told `message`, as soon as none of its
   * queries is in flight (now, if none is); after `graceMs` in any case, its query
   * cancelled with `cancel` (given the backend's key). */
  expire(message: Buffer, graceMs: number, cancel: (key: NonNullable<BackendSession['key']>) => void): void {
    if (this.closed || this.expiredMessage) return;
    this.expiredMessage = message;
    const key = (): BackendSession['key'] => this.server?.session.key;
    this.expiredCancel = () => {
      const k = key();
      if (k) cancel(k);
    };
    this.maybeExpire();
    if (!this.closed) setTimeout(() => this.endExpired(true), graceMs).unref();
  }

  /** No query of the client is in flight (a transaction may be open: it is rolled back). */
  private get noQueryInFlight(): boolean {
    if (this.acquiring || this.queued.length > 0) return false;
    return !this.server || (this.responses.empty && !this.unsynced && this.fromServer.atBoundary && this.toServer.length === 0);
  }

  private maybeExpire(): void {
    if (this.expiredMessage && !this.closed && this.noQueryInFlight) this.endExpired(false);
  }

  private endExpired(cut: boolean): void {
    if (this.closed) return;
    this.flushToClient();
    if (cut) this.expiredCancel?.();
    // Only between two of the server's messages; in the middle of one the client just sees the connection close.
    if (!this.client.destroyed && this.fromServer.atBoundary) this.client.write(this.expiredMessage!);
    this.end(false);
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    if (!isPgwardenError(e)) this.options.log.warn({ event: 'pool-client-error', error: describeError(e) }, 'transaction pool client failed');
    const error = isPgwardenError(e) ? e : new PgwardenError('INTERNAL', 'internal error in pgwarden');
    this.flushToClient();
    if (!this.client.destroyed)
      this.client.write(errorResponse({ severity: 'FATAL', sqlstate: error.kind.sqlstate, message: error.message, detail: error.detail }));
    this.end(false);
  }

  /** The client is gone (or goes): its server session goes back to the pool if it is
   * between transactions, else it is closed (a transaction left open is rolled back by
   * PostgreSQL as the session ends). */
  private end(reusable = true): void {
    if (this.closed) return;
    const ok = reusable && this.betweenTransactions;
    this.closed = true;
    const server = this.detach();
    if (server) this.options.pool.release(server, ok);
    this.client.off('data', this.onClientData);
    if (!this.client.destroyed && !this.client.writableEnded) this.client.end();
    setTimeout(() => this.client.destroy(), 5_000).unref();
    this.options.onClose();
  }
}
