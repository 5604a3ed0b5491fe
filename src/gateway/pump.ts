// After sign-in the gateway only moves bytes: no parsing, no stream machinery, one
// `data` handler per direction that pauses the source while the destination is full.
import type { Socket } from 'node:net';

/** How long a closing side may take to flush before the other is torn down. */
const CLOSE_GRACE_MS = 5_000;

export interface PumpStats {
  bytesFromClient: number;
  bytesFromServer: number;
}

/** Pipes `client` and `server` both ways until either closes; calls `onClose` once. */
export function pump(client: Socket, server: Socket, onClose: (stats: PumpStats) => void): void {
  const stats: PumpStats = { bytesFromClient: 0, bytesFromServer: 0 };

  const forward = (from: Socket, to: Socket, count: (n: number) => void): void => {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
    // A clean end on one side is passed on as a clean end, after pending writes flush.
    // (Ending a socket twice costs an error object with a stack trace: check first.)
    from.on('end', () => endOnce(to));
  };
  forward(client, server, (n) => (stats.bytesFromClient += n));
  forward(server, client, (n) => (stats.bytesFromServer += n));

  let open = 2;
  for (const [side, other] of [[client, server], [server, client]] as const) {
    side.on('error', () => {
      side.destroy();
      other.destroy();
    });
    side.once('close', () => {
      if (!other.destroyed) {
        endOnce(other);
        setTimeout(() => other.destroy(), CLOSE_GRACE_MS).unref();
      }
      if (--open === 0) onClose(stats);
    });
  }
  client.resume();
  server.resume();
}

function endOnce(socket: Socket): void {
  if (!socket.destroyed && !socket.writableEnded) socket.end();
}
