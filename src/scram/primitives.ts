// SCRAM-SHA-256 building blocks (RFC 5802 section 3, RFC 7677) and PostgreSQL's
// stored form of a SCRAM secret ("verifier"):
//   SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>   (base64 parts)
// https://www.postgresql.org/docs/current/catalog-pg-authid.html
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { saslPrep } from './saslprep.js';

export const SCRAM_KEY_BYTES = 32;
/** PostgreSQL's default scram_iterations. */
export const DEFAULT_ITERATIONS = 4096;
export const DEFAULT_SALT_BYTES = 16;

export interface ScramSecret {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  if (a.length !== b.length) throw new RangeError('xor of buffers of different lengths');
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Constant-time equality of two byte strings (false, not a throw, on different lengths). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2 with HMAC-SHA-256. */
export function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(saslPrep(password), 'utf8'), salt, iterations, SCRAM_KEY_BYTES, 'sha256');
}

export function clientKeyFrom(salted: Buffer): Buffer {
  return hmac(salted, 'Client Key');
}

export function serverKeyFrom(salted: Buffer): Buffer {
  return hmac(salted, 'Server Key');
}

/** Computes the secret PostgreSQL would store for `password`, with a fresh salt. */
export function makeScramSecret(password: string, options: { salt?: Buffer; iterations?: number } = {}): ScramSecret {
  const salt = options.salt ?? randomBytes(DEFAULT_SALT_BYTES);
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const salted = saltedPassword(password, salt, iterations);
  return { iterations, salt, storedKey: sha256(clientKeyFrom(salted)), serverKey: serverKeyFrom(salted) };
}

/** The text PostgreSQL accepts in `ALTER ROLE ... PASSWORD '<verifier>'` and stores as is,
 * so that no plaintext password ever reaches the server or its logs. */
export function formatScramSecret(s: ScramSecret): string {
  return `SCRAM-SHA-256$${s.iterations}:${s.salt.toString('base64')}$${s.storedKey.toString('base64')}:${s.serverKey.toString('base64')}`;
}

const VERIFIER_RE = /^SCRAM-SHA-256\$(\d{1,9}):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

/** Parses a stored verifier; undefined for anything else (MD5 hashes, plaintext, null). */
export function parseScramSecret(text: string | null | undefined): ScramSecret | undefined {
  if (!text) return undefined;
  const m = VERIFIER_RE.exec(text);
  if (!m) return undefined;
  const iterations = Number(m[1]);
  const salt = Buffer.from(m[2]!, 'base64');
  const storedKey = Buffer.from(m[3]!, 'base64');
  const serverKey = Buffer.from(m[4]!, 'base64');
  if (iterations < 1 || salt.length === 0 || storedKey.length !== SCRAM_KEY_BYTES || serverKey.length !== SCRAM_KEY_BYTES) {
    return undefined;
  }
  return { iterations, salt, storedKey, serverKey };
}

/**
 * A secret for a role that does not exist (or cannot sign in through pgwarden), so that
 * the exchange looks the same as for a real role: the salt is stable per name (a
 * prober sees the same salt twice, as for a real role) and the keys are random, so no
 * proof ever matches. The same idea as PostgreSQL's own mock_scram_secret.
 */
export function mockScramSecret(roleName: string, mockKey: Buffer): ScramSecret {
  const salt = hmac(mockKey, `salt\0${roleName}`).subarray(0, DEFAULT_SALT_BYTES);
  return { iterations: DEFAULT_ITERATIONS, salt, storedKey: randomBytes(SCRAM_KEY_BYTES), serverKey: randomBytes(SCRAM_KEY_BYTES) };
}

/** True if `password` is what `verifier` was made from (so the verifier, and its salt, can stay). */
export function verifierMatches(verifier: string | null | undefined, password: string): boolean {
  const s = parseScramSecret(verifier);
  if (!s) return false;
  return constantTimeEqual(sha256(clientKeyFrom(saltedPassword(password, s.salt, s.iterations))), s.storedKey);
}
