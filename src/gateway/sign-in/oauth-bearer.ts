// PostgreSQL 18's own OAuth sign-in for Microsoft Entra principals: SASL OAUTHBEARER
// (RFC 7628), offered on the OAuth port only (see docs/entra-id.md for why a port of its
// own). A client without a token sends an empty `auth` and gets the issuer's discovery
// document and the scope; libpq 18 then runs the device flow and connects again with
// `auth=Bearer <token>`, which is checked exactly as a token in the password field is
// (entra-token.ts): the same verifier, the same answers.
// https://www.postgresql.org/docs/18/sasl-authentication.html#SASL-OAUTHBEARER
import { authenticationSASL, authenticationSASLContinue, parseSASLInitialResponse } from '../../protocol/messages.js';
import { OAUTHBEARER, bearerToken, checkErrorAcknowledgement, errorChallenge, parseClientInitialResponse } from '../../protocol/oauthbearer.js';
import type { EntraPrincipal } from '../../catalog/principals.js';
import { PgwardenError } from '../../util/errors.js';
import type { EntraSignIn, OAuthChallenge } from '../context.js';
import type { ClientTransport } from '../client-transport.js';
import { proveToken, requireTls } from './entra-token.js';
import { SignInRejected, type ClientProof, type SignInMethod } from './method.js';

export function oauthBearerSignIn(entra: EntraSignIn | undefined, principal: EntraPrincipal, challenge: OAuthChallenge): SignInMethod {
  return {
    name: 'oauthbearer',
    async prove(io: ClientTransport): Promise<ClientProof> {
      if (!entra) throw new SignInRejected('entra-not-configured');
      requireTls(io);
      io.socket.write(authenticationSASL([OAUTHBEARER]));
      const { mechanism, data } = parseSASLInitialResponse(await io.readPasswordMessage('SASL response'));
      if (mechanism !== OAUTHBEARER) throw new PgwardenError('PROTOCOL_VIOLATION', 'client selected an invalid SASL authentication mechanism');
      const auth = parseClientInitialResponse(data);
      // The error answer carries where to get a token; the client acknowledges it with
      // one kvsep, and only then is the sign-in refused (RFC 7628 3.2.2, 3.2.3).
      const answerWithChallenge = async (): Promise<void> => {
        io.socket.write(authenticationSASLContinue(errorChallenge(challenge.discoveryUrl, challenge.scope)));
        checkErrorAcknowledgement((await io.readPasswordMessage('SASL response')).toString('utf8'));
      };
      if (auth === '') {
        // Discovery: not a failed sign-in (no throttle, no audit), as in PostgreSQL.
        await answerWithChallenge();
        throw new PgwardenError('DISCOVERY_REQUEST', `OAuth bearer authentication failed for user "${principal.roleName}"`, {
          detail: 'The client asked where to get a token; it connects again with one.',
        });
      }
      try {
        const token = bearerToken(auth);
        // Not Bearer credentials: answered as a password that is not a token is.
        if (token === undefined) throw new SignInRejected('TOKEN_MALFORMED');
        return await proveToken(entra, principal, token);
      } catch (e) {
        // A client that leaves instead of acknowledging is still refused (and counted).
        if (e instanceof SignInRejected) await answerWithChallenge().catch(() => undefined);
        throw e;
      }
    },
  };
}
