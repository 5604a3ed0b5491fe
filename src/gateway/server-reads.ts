// Plain (Unix or loopback TCP) sockets to PostgreSQL read into one buffer that all of
// them share, through node's `onread` option (net.Socket), instead of node's default
// path, which makes a new Buffer for every read and then runs the Readable stream's
// push and 'data' emission: per transaction, that is part of what the gateway spends
// over PgBouncer (docs/benchmarks.md). Sharing one buffer is safe because the event
// loop delivers one read at a time and every sink is done with the bytes when it
// returns; a sink that keeps them must copy them.
//
// A socket's reads go to its sink; with none set, the socket emits 'data' with a copy
// of the bytes, exactly as a default socket would, so that the sign-in, the kept
// sessions and the transaction pool read it as any socket. Only the byte pump sets a sink.
import { connect, type NetConnectOpts, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** Gets one read's bytes, valid only during the call; returns false to pause the socket. */
export type ReadSink = (bytes: Buffer) => boolean;

const SINK = Symbol('pgwarden.readSink');
/** Where a socket's reads go: one holder per socket, made with it, which the read
 * callback holds directly (no property lookup on the socket per read). */
interface SinkHolder {
  sink: ReadSink | undefined;
}
type SharedReadSocket = Socket & { [SINK]: SinkHolder };

/** Large enough for a read of a busy session (node's own default read size is 64 KB). */
const SHARED = Buffer.allocUnsafe(64 * 1024);

/** Connects like `net.connect`, with the socket's reads going into the shared buffer. */
export function connectSharedReads(options: NetConnectOpts): Socket {
  const holder: SinkHolder = { sink: undefined };
  const socket = connect({
    ...options,
    onread: {
      buffer: SHARED,
      callback: (n: number, buffer: Uint8Array): boolean => {
        const bytes = (buffer as Buffer).subarray(0, n);
        if (holder.sink) return holder.sink(bytes);
        socket.emit('data', Buffer.from(bytes));
        return !socket.isPaused();
      },
    },
  }) as SharedReadSocket;
  socket[SINK] = holder;
  return socket;
}

/** Whether `socket` reads into the shared buffer (and so takes a sink). */
export function readsShared(socket: Socket): boolean {
  return SINK in socket;
}

/** Sends `socket`'s reads to `sink`, or (undefined) back to 'data' events. */
export function setReadSink(socket: Socket, sink: ReadSink | undefined): void {
  (socket as SharedReadSocket)[SINK].sink = sink;
}

/** Writes bytes of a shared read (or anything) to `dest`: as they are when `dest` is a TLS
 * socket with nothing pending, which encrypts them before write() returns; else a copy,
 * since a busy stream or a plain socket keeps the chunk until it is sent, and the next
 * read overwrites the shared buffer. `shared` false: `bytes` are the caller's to give. */
export function writeShared(dest: Socket, bytes: Buffer, shared: boolean): boolean {
  const keeps = !(dest instanceof TLSSocket) || dest.writableLength > 0;
  return dest.write(shared && keeps ? Buffer.from(bytes) : bytes);
}
