// The first packet a client sends: StartupMessage, SSLRequest, GSSENCRequest or
// CancelRequest. None of them has a type byte: an int32 length (including itself),
// then an int32 code or protocol version.
// https://www.postgresql.org/docs/current/protocol-message-formats.html
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, MAX_STARTUP_PACKET_BYTES, SSL_REQUEST_CODE } from './constants.js';
import { PgwardenError } from '../util/errors.js';

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | { kind: 'startup'; majorVersion: number; minorVersion: number; params: Map<string, string> };

/**
 * Returns the total length of the startup packet at the head of `buf`, or undefined
 * if fewer than 4 bytes have arrived. Throws on a length that no valid packet has.
 */
export function startupPacketLength(buf: Buffer): number | undefined {
  if (buf.length < 4) return undefined;
  const len = buf.readInt32BE(0);
  if (len < 8 || len > MAX_STARTUP_PACKET_BYTES) {
    throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid length of startup packet');
  }
  return len;
}

/** Parses one complete startup packet (exactly `startupPacketLength` bytes). */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  const code = packet.readInt32BE(4);
  if (code === SSL_REQUEST_CODE) {
    if (packet.length !== 8) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid length of SSL request');
    return { kind: 'ssl' };
  }
  if (code === GSSENC_REQUEST_CODE) {
    if (packet.length !== 8) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid length of GSSENC request');
    return { kind: 'gssenc' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    // Protocol 3.0 keys are 4 bytes; 3.2 allows up to 256. Accept both shapes.
    if (packet.length < 16 || packet.length > 12 + 256) {
      throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid length of cancel request');
    }
    return { kind: 'cancel', processId: packet.readInt32BE(8), secretKey: Buffer.from(packet.subarray(12)) };
  }
  const majorVersion = code >>> 16;
  const minorVersion = code & 0xffff;
  if (majorVersion !== 3) {
    throw new PgwardenError('FEATURE_NOT_SUPPORTED', `unsupported frontend protocol ${majorVersion}.${minorVersion}: server supports 3.0 to 3.0`);
  }
  return { kind: 'startup', majorVersion, minorVersion, params: parseStartupParams(packet.subarray(8)) };
}

/** Name/value pairs as NUL-terminated strings, closed by one more NUL. */
function parseStartupParams(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let pos = 0;
  for (;;) {
    if (pos >= body.length) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid startup packet layout: expected terminator as last byte');
    if (body[pos] === 0) {
      if (pos !== body.length - 1) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid startup packet layout: expected terminator as last byte');
      break;
    }
    const nameEnd = body.indexOf(0, pos);
    if (nameEnd < 0) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid startup packet layout: expected terminator as last byte');
    const valueEnd = body.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) throw new PgwardenError('PROTOCOL_VIOLATION', 'invalid startup packet layout: expected terminator as last byte');
    const name = body.toString('utf8', pos, nameEnd);
    const value = body.toString('utf8', nameEnd + 1, valueEnd);
    if (params.has(name)) throw new PgwardenError('PROTOCOL_VIOLATION', `duplicate startup parameter "${name}"`);
    params.set(name, value);
    pos = valueEnd + 1;
  }
  const user = params.get('user');
  if (user === undefined || user === '') {
    throw new PgwardenError('PROTOCOL_VIOLATION', 'no PostgreSQL user name specified in startup packet');
  }
  return params;
}

/** Builds a StartupMessage for protocol 3.0 (used towards the backend). */
export function buildStartupMessage(params: Iterable<[string, string]>): Buffer {
  const parts: Buffer[] = [Buffer.alloc(8)];
  for (const [name, value] of params) parts.push(Buffer.from(`${name}\0${value}\0`, 'utf8'));
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(196608, 4);
  return out;
}

/** Builds a CancelRequest (used towards the backend that owns the key). */
export function buildCancelRequest(processId: number, secretKey: Buffer): Buffer {
  const out = Buffer.alloc(12 + secretKey.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  out.writeInt32BE(processId, 8);
  secretKey.copy(out, 12);
  return out;
}
