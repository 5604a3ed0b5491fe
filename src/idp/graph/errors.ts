// The Graph API's refusals, as PgwardenErrors whose codes map to Microsoft Graph's error
// codes, and the error body Graph sends: `{"error": {"code", "message", "innerError"}}`.
// https://learn.microsoft.com/graph/errors
import { PgwardenError, type ErrorCode } from '../../util/errors.js';

/** Our error code -> Graph's `error.code`. */
const GRAPH_CODES: Partial<Record<ErrorCode, string>> = {
  UNAUTHORIZED: 'InvalidAuthenticationToken',
  FORBIDDEN: 'Authorization_RequestDenied',
  FEATURE_NOT_SUPPORTED: 'Request_UnsupportedQuery',
  INVALID_INPUT: 'Request_BadRequest',
  NOT_FOUND: 'Request_ResourceNotFound',
  // 413: a body past the server's limit (an unparsable or empty one is INVALID_INPUT).
  PAYLOAD_TOO_LARGE: 'Request_BadRequest',
};

export const graphRefuse = {
  /** 401: no token, or one this provider did not issue for Graph, or expired. */
  token: (message: string) => new PgwardenError('UNAUTHORIZED', message),
  /** 403: a valid token that may not read the directory (a user's delegated token). */
  denied: () => new PgwardenError('FORBIDDEN', 'Insufficient privileges to complete the operation.'),
  /** 400: a query this subset of OData does not take. */
  unsupported: (message: string) => new PgwardenError('FEATURE_NOT_SUPPORTED', message),
  /** 400: a malformed query option or request body. */
  badRequest: (message: string) => new PgwardenError('INVALID_INPUT', message),
  /** 404: no such object (or not one of the collection's type), in Graph's words. */
  notFound: (id: string) => new PgwardenError('NOT_FOUND', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`),
  /** 413: a request body longer than the server takes. */
  tooLarge: (limit: number) => new PgwardenError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes.`),
};

export interface GraphErrorAnswer {
  readonly status: number;
  readonly body: { error: { code: string; message: string; innerError: { date: string; 'request-id': string; 'client-request-id': string } } };
}

/** Graph's error answer for a refusal; anything else is a 500 with a generic text (the log
 * has the details). */
export function graphErrorAnswer(e: unknown, requestId: string, clientRequestId: string, nowMs: number): GraphErrorAnswer {
  const code = e instanceof PgwardenError ? GRAPH_CODES[e.code] : undefined;
  const innerError = { date: new Date(nowMs).toISOString().replace(/\.\d+Z$/, 'Z'), 'request-id': requestId, 'client-request-id': clientRequestId };
  if (!code) return { status: 500, body: { error: { code: 'generalException', message: 'General exception while processing.', innerError } } };
  return { status: (e as PgwardenError).kind.http, body: { error: { code, message: (e as PgwardenError).message, innerError } } };
}
