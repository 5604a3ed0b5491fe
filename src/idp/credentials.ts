// Passwords and client secrets as the directory stores them: never in clear.
// User passwords are low-entropy, so they get a memory-hard hash (scrypt, RFC 7914);
// client secrets are 34 random characters, for which a salted SHA-256 is enough and keeps
// client_credentials cheap. Both are compared in constant time.
import type { SignInThrottle } from '../util/throttle.js';
import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgwardenError } from '../util/errors.js';

/** scrypt cost: N=2^15, r=8, p=1 takes 32 MiB and tens of milliseconds per sign-in. */
const SCRYPT_N = 32_768;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SCRYPT_KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Entra's password rule: 8 to 256 characters. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
/** Random characters after the hint and `8Q~`, as in Entra's 40-character secrets. */
const SECRET_RANDOM_CHARS = 34;
const SECRET_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~-';

export function newObjectId(): string {
  return randomUUID();
}

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, SCRYPT_KEY_BYTES, options, (e, key) => (e ? reject(e) : resolve(key))));
}

export function checkPasswordRule(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new PgwardenError('INVALID_INPUT', `a password has ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`);
  }
}

/** `scrypt$N$r$p$salt$key`, base64url parts. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P);
  return ['scrypt', SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A hash of no password, checked when the user does not exist, so that an unknown user
 * costs the same time as a wrong password. */
let dummyHash: Promise<string> | undefined;

/** Makes the dummy hash now, so that the first unknown user does not pay for it (and
 * stand out by taking twice as long). */
export async function prepareUnknownUserCheck(): Promise<void> {
  await (dummyHash ??= hashPassword(randomBytes(18).toString('base64url')));
}

/** Checks a password against a stored hash, or against a dummy one when `hash` is
 * undefined (unknown user): same work either way, and always false for the dummy. */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  if (hash === undefined) await prepareUnknownUserCheck();
  const stored = hash ?? (await dummyHash!);
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await scryptAsync(password, salt, n, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected) && hash !== undefined;
}

/** A client secret shaped like Entra's: `abc8Q~` and 34 random characters. */
export function newClientSecret(): string {
  const chars = (count: number, alphabet: string): string => {
    // Rejection sampling keeps every character equally likely.
    let out = '';
    while (out.length < count) {
      for (const b of randomBytes(count * 2)) {
        if (b < Math.floor(256 / alphabet.length) * alphabet.length && out.length < count) out += alphabet[b % alphabet.length];
      }
    }
    return out;
  };
  const letters = SECRET_ALPHABET.slice(0, 62);
  return `${chars(3, letters)}8Q~${chars(SECRET_RANDOM_CHARS, SECRET_ALPHABET)}`;
}

/** `sha256$salt$digest`, base64url parts. */
export function hashClientSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES);
  return ['sha256', salt.toString('base64url'), digest(salt, secret).toString('base64url')].join('$');
}

export function verifyClientSecret(secret: string, hash: string): boolean {
  const parts = hash.split('$');
  if (parts.length !== 3 || parts[0] !== 'sha256') return false;
  const expected = Buffer.from(parts[2]!, 'base64url');
  const actual = digest(Buffer.from(parts[1]!, 'base64url'), secret);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function digest(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}

export type PasswordCheck = { ok: true } | { ok: false; throttled: false } | { ok: false; throttled: true; retryAfterMs: number };

/**
 * A user's password at one of the provider's doors (token endpoint, sign-in page, device
 * page), throttled as the gateway throttles sign-ins: after a few failures for one user
 * name from one address, that name's attempts from there are refused outright for a time
 * that doubles; after many failures from one address (any names), the answers to its
 * failures wait, while a right password is never refused or delayed because of other
 * names' failures. Unknown users count like known ones.
 */
export async function checkUserPassword(
  throttle: SignInThrottle,
  address: string,
  username: string,
  password: string,
  hash: string | undefined,
): Promise<PasswordCheck> {
  const key = username.toLowerCase();
  const verdict = throttle.check(address, key);
  if (verdict.blocked) return { ok: false, throttled: true, retryAfterMs: verdict.retryAfterMs };
  const ok = (await verifyPassword(password, hash)) && hash !== undefined;
  if (ok) {
    throttle.success(address, key);
    return { ok: true };
  }
  const delayMs = throttle.failure(address, key);
  if (delayMs > 0) await sleep(delayMs);
  return { ok: false, throttled: false };
}
