// Codes of the PostgreSQL frontend/backend protocol, version 3.
// https://www.postgresql.org/docs/current/protocol-message-formats.html

/** Request codes carried in the startup packet's second int32. */
export const SSL_REQUEST_CODE = 80877103; // (1234 << 16) | 5679
export const GSSENC_REQUEST_CODE = 80877104; // (1234 << 16) | 5680
export const CANCEL_REQUEST_CODE = 80877102; // (1234 << 16) | 5678
/** Protocol 3.0: major 3 in the high 16 bits, minor 0. */
export const PROTOCOL_3_0 = 196608;

/** A startup packet larger than this is refused (PostgreSQL's own MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_BYTES = 10_000;
/** Sign-in messages (password, token, SASL) larger than this are refused. A token from
 * Entra ID is 1.5 to 4 KB; 16 KB leaves room for large `groups` claims. */
export const MAX_AUTH_MESSAGE_BYTES = 16 * 1024;

/** Authentication request codes in the 'R' message. */
export const AUTH = {
  OK: 0,
  CLEARTEXT_PASSWORD: 3,
  MD5_PASSWORD: 5,
  SASL: 10,
  SASL_CONTINUE: 11,
  SASL_FINAL: 12,
} as const;

/** The first byte of a TLS handshake record: a client that starts with it is doing
 * direct TLS (PostgreSQL 17's sslnegotiation=direct) instead of sending SSLRequest. */
export const TLS_HANDSHAKE_BYTE = 0x16;
/** The ALPN protocol name that direct TLS must negotiate. */
export const ALPN_POSTGRESQL = 'postgresql';
