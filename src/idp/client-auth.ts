// Who is asking: the client named by `client_id`, and whether it proved itself.
// Confidential clients (service principals) authenticate with a client secret, in the body
// (client_secret_post) or in an HTTP Basic header (client_secret_basic, RFC 6749
// section 2.3.1); public clients (the Azure CLI, browser apps) must not send one.
import { verifyClientSecret } from './credentials.js';
import { findClient, type Client } from './lookups.js';
import type { DirectoryData } from './model.js';
import { refuse } from './oauth-errors.js';

export interface ClientCredentials {
  readonly clientId: string | undefined;
  readonly secret: string | undefined;
}

/** client_id and client_secret from the body or from `Authorization: Basic`, not both. */
export function clientCredentials(params: Readonly<Record<string, string>>, authorization: string | undefined): ClientCredentials {
  const basic = authorization && /^basic\s+/i.test(authorization) ? parseBasic(authorization.replace(/^basic\s+/i, '')) : undefined;
  if (basic && params.client_secret !== undefined) throw refuse.twoClientAuthentications();
  if (basic && params.client_id !== undefined && params.client_id.toLowerCase() !== basic.clientId.toLowerCase()) throw refuse.twoClientAuthentications();
  return basic ?? { clientId: params.client_id, secret: params.client_secret };
}

function parseBasic(encoded: string): { clientId: string; secret: string } {
  const text = Buffer.from(encoded.trim(), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw refuse.malformed('the Authorization header is not client_id:client_secret');
  // Both halves are form-urlencoded (RFC 6749 section 2.3.1).
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      throw refuse.malformed('the Authorization header is not form-urlencoded');
    }
  };
  return { clientId: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) };
}

export interface AuthenticatedClient {
  readonly client: Client;
  readonly clientId: string;
  /** It proved itself with a secret (appidacr "1"). */
  readonly authenticated: boolean;
}

export function authenticateClient(data: DirectoryData, creds: ClientCredentials, nowMs: number): AuthenticatedClient {
  if (!creds.clientId) throw refuse.missingParameter('client_id');
  const client = findClient(data, creds.clientId);
  if (!client) throw refuse.unknownClient(creds.clientId.slice(0, 100), data.tenant.id);
  if (client.kind === 'public') {
    if (creds.secret !== undefined) throw refuse.publicClientWithSecret();
    return { client, clientId: client.app.appId, authenticated: false };
  }
  if (creds.secret === undefined || creds.secret === '') throw refuse.secretRequired();
  const matching = client.sp.secrets.find((s) => verifyClientSecret(creds.secret!, s.hash));
  if (!matching) throw refuse.wrongSecret(client.sp.appId);
  if (Date.parse(matching.expiresAt) <= nowMs) throw refuse.expiredSecret(client.sp.appId);
  return { client, clientId: client.sp.appId, authenticated: true };
}
