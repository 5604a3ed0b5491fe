// The SASL mechanism OAUTHBEARER (RFC 7628) as PostgreSQL 18 speaks it: the client's
// initial response (a GS2 header, then key=value pairs separated by 0x01, of which
// only `auth` matters), the server's error answer (a JSON object that also tells a
// client without a token where to get one), and the Bearer credentials (RFC 6750 2.1).
// https://www.postgresql.org/docs/18/sasl-authentication.html#SASL-OAUTHBEARER
// Pure: strings in, values out. Every refusal is a PROTOCOL_VIOLATION whose words never
// echo the client's bytes (they may hold a token).
import { PgwardenError } from '../util/errors.js';

export const OAUTHBEARER = 'OAUTHBEARER';
/** The separator of RFC 7628's key/value pairs; alone, it is the client's answer to an error. */
export const KVSEP = '\x01';

function malformed(detail: string): PgwardenError {
  return new PgwardenError('PROTOCOL_VIOLATION', 'malformed OAUTHBEARER message', { detail });
}

/**
 * The `auth` value of a client initial response (RFC 7628 3.1):
 *
 *     client-resp = gs2-header kvsep *kvpair kvsep
 *     gs2-header  = ("n" / "y") "," [authzid] ","     (no channel binding: "p" is refused)
 *     kvpair      = key "=" value kvsep ; key = 1*ALPHA ; value = *(VCHAR / SP / HTAB / CR / LF)
 *
 * An empty `auth` is a discovery request: the client has no token yet and asks where to
 * get one. Unknown keys are ignored, as the RFC says.
 */
export function parseClientInitialResponse(message: string): string {
  if (message.length === 0) throw malformed('The message is empty.');
  if (message.includes('\0')) throw malformed('The message contains a NUL byte.');
  const flag = message[0];
  if (flag === 'p') throw malformed('OAUTHBEARER has no channel binding, but the client message includes channel binding data.');
  if (flag !== 'n' && flag !== 'y') throw malformed('Unexpected channel-binding flag.');
  if (message[1] !== ',') throw malformed('Comma expected after the channel-binding flag.');
  if (message[2] === 'a') throw new PgwardenError('FEATURE_NOT_SUPPORTED', 'client uses authorization identity, but it is not supported');
  if (message[2] !== ',') throw malformed('Unexpected attribute in the GS2 header.');
  if (message[3] !== KVSEP) throw malformed('Key-value separator expected after the GS2 header.');
  let auth: string | undefined;
  let pos = 4;
  for (;;) {
    const end = message.indexOf(KVSEP, pos);
    if (end < 0) throw malformed('The message did not contain a final terminator.');
    if (end === pos) {
      if (end + 1 !== message.length) throw malformed('The message contains additional data after the final terminator.');
      break;
    }
    const pair = message.slice(pos, end);
    const eq = pair.indexOf('=');
    if (eq < 0) throw malformed('The message contains a key without a value.');
    const key = pair.slice(0, eq);
    if (!/^[A-Za-z]+$/.test(key)) throw malformed('The message contains an invalid key name.');
    if (!/^[\x21-\x7e \t\r\n]*$/.test(pair.slice(eq + 1))) throw malformed('The message contains an invalid value.');
    if (key === 'auth') {
      if (auth !== undefined) throw malformed('The message contains multiple auth values.');
      auth = pair.slice(eq + 1);
    }
    pos = end + 1;
  }
  if (auth === undefined) throw malformed('The message does not contain an auth value.');
  return auth;
}

/**
 * The token of `Bearer <token>` (the scheme compared case-insensitively, RFC 7628 4),
 * or undefined when the value is not Bearer credentials of RFC 6750's b64token form.
 */
export function bearerToken(auth: string): string | undefined {
  const m = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(auth);
  return m?.[1];
}

/** The server's error answer (RFC 7628 3.2.2), with what a client needs to get a token:
 * the OpenID discovery document of the issuer and the scope to ask for. */
export function errorChallenge(discoveryUrl: string, scope: string): string {
  return JSON.stringify({ status: 'invalid_token', 'openid-configuration': discoveryUrl, scope });
}

/** After an error answer the client must send exactly one kvsep (RFC 7628 3.2.3). */
export function checkErrorAcknowledgement(message: string): void {
  if (message !== KVSEP) throw malformed('The client did not send a kvsep response.');
}
