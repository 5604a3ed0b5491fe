// Builders and parsers for the typed messages of the sign-in phase: a type byte, an
// int32 length that counts itself but not the type byte, then the body.
// https://www.postgresql.org/docs/current/protocol-message-formats.html
// After sign-in the session port parses nothing: bytes are piped as they come (only
// message boundaries are followed, by src/gateway/session-tracker.ts, for server reuse);
// the transaction pool's port reads whole messages (frames.ts, extended.ts).
import { AUTH } from './constants.js';
import { PgwardenError } from '../util/errors.js';

export interface Message {
  /** The type byte as a one-character string ('R', 'E', 'p', ...). */
  readonly type: string;
  /** The body, without type byte and length. */
  readonly body: Buffer;
}

/** Frames a typed message: type byte, int32 length, body. */
export function frameMessage(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.write(type, 0, 1, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}

function cstring(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}

/** A field of an error: text that may echo what a client sent, so a NUL in it must not
 * end the field early and forge the fields after it. */
function field(s: string): Buffer {
  return cstring(s.replace(/\0/g, ''));
}

// ---- backend messages (gateway -> client) ----

export interface ErrorFields {
  severity: 'FATAL' | 'ERROR' | 'WARNING' | 'NOTICE';
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** ErrorResponse ('E') or NoticeResponse ('N'): fields S, V, C, M, D, H. */
export function errorResponse(fields: ErrorFields, type: 'E' | 'N' = 'E'): Buffer {
  const parts = [
    Buffer.from('S'),
    field(fields.severity),
    Buffer.from('V'),
    field(fields.severity),
    Buffer.from('C'),
    field(fields.sqlstate),
    Buffer.from('M'),
    field(fields.message),
  ];
  if (fields.detail) parts.push(Buffer.from('D'), field(fields.detail));
  if (fields.hint) parts.push(Buffer.from('H'), field(fields.hint));
  parts.push(Buffer.from([0]));
  return frameMessage(type, Buffer.concat(parts));
}

export function authenticationOk(): Buffer {
  return frameMessage('R', int32(AUTH.OK));
}

export function authenticationCleartextPassword(): Buffer {
  return frameMessage('R', int32(AUTH.CLEARTEXT_PASSWORD));
}

/** AuthenticationSASL: the mechanisms, each NUL-terminated, then an empty one. */
export function authenticationSASL(mechanisms: readonly string[]): Buffer {
  return frameMessage('R', Buffer.concat([int32(AUTH.SASL), ...mechanisms.map(cstring), Buffer.from([0])]));
}

export function authenticationSASLContinue(data: string): Buffer {
  return frameMessage('R', Buffer.concat([int32(AUTH.SASL_CONTINUE), Buffer.from(data, 'utf8')]));
}

export function authenticationSASLFinal(data: string): Buffer {
  return frameMessage('R', Buffer.concat([int32(AUTH.SASL_FINAL), Buffer.from(data, 'utf8')]));
}

/** NegotiateProtocolVersion ('v'): the newest minor version we speak, and the
 * `_pq_.` options we did not recognise. */
export function negotiateProtocolVersion(newestMinor: number, unrecognized: readonly string[]): Buffer {
  return frameMessage('v', Buffer.concat([int32(newestMinor), int32(unrecognized.length), ...unrecognized.map(cstring)]));
}

/** ParameterStatus ('S'): a run-time parameter's name and value. */
export function parameterStatus(name: string, value: string): Buffer {
  return frameMessage('S', Buffer.concat([cstring(name), cstring(value)]));
}

/** BackendKeyData ('K'): what the client presents to cancel a query. */
export function backendKeyData(processId: number, secretKey: Buffer): Buffer {
  return frameMessage('K', Buffer.concat([int32(processId), secretKey]));
}

/** ReadyForQuery ('Z') with transaction status 'I' (idle). */
export function readyForQueryIdle(): Buffer {
  return frameMessage('Z', Buffer.from('I', 'latin1'));
}

// ---- frontend messages (gateway -> backend) ----

/** Query ('Q'): a simple query. */
export function simpleQuery(sql: string): Buffer {
  return frameMessage('Q', cstring(sql));
}

/** Terminate ('X'). */
export function terminate(): Buffer {
  return frameMessage('X', Buffer.alloc(0));
}

/** SASLInitialResponse ('p'): mechanism, then the length-prefixed client-first-message. */
export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const payload = Buffer.from(data, 'utf8');
  return frameMessage('p', Buffer.concat([cstring(mechanism), int32(payload.length), payload]));
}

/** SASLResponse ('p'): the client-final-message. */
export function saslResponse(data: string): Buffer {
  return frameMessage('p', Buffer.from(data, 'utf8'));
}

// ---- parsers ----

export function readCString(body: Buffer, pos: number): [string, number] {
  const end = body.indexOf(0, pos);
  if (end < 0) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid message format: unterminated string');
  return [body.toString('utf8', pos, end), end + 1];
}

/** The body of a 'p' message sent in answer to AuthenticationSASL. */
export function parseSASLInitialResponse(body: Buffer): { mechanism: string; data: string } {
  const [mechanism, pos] = readCString(body, 0);
  if (body.length < pos + 4) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid SASLInitialResponse message');
  const len = body.readInt32BE(pos);
  if (len < 0 || pos + 4 + len !== body.length) {
    throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid SASLInitialResponse message: length mismatch');
  }
  return { mechanism, data: body.toString('utf8', pos + 4) };
}

/** The body of a 'p' message sent in answer to AuthenticationCleartextPassword. */
export function parsePasswordMessage(body: Buffer): string {
  const [password, pos] = readCString(body, 0);
  if (pos !== body.length) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid password message: trailing bytes');
  return password;
}

/** An 'R' message from the backend: the code and what follows it. */
export function parseAuthentication(body: Buffer): { code: number; data: Buffer } {
  if (body.length < 4) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid authentication message from server');
  return { code: body.readInt32BE(0), data: body.subarray(4) };
}

/** The mechanisms listed in an AuthenticationSASL body (after the code). */
export function parseSASLMechanisms(data: Buffer): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos < data.length && data[pos] !== 0) {
    const [name, next] = readCString(data, pos);
    out.push(name);
    pos = next;
  }
  return out;
}

/** Fields of an ErrorResponse or NoticeResponse, keyed by their one-letter codes. */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const code = String.fromCharCode(body[pos]!);
    const [value, next] = readCString(body, pos + 1);
    fields.set(code, value);
    pos = next;
  }
  return fields;
}

/** BackendKeyData ('K'): process id and secret key. */
export function parseBackendKeyData(body: Buffer): { processId: number; secretKey: Buffer } {
  if (body.length < 8) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid BackendKeyData message');
  return { processId: body.readInt32BE(0), secretKey: Buffer.from(body.subarray(4)) };
}

/**
 * Collects typed messages from a byte stream that may split or join them anywhere.
 * Used only during sign-in, where messages are few and small.
 */
export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** The next complete message, or undefined until more bytes arrive. */
  next(): Message | undefined {
    if (this.buf.length < 5) return undefined;
    const len = this.buf.readInt32BE(1);
    if (len < 4) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid message length');
    if (len > this.maxMessageBytes) {
      throw new PgwardenError('PROTOCOL_VIOLATION', `message too long: ${len} bytes, at most ${this.maxMessageBytes} are allowed here`);
    }
    if (this.buf.length < 1 + len) return undefined;
    const type = String.fromCharCode(this.buf[0]!);
    const body = this.buf.subarray(5, 1 + len);
    this.buf = this.buf.subarray(1 + len);
    return { type, body };
  }

  /** Bytes received after the last complete message (handed on when sign-in ends). */
  takeRest(): Buffer {
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }
}
