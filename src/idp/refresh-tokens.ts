// Refresh tokens without server-side state: the grant (tenant, user object id, client) is
// sealed with AES-256-GCM under a key kept in keys.json (a JWE, RFC 7516, `dir`), so
// nobody can read or forge one. Revocation is by the directory: on use, the user must
// still exist with the same object id, so removing a user (or re-creating one under the
// same name) ends every session of the old one.
// https://learn.microsoft.com/entra/identity-platform/refresh-tokens
import { EncryptJWT, jwtDecrypt } from 'jose';
import { refuse } from './oauth-errors.js';

/** Entra's refresh tokens live 90 days (and each use returns a new one). */
export const REFRESH_TOKEN_LIFETIME_SECONDS = 90 * 86_400;
const TOKEN_TYPE = 'pgwarden-refresh';

export interface RefreshGrant {
  readonly tenantId: string;
  readonly objectId: string;
  readonly clientId: string;
}

export async function sealRefreshToken(grant: RefreshGrant, key: Uint8Array, nowSeconds: number): Promise<string> {
  return new EncryptJWT({ typ: TOKEN_TYPE, tid: grant.tenantId, oid: grant.objectId, cid: grant.clientId })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + REFRESH_TOKEN_LIFETIME_SECONDS)
    .encrypt(key);
}

/** The sealed grant; AADSTS70000 for anything not sealed by this provider, AADSTS70008
 * once expired. */
export async function openRefreshToken(token: string, key: Uint8Array, nowSeconds: number): Promise<RefreshGrant> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtDecrypt(token, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
      currentDate: new Date(nowSeconds * 1000),
    }));
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_JWT_EXPIRED') throw refuse.expiredGrant();
    throw refuse.badGrant();
  }
  const { typ, tid, oid, cid } = payload;
  if (typ !== TOKEN_TYPE || typeof tid !== 'string' || typeof oid !== 'string' || typeof cid !== 'string') throw refuse.badGrant();
  return { tenantId: tid, objectId: oid, clientId: cid };
}
