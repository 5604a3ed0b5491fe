// A read-only subset of Microsoft Graph v1.0 for an app-only Graph token from this
// provider, whose service principal the admin granted the application permission
// (graph/access.ts); what a client that searches a tenant through Graph, or resolves a
// token's groups, needs, served without network:
// - `GET /graph/v1.0/users`, `/servicePrincipals`, `/groups`, with $filter (startswith
//   and eq, joined by or), $select and $top; with Directory.Read.All. The answer:
//   `{"@odata.context": "{authority}/graph/v1.0/$metadata#users", "value": [...]}`.
// - `POST /graph/v1.0/{users|servicePrincipals|directoryObjects}/{id}/checkMemberGroups`
//   (`{"groupIds": [...]}`) and `.../getMemberObjects` (`{"securityEnabledOnly": bool}`),
//   the latter where a token's groups overage points; with Directory.Read.All or
//   GroupMember.Read.All. The answer:
//   `{"@odata.context": "{authority}/graph/v1.0/$metadata#Collection(Edm.String)", "value": [ids]}`.
// https://learn.microsoft.com/graph/api/user-list
// https://learn.microsoft.com/graph/api/serviceprincipal-list
// https://learn.microsoft.com/graph/api/group-list
// https://learn.microsoft.com/graph/api/directoryobject-checkmembergroups
// https://learn.microsoft.com/graph/api/directoryobject-getmemberobjects
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProviderContext } from '../context.js';
import { authorizeGraphCall, LIST_PERMISSIONS, MEMBERSHIP_PERMISSIONS, type GraphCaller } from '../graph/access.js';
import { COLLECTIONS, parseQuery, runQuery } from '../graph/collections.js';
import { graphErrorAnswer, graphRefuse } from '../graph/errors.js';
import {
  checkMemberGroups,
  getMemberObjects,
  MEMBER_COLLECTIONS,
  parseCheckMemberGroups,
  parseGetMemberObjects,
  resolveMemberObject,
} from '../graph/membership.js';
import { GRAPH_BASE_PATH } from '../paths.js';
import { GRAPH_AUDIENCE } from '../resources.js';

export function registerGraph(app: FastifyInstance, ctx: ProviderContext): void {
  for (const collection of COLLECTIONS) {
    app.get(`${GRAPH_BASE_PATH}/${collection.name}`, (req, reply) =>
      serve(ctx, req, reply, { collection: collection.name, permissions: LIST_PERMISSIONS }, ({ sp, data }) => {
        const query = parseQuery(collection, req.query);
        const value = runQuery(collection, data, query);
        ctx.log.info({ event: 'graph', collection: collection.name, client: sp.appId, filter: query.filter?.length ?? 0, count: value.length }, 'graph list');
        return { '@odata.context': `${ctx.authority()}${GRAPH_BASE_PATH}/$metadata#${collection.name}`, value };
      }),
    );
  }
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  for (const collection of MEMBER_COLLECTIONS) {
    for (const action of ['checkMemberGroups', 'getMemberObjects'] as const) {
      const op: Operation = { collection, action, permissions: MEMBERSHIP_PERMISSIONS };
      app.post<{ Params: { id: string } }>(
        `${GRAPH_BASE_PATH}/${collection}/:id/${action}`,
        // The body is parsed before the handler runs: its refusals (not JSON, empty, too
        // large, an unknown content type) are answered here, in Graph's shape.
        { errorHandler: (error, req, reply) => refuseBody(ctx, req, reply, op, bodyRefusal(error, bodyLimit)) },
        (req, reply) =>
          serve(ctx, req, reply, op, ({ sp, data }) => {
            const body = jsonBody(req);
            // The body is checked before the object is looked up, as Graph does.
            const given = action === 'checkMemberGroups' ? parseCheckMemberGroups(body) : undefined;
            if (action === 'getMemberObjects') parseGetMemberObjects(body);
            const objectId = resolveMemberObject(data, collection, req.params.id);
            const value = given ? checkMemberGroups(data, objectId, given) : getMemberObjects(data, objectId);
            ctx.log.info(
              { event: 'graph', collection, action, client: sp.appId, object: objectId, asked: given?.length, count: value.length },
              `graph ${action}`,
            );
            return { '@odata.context': `${ctx.authority()}${GRAPH_BASE_PATH}/$metadata#Collection(Edm.String)`, value };
          }),
      );
    }
  }
}

/** What a request is about, for the log, and the application permissions it needs (any one). */
interface Operation {
  readonly collection: string;
  readonly action?: string;
  readonly permissions: readonly string[];
}

/** The body of a POST, if it came as JSON; a form or text body is refused. */
function jsonBody(req: FastifyRequest): unknown {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (req.body !== undefined && type !== 'application/json') {
    throw graphRefuse.badRequest('The request body must be JSON, with Content-Type: application/json.');
  }
  return req.body;
}

/** A refusal of the body parser (fastify's), as Graph's refusal. */
function bodyRefusal(error: unknown, bodyLimit: number): unknown {
  const code = (error as { code?: string }).code;
  const status = (error as { statusCode?: number }).statusCode ?? 500;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return graphRefuse.tooLarge(bodyLimit);
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return graphRefuse.badRequest('The request body is missing: it must be a JSON object.');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return graphRefuse.badRequest('The request body must be JSON, with Content-Type: application/json.');
  if (status >= 400 && status < 500) return graphRefuse.badRequest('The request body is not valid JSON.');
  return error;
}

/** A body refused by the parser: a caller without a valid token, or without the
 * permission, learns that first. */
async function refuseBody(ctx: ProviderContext, req: FastifyRequest, reply: FastifyReply, op: Operation, refusal: unknown): Promise<FastifyReply> {
  let caller: string | undefined;
  try {
    caller = (await authorizeGraphCall(ctx, req.headers.authorization, op.permissions)).sp.appId;
  } catch (e) {
    return sendGraphError(ctx, req, reply, op, e);
  }
  return sendGraphError(ctx, req, reply, op, refusal, caller);
}

/** Headers of every Graph answer: `request-id`, `client-request-id` (the client's when it
 * sent a GUID), no caching. */
function graphHeaders(req: FastifyRequest, reply: FastifyReply): { requestId: string; clientRequestId: string } {
  const requestId = randomUUID();
  const given = req.headers['client-request-id'];
  const clientRequestId = typeof given === 'string' && /^[0-9a-fA-F-]{36}$/.test(given) ? given.toLowerCase() : requestId;
  reply.header('request-id', requestId).header('client-request-id', clientRequestId).header('cache-control', 'no-store');
  return { requestId, clientRequestId };
}

/** Authorizes the call, runs `work`, and answers 200 with its result or Graph's refusal. */
async function serve(
  ctx: ProviderContext,
  req: FastifyRequest,
  reply: FastifyReply,
  op: Operation,
  work: (caller: GraphCaller) => object,
): Promise<FastifyReply> {
  let caller: string | undefined;
  try {
    const authorized = await authorizeGraphCall(ctx, req.headers.authorization, op.permissions);
    caller = authorized.sp.appId;
    const answer = work(authorized);
    graphHeaders(req, reply);
    return reply.send(answer);
  } catch (e) {
    return sendGraphError(ctx, req, reply, op, e, caller);
  }
}

async function sendGraphError(
  ctx: ProviderContext,
  req: FastifyRequest,
  reply: FastifyReply,
  op: Operation,
  e: unknown,
  caller?: string,
): Promise<FastifyReply> {
  const { requestId, clientRequestId } = graphHeaders(req, reply);
  const answer = graphErrorAnswer(e, requestId, clientRequestId, ctx.now());
  const entry = { event: 'graph', collection: op.collection, ...(op.action ? { action: op.action } : {}), client: caller, status: answer.status };
  // The message says what was wrong with the token, query or body; never the token itself.
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
