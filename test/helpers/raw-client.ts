// A deliberately low-level client for tests that send what real clients never would:
// raw bytes, broken packets, direct TLS. It records what comes back and when the
// connection ends.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { buildStartupMessage } from '../../src/protocol/startup.js';
import { parseErrorFields } from '../../src/protocol/messages.js';

export interface Outcome {
  /** Everything received. */
  data: Buffer;
  /** True if the gateway closed the connection (false: still open when collecting ended). */
  closed: boolean;
  ms: number;
}

/** Sends `bytes` (unless empty) and collects the answer until the peer closes or `timeoutMs` passes. */
export function exchange(port: number, bytes: Buffer, timeoutMs = 5_000): Promise<Outcome> {
  return collect(tcpConnect({ host: '127.0.0.1', port }), bytes, timeoutMs);
}

/** Sends `bytes` on `socket` and collects the answer until the peer closes, `until` holds
 * for what came so far, or `timeoutMs` passes. */
export function collect(socket: Socket, bytes: Buffer, timeoutMs: number, until?: (data: Buffer) => boolean): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (until?.(Buffer.concat(chunks))) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    const send = (): void => {
      if (bytes.length > 0) socket.write(bytes);
    };
    if ((socket as TLSSocket).encrypted) socket.once('secureConnect', send);
    else socket.once('connect', send);
  });
}

/** Opens direct TLS (no SSLRequest), as PostgreSQL 17's sslnegotiation=direct does. */
export function directTls(port: number, caPath: string, alpn: string[] | undefined): TLSSocket {
  return tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(caPath), ...(alpn ? { ALPNProtocols: alpn } : {}) });
}

/** Splits a byte stream into typed messages (type, body). */
export function messages(data: Buffer): Array<{ type: string; body: Buffer }> {
  const out: Array<{ type: string; body: Buffer }> = [];
  let pos = 0;
  while (pos + 5 <= data.length) {
    const len = data.readInt32BE(pos + 1);
    out.push({ type: String.fromCharCode(data[pos]!), body: data.subarray(pos + 5, pos + 1 + len) });
    pos += 1 + len;
  }
  return out;
}

/** How many whole messages `data` holds (one still arriving does not count). */
export function wholeMessages(data: Buffer): number {
  let n = 0;
  let pos = 0;
  while (pos + 5 <= data.length && pos + 1 + data.readInt32BE(pos + 1) <= data.length) {
    pos += 1 + data.readInt32BE(pos + 1);
    n++;
  }
  return n;
}

/** The M field of the first ErrorResponse in `data`, if any. */
export function errorMessage(data: Buffer): string | undefined {
  const e = messages(data).find((m) => m.type === 'E');
  return e ? parseErrorFields(e.body).get('M') : undefined;
}

export function startupPacket(params: Record<string, string>, version = 196608): Buffer {
  const p = buildStartupMessage(Object.entries(params));
  p.writeInt32BE(version, 4);
  return p;
}

/** One message at a time over direct TLS, for exchanges of several steps (SASL). */
export class Conversation {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closed = false;

  private constructor(readonly socket: TLSSocket) {
    socket.on('data', (c: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, c]);
      this.waiter?.();
    });
    const end = (): void => {
      this.closed = true;
      this.waiter?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static async open(port: number, caPath: string): Promise<Conversation> {
    const socket = directTls(port, caPath, ['postgresql']);
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', () => resolve()).once('error', reject));
    return new Conversation(socket);
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next whole message; undefined once the peer has closed without sending one. */
  async next(): Promise<{ type: string; body: Buffer } | undefined> {
    for (;;) {
      const b = this.buffered;
      if (b.length >= 5 && b.length >= 1 + b.readInt32BE(1)) {
        const len = b.readInt32BE(1);
        this.buffered = b.subarray(1 + len);
        return { type: String.fromCharCode(b[0]!), body: b.subarray(5, 1 + len) };
      }
      if (this.closed) return undefined;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
