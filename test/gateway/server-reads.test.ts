// Server sockets read into one shared buffer (src/gateway/server-reads.ts): nothing the
// pump forwards may be a view on that buffer by the time it is written, however the
// client drains (a TLS client that falls behind, a plain one), and the session tracker
// keeps the right values of messages split across reads.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, connect as tlsConnect, createSecureContext } from 'node:tls';
import { pump } from '../../src/gateway/pump.js';
import { connectSharedReads, readsShared } from '../../src/gateway/server-reads.js';
import { SessionTracker } from '../../src/gateway/session-tracker.js';
import { ensureLocalTls } from '../../src/tls/certificates.js';
import { frameMessage, parameterStatus } from '../../src/protocol/messages.js';

const dir = await mkdtemp(join(tmpdir(), 'pgwarden-reads-'));
after(() => rm(dir, { recursive: true, force: true }));
const tls = await ensureLocalTls(dir, []);

/** A stand-in server that, on its first byte from the gateway, writes `chunks` one at a
 * time (each on a later turn of the event loop, so that most arrive as separate reads). */
async function fakeServer(chunks: Buffer[]): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', async () => {
      for (const c of chunks) {
        if (!s.write(c)) await new Promise((r) => s.once('drain', r));
        await new Promise((r) => setImmediate(r));
      }
      s.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A gateway-side pair: `client` as the gateway accepted it (TLS or plain), the server
 * socket reading into the shared buffer, pumped together. Returns the far client end. */
async function pumped(port: number, withTls: boolean, tracker?: SessionTracker): Promise<Socket> {
  const front = createServer();
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => front.once('connection', r));
  const far = withTls
    ? tlsConnect({ port: (front.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false })
    : connect((front.address() as AddressInfo).port, '127.0.0.1');
  let client = await accepted;
  front.close();
  if (withTls) {
    const secure = new TLSSocket(client, { isServer: true, secureContext: createSecureContext({ cert: tls.certPem, key: tls.keyPem }) });
    await new Promise((r) => secure.once('secure', r));
    client = secure;
  }
  const server = connectSharedReads({ host: '127.0.0.1', port });
  await new Promise((r) => server.once('connect', r));
  assert.ok(readsShared(server));
  pump(client, server, () => undefined, tracker ? { tracker, release: () => undefined } : undefined);
  return far;
}

/** Reads everything `far` gets, pausing 2 ms after every read (a client
 * slower than the server), and returns its SHA-256 and length. */
function drainSlowly(far: Socket): Promise<{ sha: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    far.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      far.pause();
      setTimeout(() => far.resume(), 2);
    });
    far.on('end', () => resolve({ sha: hash.digest('hex'), bytes }));
    far.on('error', reject);
  });
}

describe('server sockets reading into one shared buffer', () => {
  for (const withTls of [true, false]) {
    test(`${withTls ? 'a TLS' : 'a plain'} client slower than the server gets every byte, in order`, async () => {
      // 6 MB in small chunks of varied sizes (most arrive as reads of their own), each its own content.
      const chunks = Array.from({ length: 3000 }, (_, i) => randomBytes(1 + ((i * 7919) % 4000)));
      const expected = createHash('sha256');
      for (const c of chunks) expected.update(c);
      const { server, port } = await fakeServer(chunks);
      const far = await pumped(port, withTls);
      far.write('x');
      const got = await drainSlowly(far);
      server.close();
      assert.equal(
        got.bytes,
        chunks.reduce((n, c) => n + c.length, 0),
      );
      assert.equal(got.sha, expected.digest('hex'));
    });
  }

  test('the tracker keeps ParameterStatus values that arrive split across reads', async () => {
    const stream = Buffer.concat([
      parameterStatus('application_name', 'first value, long enough to be cut'),
      frameMessage('D', randomBytes(70_000)),
      parameterStatus('TimeZone', 'Europe/Amsterdam'),
      frameMessage('Z', Buffer.from('I')),
    ]);
    // Cut every few bytes around the status messages, so that each straddles reads.
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length;) {
      const size = at < 60 || at > stream.length - 60 ? 3 : 20_000;
      chunks.push(stream.subarray(at, at + size));
      at += size;
    }
    const { server, port } = await fakeServer(chunks);
    const tracker = new SessionTracker(new Map());
    const far = await pumped(port, true, tracker);
    far.write('x');
    const got = await drainSlowly(far);
    server.close();
    assert.equal(got.bytes, stream.length);
    assert.equal(tracker.parameters.get('application_name'), 'first value, long enough to be cut');
    assert.equal(tracker.parameters.get('TimeZone'), 'Europe/Amsterdam');
  });
});

describe('a server connection that fails', () => {
  test('the client is told why, with a FATAL 08006 between messages, instead of a bare close', async () => {
    // A stand-in for a server that exits as the gateway writes to it: reset, nothing said.
    const server = createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.resetAndDestroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const far = await pumped((server.address() as AddressInfo).port, false, new SessionTracker(new Map()));
      const got: Buffer[] = [];
      far.on('data', (c: Buffer) => got.push(c));
      const closed = new Promise((r) => far.once('close', r));
      far.write(frameMessage('Q', Buffer.from('select 1\0')));
      await closed;
      // Failed before: nothing at all reached the client.
      const bytes = Buffer.concat(got);
      assert.equal(String.fromCharCode(bytes[0] ?? 0), 'E');
      const text = bytes.toString('latin1');
      assert.match(text, /SFATAL\0/);
      assert.match(text, /C08006\0Mthe database server closed the connection unexpectedly\0/);
    } finally {
      server.close();
    }
  });
});
