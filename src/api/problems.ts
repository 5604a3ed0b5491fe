// Errors as RFC 9457 problem details: `type` names the stable code, `status` is the
// HTTP status from the one error table (src/util/errors.ts), `detail` says what to do.
// https://www.rfc-editor.org/rfc/rfc9457
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_KINDS, PgwardenError, type ErrorCode } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export const PROBLEM_TYPE_BASE = 'urn:pgwarden:problem:';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: Array<{ path: string; message: string }>;
}

const TITLES: Partial<Record<ErrorCode, string>> = {
  INVALID_INPUT: 'Invalid request',
  UNAUTHORIZED: 'Authentication required',
  FORBIDDEN: 'Not allowed',
  NOT_FOUND: 'Not found',
  ALREADY_EXISTS: 'Already exists',
  ROLE_IN_USE: 'Role in use',
  PROTECTED_ROLE: 'Protected role',
  PAYLOAD_TOO_LARGE: 'Request too large',
};

export function problem(code: ErrorCode, detail: string, extra: Partial<Problem> = {}): Problem {
  return { type: PROBLEM_TYPE_BASE + code, title: TITLES[code] ?? code, status: ERROR_KINDS[code].http, detail, code, ...extra };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).header('content-type', 'application/problem+json; charset=utf-8').send(p);
}

/** The one error handler: every failure leaves as a problem, never as a stack trace. */
export function errorHandler(log: Logger) {
  return (error: FastifyError | PgwardenError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (error instanceof PgwardenError) {
      if (error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="pgwarden", Basic realm="pgwarden", charset="UTF-8"');
      return sendProblem(reply, problem(error.code, error.detail ? `${error.message} ${error.detail}` : error.message));
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors = error.validation.map((v) => ({
        path: `${error.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`,
        message: v.message ?? 'invalid',
      }));
      return sendProblem(reply, problem('INVALID_INPUT', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors }));
    }
    const fe = error as FastifyError;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, problem('PAYLOAD_TOO_LARGE', 'The request body is larger than 1 MB.'));
    if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (fe.statusCode === 400 && error instanceof SyntaxError)) {
      return sendProblem(reply, problem('INVALID_INPUT', 'The request body is not valid JSON.'));
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return sendProblem(reply, problem('INVALID_INPUT', 'Send the request body as application/json.', { status: 415 }));
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
      return sendProblem(reply, problem('INVALID_INPUT', fe.message, { status: fe.statusCode }));
    log.error({ event: 'api-error', error: error.message, url: request.url, method: request.method }, 'API request failed');
    return sendProblem(reply, problem('INTERNAL', 'Internal error in pgwarden; see its log.'));
  };
}
