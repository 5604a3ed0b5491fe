// After sign-in the gateway only moves bytes: no parsing, no stream machinery, one
// `data` handler per direction that pauses the source while the destination is full.
// With a SessionTracker it also follows message boundaries, and a client that ends
// cleanly while the server is idle releases the server connection instead of closing it.
import type { Socket } from 'node:net';
import { errorResponse } from '../protocol/messages.js';
import { readsShared, setReadSink, writeShared } from './server-reads.js';
import type { SessionTracker } from './session-tracker.js';

/** How long a closing side may take to flush before the other is torn down. */
const CLOSE_GRACE_MS = 5_000;

export interface PumpStats {
  bytesFromClient: number;
  bytesFromServer: number;
}

export interface Reuse {
  tracker: SessionTracker;
  /** Gets the server socket, paused and with no listeners of the pump, after a clean end. */
  release: (server: Socket) => void;
}

/** Pipes `client` and `server` both ways until either closes (or the server connection
 * is released); calls `onClose` once. `observer` follows the messages when there is no
 * reuse (token-expiry.ts). */
export function pump(client: Socket, server: Socket, onClose: (stats: PumpStats) => void, reuse?: Reuse, observer?: SessionTracker): void {
  const stats: PumpStats = { bytesFromClient: 0, bytesFromServer: 0 };
  const tracker = reuse?.tracker ?? observer;
  // Every listener the pump adds, so that a release can take them all off again.
  // EventEmitter's own listener type (any arguments).
  type Listener = (...args: any[]) => void;
  const attached: Array<[Socket, string, Listener]> = [];
  const on = (socket: Socket, event: string, listener: Listener): void => {
    socket.on(event, listener);
    attached.push([socket, event, listener]);
  };
  let detachSink = (): void => undefined;
  let done = false;
  let serverEnded = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    onClose(stats);
  };

  const release = (): void => {
    server.pause();
    detachSink();
    for (const [socket, event, listener] of attached) socket.off(event, listener);
    client.on('error', () => client.destroy());
    endOnce(client);
    setTimeout(() => client.destroy(), CLOSE_GRACE_MS).unref();
    finish();
    reuse!.release(server);
  };

  on(client, 'data', (chunk: Buffer) => {
    stats.bytesFromClient += chunk.length;
    if (tracker) {
      tracker.fromClient(chunk);
      // A server that has ended or gone (its FATAL message may have left it "idle") is
      // not released: the bytes go on, and the sockets close as they would.
      if (reuse && tracker.reusable && !serverEnded && !server.destroyed && server.writable) {
        const before = chunk.subarray(0, Math.max(0, tracker.terminatedAt!));
        if (before.length > 0) server.write(before);
        release();
        return;
      }
    }
    if (!server.write(chunk)) client.pause();
  });
  const fromServer = (chunk: Buffer, shared: boolean): boolean => {
    stats.bytesFromServer += chunk.length;
    tracker?.fromServer(chunk);
    return writeShared(client, chunk, shared);
  };
  if (readsShared(server)) {
    setReadSink(server, (bytes) => {
      if (fromServer(bytes, true)) return true;
      server.pause();
      return false;
    });
    detachSink = () => setReadSink(server, undefined);
  } else {
    on(server, 'data', (chunk: Buffer) => {
      if (!fromServer(chunk, false)) server.pause();
    });
  }
  on(server, 'drain', () => client.resume());
  on(client, 'drain', () => server.resume());
  // A clean end on one side is passed on as a clean end, after pending writes flush.
  // (Ending a socket twice costs an error object with a stack trace: check first.)
  on(client, 'end', () => endOnce(server));
  on(server, 'end', () => {
    serverEnded = true;
    endOnce(client);
  });

  let open = 2;
  for (const [side, other] of [
    [client, server],
    [server, client],
  ] as const) {
    // An error (a server reset as it stops) ends the other side as a close does: what was
    // already written to it (PostgreSQL's FATAL 57P01) still reaches it.
    on(side, 'error', () => {
      if (side === server) toldWhy();
      side.destroy();
    });
    on(side, 'close', () => {
      if (!other.destroyed) {
        endOnce(other);
        setTimeout(() => other.destroy(), CLOSE_GRACE_MS).unref();
      }
      if (--open === 0) finish();
    });
  }
  client.resume();
  server.resume();

  /** The server's connection failed, and the client has not been told why: PostgreSQL's
   * FATAL was lost with it (a write to a server that has just exited fails, and the socket
   * is closed with the FATAL still unread) or never sent. Where the messages are followed
   * and one ended, the client gets a FATAL of its own instead of a bare close. */
  function toldWhy(): void {
    if (!tracker?.betweenServerMessages || tracker.serverLastSentError || client.destroyed || client.writableEnded) return;
    client.write(
      errorResponse({
        severity: 'FATAL',
        sqlstate: '08006',
        message: 'the database server closed the connection unexpectedly',
        detail: 'It probably stopped or restarted while the session was open. Connect again.',
      }),
    );
  }
}

function endOnce(socket: Socket): void {
  if (!socket.destroyed && !socket.writableEnded) socket.end();
}
