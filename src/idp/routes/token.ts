// The token endpoints: v1 `/{tenant}/oauth2/token` and v2 `/{tenant}/oauth2/v2.0/token`.
// Logs say which grant, which client and who, or which refusal; never a credential.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVersion } from '../claims.js';
import type { ProviderContext } from '../context.js';
import { exchange } from '../grants.js';
import { isRefusal } from '../oauth-errors.js';
import { singleParams } from './params.js';
import { sendError } from './replies.js';

export function registerTokenEndpoints(app: FastifyInstance, ctx: ProviderContext): void {
  const handler = (version: TokenVersion) => async (req: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
    const started = ctx.now();
    let params: Record<string, string> = {};
    try {
      params = singleParams(req.body);
      const result = await exchange(ctx, { version, tenant: req.params.tenant, params, authorization: req.headers.authorization, ip: req.ip });
      ctx.log.info(
        { event: 'token', version, grant: result.grant, client: result.clientId, subject: subjectOf(result.subject), ms: ctx.now() - started },
        'token issued',
      );
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(result.body);
    } catch (e) {
      const entry = { event: 'token', version, grant: params.grant_type?.slice(0, 60), client: params.client_id?.slice(0, 60), ms: ctx.now() - started };
      if (isRefusal(e)) ctx.log.info({ ...entry, refusal: e.message.split(':')[0] }, 'token refused');
      else ctx.log.error({ ...entry, error: e instanceof Error ? e.message : String(e) }, 'token request failed');
      return sendError(reply, e, req, ctx);
    }
  };
  app.post('/:tenant/oauth2/token', handler('1.0'));
  app.post('/:tenant/oauth2/v2.0/token', handler('2.0'));
}

function subjectOf(s: import('../claims.js').Subject): { type: string; oid: string } {
  return s.kind === 'user' ? { type: 'user', oid: s.user.objectId } : { type: 'app', oid: s.sp.objectId };
}
