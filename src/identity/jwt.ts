// What both token verifiers share (verify-token.ts for Microsoft Entra, oidc-verifier.ts
// for other OpenID Connect providers): the shape check and unverified decoding that come
// before any key is fetched, and the cache of tokens already verified.
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { PgwardenError, type ErrorCode } from '../util/errors.js';

/** A JWT is three base64url parts; Entra's are 1-4 KB. Bigger strings are not tokens. */
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;

export function refuse(code: ErrorCode, message: string, cause?: unknown): PgwardenError {
  return new PgwardenError(code, message, cause === undefined ? undefined : { cause });
}

/** The header and claims of `token`, not yet verified; TOKEN_MALFORMED with `notAToken` when it is no JWT. */
export function decodeUnverified(token: string, notAToken: string): { header: ProtectedHeaderParameters; claims: JWTPayload } {
  if (!JWT_SHAPE.test(token)) throw refuse('TOKEN_MALFORMED', notAToken);
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch {
    throw refuse('TOKEN_MALFORMED', notAToken);
  }
}

/** Verified tokens kept, by the token itself, until they expire: clients reuse a token
 * for each connection of its lifetime (up to 90 minutes), and a cached answer saves the
 * parsing and the signature check. Bounded: cleared when full. */
const MAX_CACHED_TOKENS = 10_000;

export class VerifiedTokens<T extends { readonly expiresAt: number }> {
  private readonly byKey = new Map<string, T>();

  /** The verified token under `key` while it has not expired (`exp` plus `skewSeconds`). */
  get(key: string, skewSeconds: number): T | undefined {
    const cached = this.byKey.get(key);
    if (!cached) return undefined;
    // exp is checked again: the cache never outlives the token (nor its skew).
    if ((cached.expiresAt + skewSeconds) * 1000 > Date.now()) return cached;
    this.byKey.delete(key);
    return undefined;
  }

  set(key: string, verified: T): void {
    if (this.byKey.size >= MAX_CACHED_TOKENS) this.byKey.clear();
    this.byKey.set(key, verified);
  }

  /** Everything is checked again at its next use (a reload changed what is accepted). */
  clear(): void {
    this.byKey.clear();
  }
}
