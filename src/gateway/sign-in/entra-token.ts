// A Microsoft Entra principal signs in with an access token in the password field, as in
// the managed service: asked for as a cleartext password, only ever inside TLS, verified
// (signature, issuer, audience, lifetime) and matched to the principal; PostgreSQL is
// then signed in to with the role's derived password. PostgreSQL 18's OAUTHBEARER
// (oauth-bearer.ts) carries the token differently and checks it here, the same way.
import { authenticationCleartextPassword, authenticationOk, parsePasswordMessage } from '../../protocol/messages.js';
import type { EntraPrincipal } from '../../catalog/principals.js';
import { matchOidcPrincipal, matchPrincipalAsking } from '../../identity/match-principal.js';
import { PgwardenError, isPgwardenError } from '../../util/errors.js';
import type { EntraSignIn } from '../context.js';
import type { ClientTransport } from '../client-transport.js';
import { SignInRejected, type ClientProof, type SignInMethod } from './method.js';

/** Three base64url parts, the first one a JSON header: something meant as a token. */
function looksLikeJwt(s: string): boolean {
  return /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);
}

/** A token travels only inside TLS. */
export function requireTls(io: ClientTransport): void {
  if (!io.tls) {
    throw new PgwardenError('AUTH_METHOD_DISABLED', 'Microsoft Entra authentication requires an encrypted connection', {
      detail: 'Use sslmode=require or stronger.',
    });
  }
}

/**
 * Verifies `token` and matches it to `principal`: the proof of both ways a token
 * arrives. Wrong tokens throw SignInRejected with the DETAIL their holder gets (none for
 * what is not even shaped like a token: it answers as a wrong password does, so that the
 * answer does not tell who is an Entra principal); anything else throws as it came.
 */
export async function proveToken(entra: EntraSignIn | undefined, principal: EntraPrincipal, token: string): Promise<ClientProof> {
  if (!entra) throw new SignInRejected('entra-not-configured');
  let reuseScope: string | undefined;
  let expiresAtMs: number;
  try {
    if (principal.issuer !== undefined) {
      // Another OpenID Connect issuer's principal: only that issuer's tokens are tried.
      if (!entra.oidc) throw new SignInRejected('oidc-not-configured');
      const verified = await entra.oidc.verify(token, principal.issuer);
      expiresAtMs = verified.expiresAt * 1000;
      matchOidcPrincipal(verified, principal);
      if (principal.type === 'group') reuseScope = `oidc-subject\0${verified.issuer}\0${verified.subject}`;
    } else {
      if (!entra.verifier) throw new SignInRejected('entra-not-configured');
      const verified = await entra.verifier.verify(token);
      expiresAtMs = verified.expiresAt * 1000;
      await matchPrincipalAsking(verified, principal, entra.membership);
      // Members of a group sign in as one role: a kept session goes only to the same
      // member again (session state DISCARD ALL does not reach stays with one person).
      if (principal.type === 'group') reuseScope = `entra-object-id\0${verified.objectId.toLowerCase()}`;
    }
  } catch (e) {
    if (isPgwardenError(e) && e.kind.sqlstate === '28P01') throw new SignInRejected(e.code, looksLikeJwt(token) ? e.message : undefined);
    throw e;
  }
  return {
    finalMessages: authenticationOk(),
    keysFor: entra.derivedKeys.keysFor(principal.roleName, principal.objectId),
    reuseScope,
    expiresAtMs,
  };
}

export function entraTokenSignIn(entra: EntraSignIn | undefined, principal: EntraPrincipal): SignInMethod {
  return {
    name: 'entra',
    async prove(io: ClientTransport): Promise<ClientProof> {
      if (!entra) throw new SignInRejected('entra-not-configured');
      requireTls(io);
      io.socket.write(authenticationCleartextPassword());
      return proveToken(entra, principal, parsePasswordMessage(await io.readPasswordMessage('password response')));
    },
  };
}
