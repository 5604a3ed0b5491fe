// A read-only subset of Microsoft Graph v1.0: `GET /graph/v1.0/users`,
// `/graph/v1.0/servicePrincipals`, `/graph/v1.0/groups`, with $filter (startswith and eq,
// joined by or), $select and $top, for an app-only Graph token from this provider. What
// a client that searches a tenant through Graph needs, served without network.
// The answer: `{"@odata.context": "{authority}/graph/v1.0/$metadata#users", "value": [...]}`.
// https://learn.microsoft.com/graph/api/user-list
// https://learn.microsoft.com/graph/api/serviceprincipal-list
// https://learn.microsoft.com/graph/api/group-list
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProviderContext } from '../context.js';
import { authorizeGraphCall } from '../graph/access.js';
import { COLLECTIONS, parseQuery, runQuery, type Collection } from '../graph/collections.js';
import { graphErrorAnswer } from '../graph/errors.js';
import { GRAPH_AUDIENCE } from '../resources.js';

/** Where the subset is mounted: Graph's `https://graph.microsoft.com/v1.0/...` is
 * `{authority}/graph/v1.0/...` here. */
export const GRAPH_BASE_PATH = '/graph/v1.0';

export function registerGraph(app: FastifyInstance, ctx: ProviderContext): void {
  for (const collection of COLLECTIONS) {
    app.get(`${GRAPH_BASE_PATH}/${collection.name}`, (req, reply) => list(ctx, collection, req, reply));
  }
}

async function list(ctx: ProviderContext, collection: Collection, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const requestId = randomUUID();
  const given = req.headers['client-request-id'];
  const clientRequestId = typeof given === 'string' && /^[0-9a-fA-F-]{36}$/.test(given) ? given.toLowerCase() : requestId;
  reply.header('request-id', requestId).header('client-request-id', clientRequestId).header('cache-control', 'no-store');
  let caller: string | undefined;
  try {
    const { sp, data } = await authorizeGraphCall(ctx, req.headers.authorization);
    caller = sp.appId;
    const query = parseQuery(collection, req.query);
    const value = runQuery(collection, data, query);
    ctx.log.info({ event: 'graph', collection: collection.name, client: sp.appId, filter: query.filter?.length ?? 0, count: value.length }, 'graph list');
    return reply.send({ '@odata.context': `${ctx.authority()}${GRAPH_BASE_PATH}/$metadata#${collection.name}`, value });
  } catch (e) {
    const answer = graphErrorAnswer(e, requestId, clientRequestId, ctx.now());
    const entry = { event: 'graph', collection: collection.name, client: caller, status: answer.status };
    // The message says what was wrong with the token or query; never the token itself.
    if (answer.status < 500) ctx.log.info({ ...entry, refusal: answer.body.error.code, reason: answer.body.error.message }, 'graph request refused');
    else ctx.log.error({ ...entry, error: e instanceof Error ? e.message : String(e) }, 'graph request failed');
    if (answer.status === 401) {
      // As Graph: where to get a token, and for which resource.
      const data = await ctx.directory.snapshot().catch(() => undefined);
      const authorize = `${ctx.authority()}/${data?.tenant.id ?? 'organizations'}/oauth2/authorize`;
      reply.header('www-authenticate', `Bearer realm="", authorization_uri="${authorize}", client_id="${GRAPH_AUDIENCE}"`);
    }
    return reply.code(answer.status).send(answer.body);
  }
}
