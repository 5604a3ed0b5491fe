// The gateway's side of a connection to PostgreSQL: connect, send the client's startup
// parameters, sign in as the client's role with SCRAM driven by a ClientKey, and collect
// what PostgreSQL sends up to its first ReadyForQuery.
import type { BackendTarget } from '../cluster/cluster.js';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { AUTH, MAX_AUTH_MESSAGE_BYTES } from '../protocol/constants.js';
import {
  backendKeyData,
  frameMessage,
  parameterStatus,
  readCString,
  readyForQueryIdle,
  simpleQuery,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseSASLMechanisms,
  saslInitialResponse,
  saslResponse,
} from '../protocol/messages.js';
import { buildCancelRequest, buildStartupMessage } from '../protocol/startup.js';
import { ScramClientExchange } from '../scram/client.js';
import { SCRAM_SHA_256 } from '../scram/messages.js';
import type { ServerFirst } from '../scram/messages.js';
import { PgwardenError } from '../util/errors.js';
import { connectSharedReads } from './server-reads.js';
import { Wire } from './wire.js';

export type KeysFor = (s: ServerFirst) => { clientKey: Buffer; serverKey: Buffer } | undefined;

/** A server session's cancel key (BackendKeyData), and where its server is. */
export interface ServerKey {
  processId: number;
  secretKey: Buffer;
  target: BackendTarget;
}

export interface BackendSession {
  socket: Socket;
  /** The run-time parameters PostgreSQL reported (ParameterStatus), in its order. */
  parameters: Map<string, string>;
  /** Notices PostgreSQL sent during startup, framed, for the client. */
  notices: Buffer;
  /** Bytes that came after the startup ReadyForQuery (none, normally), for the client
   * after it; a session with any is not followed for reuse. */
  trailing: Buffer;
  key: ServerKey | undefined;
}

/** What the client gets after AuthenticationOk: notices, every ParameterStatus, the
 * cancel key the gateway issued it, and ReadyForQuery. */
export function startupMessages(
  session: Pick<BackendSession, 'notices' | 'parameters' | 'trailing'>,
  clientKey: { processId: number; secretKey: Buffer } | undefined,
): Buffer {
  const parts = [session.notices];
  for (const [name, value] of session.parameters) parts.push(parameterStatus(name, value));
  if (clientKey) parts.push(backendKeyData(clientKey.processId, clientKey.secretKey));
  parts.push(readyForQueryIdle(), session.trailing);
  return Buffer.concat(parts);
}

/** An ErrorResponse from PostgreSQL during sign-in, to be forwarded to the client verbatim. */
export class BackendRefusal extends Error {
  constructor(
    readonly raw: Buffer,
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
  }
}

async function openSocket(target: BackendTarget, timeoutMs: number): Promise<Socket> {
  const socket = await openPlainSocket(target, timeoutMs);
  if ('path' in target || !target.tls) return socket;
  return startBackendTls(socket, target.tls, timeoutMs);
}

/** SSLRequest, then TLS over the same socket (PostgreSQL's way of starting TLS). */
async function startBackendTls(socket: Socket, options: ConnectionOptions, timeoutMs: number): Promise<Socket> {
  const answer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new PgwardenError('BACKEND_UNAVAILABLE', 'the database server did not answer the SSL request in time')), timeoutMs);
    socket.once('data', (b: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      resolve(b.toString('latin1', 0, 1));
    });
    socket.once('error', (e) => reject(new PgwardenError('BACKEND_UNAVAILABLE', 'the database server is not reachable', { cause: e })));
    socket.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]));
  });
  if (answer !== 'S') {
    socket.destroy();
    throw new PgwardenError('BACKEND_UNAVAILABLE', 'the database server does not accept TLS, and pgwarden requires it for a remote node');
  }
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ ...options, socket }, () => resolve(tls));
    tls.once('error', (e) => reject(new PgwardenError('BACKEND_UNAVAILABLE', `TLS to the database server failed: ${e.message}`, { cause: e })));
  });
}

function openPlainSocket(target: BackendTarget, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // TLS to the server reads through node's TLS socket; a plain socket reads into the shared buffer.
    const socket =
      'path' in target
        ? connectSharedReads({ path: target.path })
        : target.tls
          ? connect({ host: target.host, port: target.port })
          : connectSharedReads({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PgwardenError('BACKEND_UNAVAILABLE', 'the database server did not answer in time'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      if (!('path' in target)) socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(new PgwardenError('BACKEND_UNAVAILABLE', 'the database server is not reachable', { cause: e }));
    });
  });
}

/**
 * Opens a session as `params.user` and signs in with SCRAM-SHA-256, using the keys
 * that `keysFor` gives for the salt PostgreSQL announces. `timeoutMs` bounds the connect;
 * the sign-in, up to ReadyForQuery, may take `signIn.timeoutMs` (default the same) and
 * then fails with `signIn.timeoutError`.
 */
export async function openBackendSession(
  target: BackendTarget,
  params: ReadonlyMap<string, string>,
  keysFor: KeysFor,
  timeoutMs: number,
  signIn: { timeoutMs?: number; timeoutError?: () => Error } = {},
): Promise<BackendSession> {
  const socket = await openSocket(target, timeoutMs);
  const wire = new Wire(socket, 1024 * 1024);
  const timedOut = signIn.timeoutError ?? (() => new PgwardenError('BACKEND_UNAVAILABLE', 'the database server did not finish sign-in in time'));
  const timer = setTimeout(() => socket.destroy(timedOut()), signIn.timeoutMs ?? timeoutMs);
  try {
    socket.write(buildStartupMessage(params));
    let scram: ScramClientExchange | undefined;
    // Authentication exchange.
    for (;;) {
      const msg = await wire.readMessage();
      if (msg.type === 'E') throw refusal(msg.body);
      if (msg.type === 'N') continue;
      if (msg.type !== 'R') throw new PgwardenError('PROTOCOL_VIOLATION', `unexpected message "${msg.type}" from the database server during sign-in`);
      if (msg.body.length > MAX_AUTH_MESSAGE_BYTES) throw new PgwardenError('PROTOCOL_VIOLATION', 'authentication message from the server is too long');
      const { code, data } = parseAuthentication(msg.body);
      if (code === AUTH.OK) break;
      if (code === AUTH.SASL) {
        if (!parseSASLMechanisms(data).includes(SCRAM_SHA_256)) {
          throw new PgwardenError('BACKEND_UNAVAILABLE', 'the database server does not offer SCRAM-SHA-256');
        }
        scram = new ScramClientExchange(keysFor);
        socket.write(saslInitialResponse(SCRAM_SHA_256, scram.clientFirst()));
      } else if (code === AUTH.SASL_CONTINUE && scram) {
        socket.write(saslResponse(scram.clientFinal(data.toString('utf8'))));
      } else if (code === AUTH.SASL_FINAL && scram) {
        scram.verifyServerFinal(data.toString('utf8'));
      } else {
        throw new PgwardenError(
          'BACKEND_UNAVAILABLE',
          `the database server asked for authentication method ${code}; pgwarden signs in to PostgreSQL with SCRAM-SHA-256 only`,
        );
      }
    }
    // Startup: collect until ReadyForQuery.
    const parameters = new Map<string, string>();
    const notices: Buffer[] = [];
    let key: BackendSession['key'];
    for (;;) {
      const msg = await wire.readMessage();
      if (msg.type === 'E') throw refusal(msg.body);
      if (msg.type === 'Z') break;
      if (msg.type === 'K') key = { ...parseBackendKeyData(msg.body), target };
      else if (msg.type === 'S') addParameter(parameters, msg.body);
      else notices.push(frameMessage(msg.type, msg.body));
    }
    const trailing = wire.detach();
    clearTimeout(timer);
    return { socket, parameters, notices: Buffer.concat(notices), trailing, key };
  } catch (e) {
    clearTimeout(timer);
    wire.detach();
    socket.destroy();
    // Closed or reset without a word (a server stopping): said as such, not as our own failure.
    if (e instanceof PgwardenError ? e.code === 'PEER_CLOSED' : !(e instanceof BackendRefusal))
      throw new PgwardenError('BACKEND_UNAVAILABLE', 'the database server closed the connection during sign-in', { cause: e });
    throw e;
  }
}

function addParameter(parameters: Map<string, string>, body: Buffer): void {
  const [name, next] = readCString(body, 0);
  parameters.set(name, readCString(body, next)[0]);
}

/** The reset a session gets before another client may have it: everything a session can
 * set is dropped (RESET ALL, DEALLOCATE ALL, CLOSE ALL, UNLISTEN *, advisory locks,
 * temporary tables, cached plans and sequences), as PgBouncer's server_reset_query. */
export const RESET_QUERY = 'DISCARD ALL';

/**
 * Runs RESET_QUERY on an idle session and follows what PostgreSQL reports, so that the
 * next client is told the parameters as they are. Rejects if the session is not idle
 * and clean afterwards; the caller then closes it.
 */
export async function resetSession(socket: Socket, parameters: Map<string, string>, timeoutMs: number): Promise<void> {
  if (socket.destroyed || !socket.writable) throw new PgwardenError('BACKEND_UNAVAILABLE', 'the session has ended');
  const wire = new Wire(socket, 1024 * 1024);
  socket.resume();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PgwardenError('BACKEND_UNAVAILABLE', 'the session reset did not finish in time')), timeoutMs);
  });
  const reset = async (): Promise<void> => {
    socket.write(simpleQuery(RESET_QUERY));
    for (;;) {
      const msg = await wire.readMessage();
      if (msg.type === 'E') throw refusal(msg.body);
      if (msg.type === 'S') addParameter(parameters, msg.body);
      if (msg.type === 'Z') {
        if (msg.body[0] !== 0x49) throw new PgwardenError('PROTOCOL_VIOLATION', 'the session is not idle after its reset');
        return;
      }
    }
  };
  const running = reset();
  running.catch(() => undefined); // settled either way; only the race's outcome counts
  try {
    await Promise.race([running, timedOut]);
  } finally {
    clearTimeout(timer);
    const rest = wire.detach();
    if (rest.length > 0) socket.destroy();
  }
  if (socket.destroyed) throw new PgwardenError('BACKEND_UNAVAILABLE', 'the session ended during its reset');
}

function refusal(body: Buffer): BackendRefusal {
  const fields = parseErrorFields(body);
  return new BackendRefusal(frameMessage('E', body), fields.get('C') ?? 'XX000', fields.get('M') ?? 'error');
}

/** Sends a CancelRequest to the backend that owns the key, and closes. */
export function sendCancel(key: ServerKey): void {
  const { target } = key;
  const packet = buildCancelRequest(key.processId, key.secretKey);
  const socket = 'path' in target ? connect({ path: target.path }) : connect({ host: target.host, port: target.port });
  socket.on('error', () => socket.destroy());
  socket.setTimeout(5000, () => socket.destroy());
  socket.on('connect', () => socket.end(packet));
}
