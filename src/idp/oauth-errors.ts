// The provider's refusals, worded and numbered like Microsoft Entra ID's, so that clients
// (MSAL, the Azure CLI, scripts that grep AADSTS codes) react as they do to Entra.
// Each is a PgwardenError whose code names the OAuth `error` (RFC 6749 section 5.2,
// RFC 8628 section 3.5) and whose message starts with the AADSTS number.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
import { randomUUID } from 'node:crypto';
import { PgwardenError, type ErrorCode } from '../util/errors.js';

type OAuthCode = Extract<ErrorCode, `OAUTH_${string}`>;

function aadsts(code: OAuthCode, number: number, text: string): PgwardenError {
  return new PgwardenError(code, `AADSTS${number}: ${text}`);
}

export const refuse = {
  missingParameter: (name: string) => aadsts('OAUTH_INVALID_REQUEST', 900144, `The request body must contain the following parameter: '${name}'.`),
  duplicateParameter: (name: string) =>
    aadsts('OAUTH_INVALID_REQUEST', 90015, `Requested query string is too long or has the parameter '${name}' more than once.`),
  malformed: (what: string) => aadsts('OAUTH_INVALID_REQUEST', 9002313, `Invalid request. Request is malformed or invalid: ${what}`),
  tenantNotFound: (tenant: string) =>
    aadsts(
      'OAUTH_INVALID_REQUEST',
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    ),
  tenantRequired: () =>
    aadsts('OAUTH_INVALID_REQUEST', 50059, 'No tenant-identifying information found in either the request or implied by any provided credentials.'),
  unsupportedGrantType: (grant: string) => aadsts('OAUTH_UNSUPPORTED_GRANT_TYPE', 70003, `The app requested an unsupported grant type '${grant}'.`),
  unknownClient: (clientId: string, tenant: string) =>
    aadsts(
      'OAUTH_UNAUTHORIZED_CLIENT',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'. ` +
        'This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. ' +
        'You may have sent your authentication request to the wrong tenant.',
    ),
  secretRequired: () =>
    aadsts('OAUTH_INVALID_CLIENT', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
  publicClientWithSecret: () =>
    aadsts('OAUTH_INVALID_CLIENT', 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."),
  wrongSecret: (appId: string) =>
    aadsts(
      'OAUTH_INVALID_CLIENT',
      7000215,
      'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, ' +
        `not the client secret ID, for a secret added to app '${appId}'.`,
    ),
  expiredSecret: (appId: string) =>
    aadsts(
      'OAUTH_INVALID_CLIENT',
      7000222,
      `The provided client secret keys for app '${appId}' are expired. Visit the Azure portal to create new keys for your app.`,
    ),
  twoClientAuthentications: () =>
    aadsts(
      'OAUTH_INVALID_REQUEST',
      9002313,
      'Invalid request. Request is malformed or invalid: client credentials were sent both in the body and in the Authorization header.',
    ),
  wrongCredentials: () => aadsts('OAUTH_INVALID_GRANT', 50126, 'Error validating credentials due to invalid username or password.'),
  /** @param retryAfter "1 second", "5 seconds" (retryAfterText) */
  locked: (retryAfter: string) =>
    aadsts(
      'OAUTH_INVALID_GRANT',
      50053,
      `The account is locked because of too many sign-in attempts with a wrong user name or password. Try again in ${retryAfter}.`,
    ),
  unknownResource: (resource: string, tenantName: string) =>
    aadsts(
      'OAUTH_INVALID_RESOURCE',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenantName}. ` +
        'This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. ' +
        'You might have sent your authentication request to the wrong tenant.',
    ),
  invalidScope: (scope: string) =>
    aadsts('OAUTH_INVALID_SCOPE', 70011, `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`),
  scopeNeedsDefault: (scope: string) =>
    aadsts(
      'OAUTH_INVALID_SCOPE',
      1002012,
      `The provided value for scope ${scope} is not valid. ` +
        'Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
    ),
  manyResources: (scope: string) =>
    aadsts(
      'OAUTH_INVALID_SCOPE',
      28000,
      `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
    ),
  badGrant: () => aadsts('OAUTH_INVALID_GRANT', 70000, 'Provided grant is invalid or malformed.'),
  revokedGrant: () =>
    aadsts(
      'OAUTH_INVALID_GRANT',
      50173,
      'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
    ),
  expiredGrant: () =>
    aadsts(
      'OAUTH_INVALID_GRANT',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. ' +
        'Send a new interactive authorization request for this user and resource.',
    ),
  codeRedeemed: () =>
    aadsts(
      'OAUTH_INVALID_GRANT',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    ),
  clientMismatch: () => aadsts('OAUTH_INVALID_GRANT', 70000, 'Provided grant is invalid or malformed: it was issued to another client.'),
  redirectMismatch: (given: string) =>
    aadsts('OAUTH_INVALID_GRANT', 500112, `The reply address '${given}' does not match the reply address provided when requesting Authorization code.`),
  verifierMismatch: () => aadsts('OAUTH_INVALID_GRANT', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.'),
  pkceRequired: () => aadsts('OAUTH_INVALID_REQUEST', 9002325, 'Proof Key for Code Exchange is required for cross-origin authorization code redemption.'),
  pkceMethod: () => aadsts('OAUTH_INVALID_REQUEST', 50148, "The code_challenge_method must be 'S256'."),
  redirectNotRegistered: (uri: string, appId: string) =>
    aadsts(
      'OAUTH_INVALID_REQUEST',
      50011,
      `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured for the application '${appId}'.`,
    ),
  responseType: (type: string) => aadsts('OAUTH_UNSUPPORTED_RESPONSE_TYPE', 900141, `The response_type '${type}' is not supported; use 'code'.`),
  pending: () => aadsts('OAUTH_AUTHORIZATION_PENDING', 70016, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'),
  slowDown: () => aadsts('OAUTH_SLOW_DOWN', 70016, 'OAuth 2.0 device flow error. Polling too often: wait the interval between requests.'),
  deviceCodeExpired: () => aadsts('OAUTH_EXPIRED_TOKEN', 70019, 'Verification code expired.'),
  declined: () => aadsts('OAUTH_AUTHORIZATION_DECLINED', 70000, 'The user declined the sign-in.'),
};

/** The OAuth `error` value of a refusal: the code without OAUTH_, lower-cased. */
export function oauthErrorName(e: PgwardenError): string {
  return e.code.slice('OAUTH_'.length).toLowerCase();
}

export function isRefusal(e: unknown): e is PgwardenError {
  return e instanceof PgwardenError && e.code.startsWith('OAUTH_');
}

/** Entra's `timestamp` format: `2024-05-01 12:34:56Z`. */
function entraTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export interface ErrorAnswer {
  status: number;
  body: {
    error: string;
    error_description: string;
    error_codes: number[];
    timestamp: string;
    trace_id: string;
    correlation_id: string;
  };
}

/** An error response like Entra's. Anything but a refusal is the server's fault and is
 * answered 500 with a generic text (the log has the details). */
export function errorAnswer(e: unknown, correlationId: string | undefined, nowMs: number): ErrorAnswer {
  const refusal = isRefusal(e) ? e : undefined;
  const text = refusal?.message ?? 'AADSTS90000: The server could not process the request.';
  const traceId = randomUUID();
  const correlation = correlationId && /^[0-9a-fA-F-]{36}$/.test(correlationId) ? correlationId.toLowerCase() : randomUUID();
  const timestamp = entraTimestamp(nowMs);
  return {
    status: refusal ? refusal.kind.http : 500,
    body: {
      error: refusal ? oauthErrorName(refusal) : 'server_error',
      error_description: `${text} Trace ID: ${traceId} Correlation ID: ${correlation} Timestamp: ${timestamp}`,
      error_codes: [Number(/^AADSTS(\d+):/.exec(text)?.[1] ?? 90000)],
      timestamp,
      trace_id: traceId,
      correlation_id: correlation,
    },
  };
}
