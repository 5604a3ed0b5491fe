// The text messages of a SCRAM exchange (RFC 5802 section 7), as PostgreSQL uses them:
// the user name in client-first is ignored (the startup packet names the role), and an
// authorization identity is refused.
// https://www.postgresql.org/docs/current/sasl-authentication.html
import { PgwardenError } from '../util/errors.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
export const TLS_SERVER_END_POINT = 'tls-server-end-point';

/** 'n': no channel binding; 'y': client could bind but thinks the server cannot;
 * 'p': bound to the named channel. */
export type Gs2Flag = { flag: 'n' } | { flag: 'y' } | { flag: 'p'; channel: string };

export interface ClientFirst {
  gs2: Gs2Flag;
  /** gs2-header as sent, e.g. "p=tls-server-end-point,," (needed to check c=). */
  gs2Header: string;
  clientNonce: string;
  /** client-first-message-bare, part of AuthMessage. */
  bare: string;
}

export interface ClientFinal {
  /** The decoded c= attribute: gs2-header followed by channel-binding data. */
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
  /** client-final-message-without-proof, part of AuthMessage. */
  withoutProof: string;
}

export interface ServerFirst {
  nonce: string;
  salt: Buffer;
  iterations: number;
}

function malformed(detail: string): PgwardenError {
  return new PgwardenError('PROTOCOL_VIOLATION', 'malformed SCRAM message', { detail });
}

/** printable = %x21-2B / %x2D-7E (printable ASCII except ","). */
const NONCE_RE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(value: string, what: string): Buffer {
  if (!BASE64_RE.test(value)) throw malformed(`${what} is not valid base64`);
  return Buffer.from(value, 'base64');
}

/** Splits "k=v,k=v" into ordered attributes; values may contain '=' but not ','. */
function attributes(text: string): Array<[string, string]> {
  return text.split(',').map((part) => {
    if (part.length < 2 || part[1] !== '=' || !/^[A-Za-z]$/.test(part[0]!)) throw malformed(`unexpected attribute "${part.slice(0, 16)}"`);
    return [part[0]!, part.slice(2)];
  });
}

export function parseClientFirst(text: string): ClientFirst {
  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  const first = text.indexOf(',');
  const second = first < 0 ? -1 : text.indexOf(',', first + 1);
  if (first < 0 || second < 0) throw malformed('client-first-message lacks a GS2 header');
  const flagText = text.slice(0, first);
  let gs2: Gs2Flag;
  if (flagText === 'n' || flagText === 'y') gs2 = { flag: flagText };
  else if (flagText.startsWith('p=') && flagText.length > 2) gs2 = { flag: 'p', channel: flagText.slice(2) };
  else throw malformed('unexpected channel-binding flag');
  if (second !== first + 1) {
    throw new PgwardenError('FEATURE_NOT_SUPPORTED', 'client uses authorization identity, but it is not supported');
  }
  const gs2Header = text.slice(0, second + 1);
  const bare = text.slice(second + 1);
  const attrs = attributes(bare);
  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  if (attrs[0]?.[0] === 'm') throw malformed('mandatory SCRAM extensions are not supported');
  if (attrs[0]?.[0] !== 'n') throw malformed('expected a user name attribute');
  if (attrs[1]?.[0] !== 'r') throw malformed('expected a nonce attribute');
  const clientNonce = attrs[1][1];
  if (!NONCE_RE.test(clientNonce)) throw malformed('the client nonce has characters that are not allowed');
  return { gs2, gs2Header, clientNonce, bare };
}

export function formatServerFirst(s: ServerFirst): string {
  return `r=${s.nonce},s=${s.salt.toString('base64')},i=${s.iterations}`;
}

export function parseServerFirst(text: string): ServerFirst {
  const attrs = attributes(text);
  if (attrs[0]?.[0] === 'm') throw malformed('mandatory SCRAM extensions are not supported');
  if (attrs[0]?.[0] !== 'r' || attrs[1]?.[0] !== 's' || attrs[2]?.[0] !== 'i') throw malformed('unexpected server-first-message');
  const iterations = Number(attrs[2][1]);
  if (!Number.isInteger(iterations) || iterations < 1) throw malformed('invalid iteration count');
  return { nonce: attrs[0][1], salt: decodeBase64(attrs[1][1], 'salt'), iterations };
}

export function parseClientFinal(text: string): ClientFinal {
  const proofAt = text.lastIndexOf(',p=');
  if (proofAt < 0) throw malformed('client-final-message lacks a proof');
  const withoutProof = text.slice(0, proofAt);
  const attrs = attributes(withoutProof);
  if (attrs[0]?.[0] !== 'c') throw malformed('expected channel-binding attribute');
  if (attrs[1]?.[0] !== 'r') throw malformed('expected nonce attribute');
  const proof = decodeBase64(text.slice(proofAt + 3), 'proof');
  if (proof.length !== 32) throw malformed('proof has the wrong length');
  return { channelBinding: decodeBase64(attrs[0][1], 'channel binding'), nonce: attrs[1][1], proof, withoutProof };
}

export function formatClientFinal(channelBinding: Buffer, nonce: string, proof: Buffer): string {
  return `c=${channelBinding.toString('base64')},r=${nonce},p=${proof.toString('base64')}`;
}

/** server-final-message: "v=<ServerSignature>" or "e=<error>". */
export function parseServerFinal(text: string): { verifier: Buffer } | { error: string } {
  if (text.startsWith('e=')) return { error: text.slice(2) };
  if (!text.startsWith('v=')) throw malformed('unexpected server-final-message');
  return { verifier: decodeBase64(text.slice(2).split(',')[0]!, 'server signature') };
}
