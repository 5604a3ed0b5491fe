// SCRAM-SHA-256(-PLUS) for every role that is not an Entra principal, known or not: an
// unknown role gets a mock secret and fails exactly as a wrong password does.
// https://www.postgresql.org/docs/current/sasl-authentication.html
import {
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  parseSASLInitialResponse,
} from '../../protocol/messages.js';
import type { RoleLookup } from '../../catalog/role-catalog.js';
import { mockScramSecret, type ScramSecret } from '../../scram/primitives.js';
import { ScramServerExchange, scramMechanisms } from '../../scram/server.js';
import type { GatewayContext } from '../context.js';
import type { ClientTransport } from '../client-transport.js';
import { SignInRejected, type ClientProof, type SignInMethod } from './method.js';

export function scramSignIn(ctx: GatewayContext, role: string, lookup: Exclude<RoleLookup, { kind: 'entra' }>): SignInMethod {
  return {
    name: 'scram',
    async prove(io: ClientTransport): Promise<ClientProof> {
      const secret: ScramSecret = lookup.kind === 'scram' ? lookup.secret : mockScramSecret(role, ctx.mockKey);
      const endPoint = io.tls ? io.endPointHash : undefined;
      const exchange = new ScramServerExchange(secret, endPoint);
      io.socket.write(authenticationSASL(scramMechanisms(endPoint !== undefined)));
      const { mechanism, data } = parseSASLInitialResponse(await io.readPasswordMessage('SASL response'));
      io.socket.write(authenticationSASLContinue(exchange.start(mechanism, data)));
      const result = exchange.finish((await io.readPasswordMessage('SASL response')).toString('utf8'));
      if (!result.ok || lookup.kind !== 'scram') {
        ctx.roles.forget(role);
        throw new SignInRejected(lookup.kind === 'none' ? lookup.reason : 'wrong-password');
      }
      const { clientKey, serverFinal } = result;
      return {
        finalMessages: Buffer.concat([authenticationSASLFinal(serverFinal), authenticationOk()]),
        // The same secret signs in to PostgreSQL: same salt and iterations, so the
        // ClientKey recovered from the client's proof is all it takes.
        keysFor: (s) => (s.iterations === secret.iterations && s.salt.equals(secret.salt) ? { clientKey, serverKey: secret.serverKey } : undefined),
      };
    },
  };
}
