// A Microsoft Entra principal signs in with an access token in the password field, as in
// the managed service: asked for as a cleartext password, only ever inside TLS, verified
// (signature, issuer, audience, lifetime) and matched to the principal; PostgreSQL is
// then signed in to with the role's derived password.
import { authenticationCleartextPassword, authenticationOk, parsePasswordMessage } from '../../protocol/messages.js';
import type { EntraPrincipal } from '../../catalog/principals.js';
import { matchPrincipalAsking } from '../../identity/match-principal.js';
import { PgwardenError, isPgwardenError } from '../../util/errors.js';
import type { EntraSignIn } from '../context.js';
import type { ClientTransport } from '../client-transport.js';
import { SignInRejected, type ClientProof, type SignInMethod } from './method.js';

/** Three base64url parts, the first one a JSON header: something meant as a token. */
function looksLikeJwt(s: string): boolean {
  return /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);
}

export function entraTokenSignIn(entra: EntraSignIn | undefined, principal: EntraPrincipal): SignInMethod {
  return {
    name: 'entra',
    async prove(io: ClientTransport): Promise<ClientProof> {
      if (!entra) throw new SignInRejected('entra-not-configured');
      // The token travels as a cleartext password: only ever inside TLS.
      if (!io.tls) {
        throw new PgwardenError('AUTH_METHOD_DISABLED', 'Microsoft Entra authentication requires an encrypted connection', {
          detail: 'Use sslmode=require or stronger.',
        });
      }
      io.socket.write(authenticationCleartextPassword());
      const token = parsePasswordMessage(await io.readPasswordMessage('password response'));
      let reuseScope: string | undefined;
      try {
        const verified = await entra.verifier.verify(token);
        await matchPrincipalAsking(verified, principal, entra.membership);
        // Members of a group sign in as one role: a kept session goes only to the same
        // member again (session state DISCARD ALL does not reach stays with one person).
        if (principal.type === 'group') reuseScope = `entra-object-id\0${verified.objectId.toLowerCase()}`;
      } catch (e) {
        // A DETAIL helps the holder of a token. A password that is not even shaped like
        // one gets none: it answers exactly as a wrong password for any other role does,
        // so that the answer does not tell who is an Entra principal.
        if (isPgwardenError(e) && e.kind.sqlstate === '28P01') throw new SignInRejected(e.code, looksLikeJwt(token) ? e.message : undefined);
        throw e;
      }
      return {
        finalMessages: authenticationOk(),
        keysFor: entra.derivedKeys.keysFor(principal.roleName, principal.objectId),
        reuseScope,
      };
    },
  };
}
