// What both token verifiers share (verify-token.ts for Microsoft Entra, oidc-verifier.ts
// for other OpenID Connect providers): the shape check and unverified decoding that come
// before any key is fetched, and the cache of tokens already verified.
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
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

/** What a refusal says that depends on the provider (the rest is the same for all). */
export interface RefusalWords {
  /** TOKEN_AUDIENCE: `The access token does not have a valid audience claim. Please acquire a new token for ${audience}.` */
  audience: string;
  /** TOKEN_ISSUER, whole. */
  issuer: string;
  /** TOKEN_KEY_UNKNOWN: `The access token is signed with a key that ${keyOwner} does not publish.` */
  keyOwner: string;
  /** TOKEN_ALGORITHM, whole. */
  algorithm: string;
  /** TOKEN_MALFORMED, whole. */
  notAToken: string;
}

/** A refusal its holder may read, for an error of jose's jwtVerify (or one of ours, as it is). */
export function explainJoseError(e: unknown, words: RefusalWords): PgwardenError {
  if (e instanceof PgwardenError) return e;
  if (e instanceof joseErrors.JWTExpired) return refuse('TOKEN_EXPIRED', 'The access token has expired. Please acquire a new token.');
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return refuse('TOKEN_NOT_YET_VALID', 'The access token is not yet valid (nbf is in the future). Check the clock of the machine that issued it.');
      case 'aud':
        return refuse('TOKEN_AUDIENCE', `The access token does not have a valid audience claim. Please acquire a new token for ${words.audience}.`);
      case 'iss':
        return refuse('TOKEN_ISSUER', words.issuer);
      default:
        return refuse('TOKEN_CLAIMS', `The access token lacks or has an invalid "${e.claim}" claim.`);
    }
  }
  if (e instanceof joseErrors.JWKSNoMatchingKey)
    return refuse('TOKEN_KEY_UNKNOWN', `The access token is signed with a key that ${words.keyOwner} does not publish.`);
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return refuse('TOKEN_SIGNATURE', 'The access token signature is invalid.');
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid) {
    return refuse('IDENTITY_PROVIDER_UNAVAILABLE', 'The signing keys of the identity provider cannot be fetched right now. Try again later.', e);
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed || e instanceof joseErrors.JOSENotSupported) return refuse('TOKEN_ALGORITHM', words.algorithm);
  if (e instanceof joseErrors.JWTInvalid || e instanceof joseErrors.JWSInvalid) return refuse('TOKEN_MALFORMED', words.notAToken);
  return refuse('IDENTITY_PROVIDER_UNAVAILABLE', 'The access token could not be checked: the identity provider cannot be reached.', e);
}
