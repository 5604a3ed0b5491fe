// Error answers of the JSON endpoints, shaped like Entra's (see oauth-errors.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ProviderContext } from '../context.js';
import { errorAnswer } from '../oauth-errors.js';

export function sendError(reply: FastifyReply, e: unknown, req: FastifyRequest, ctx: ProviderContext): FastifyReply {
  const correlation = req.headers['client-request-id'];
  const answer = errorAnswer(e, typeof correlation === 'string' ? correlation : undefined, ctx.now());
  if (answer.status === 401) reply.header('www-authenticate', 'Basic realm="pgwarden"');
  return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
}
