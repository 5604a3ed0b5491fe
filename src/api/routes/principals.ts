// Microsoft Entra admins and other principals. An admin is a principal with the admin
// flag: the same operations, two resources, as in the managed service's page.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { EntraPrincipal } from '../../catalog/principals.js';
import { addPrincipal, listPrincipals, removePrincipal } from '../../control/principals.js';
import { roleNameOf } from '../../identity/directory.js';
import { PgwardenError } from '../../util/errors.js';
import type { ApiDeps } from '../context.js';
import { changed } from '../changes.js';
import { AdminPost, NameChanged, PrincipalChanged, PrincipalList, PrincipalPost, RoleNameParam } from '../schemas.js';

export function principalView(p: EntraPrincipal) {
  return {
    name: p.roleName,
    type: p.type,
    objectId: p.objectId,
    ...(p.tenantId ? { tenantId: p.tenantId } : {}),
    ...(p.issuer ? { issuer: p.issuer } : {}),
    isAdmin: p.isAdmin,
    ...(p.appId ? { appId: p.appId } : {}),
  };
}

/** A principal of another OpenID Connect issuer: no directory, the subject as given. */
function oidcPrincipal(deps: ApiDeps, body: z.infer<typeof PrincipalPost>): { issuer: string; objectId: string } {
  const issuer = body.issuer!;
  if (!deps.oidcIssuers?.includes(issuer)) {
    const known = deps.oidcIssuers?.length ? ` (configured: ${deps.oidcIssuers.join(', ')})` : '';
    throw new PgwardenError('INVALID_INPUT', `${issuer} is not an OpenID Connect issuer of this gateway (--oidc-issuer)${known}`);
  }
  if (body.objectId || body.appId)
    throw new PgwardenError('INVALID_INPUT', "objectId and appId are for Microsoft Entra principals; give another issuer's subject");
  const subject = body.subject ?? (body.type === 'group' ? body.name : undefined);
  if (subject === undefined)
    throw new PgwardenError('INVALID_INPUT', "subject is required: the user's subject claim at the issuer (sub, or the configured claim)");
  return { issuer, objectId: subject };
}

/**
 * Fills in and checks a principal against the directory, where there is one: the
 * object id from the name, the app id of a service principal, and that the name is
 * the object's (a user's UPN, a service principal's or group's display name).
 */
async function resolve(deps: ApiDeps, body: z.infer<typeof PrincipalPost>): Promise<{ objectId: string; appId: string | undefined }> {
  if (!deps.directory) {
    if (!body.objectId) throw new PgwardenError('INVALID_INPUT', 'objectId is required: no directory is available to look the name up');
    return { objectId: body.objectId, appId: body.appId };
  }
  const directory = deps.directory;
  const candidates = directory.named ? await directory.named(body.name, body.type) : await directory.search(body.name, [body.type]);
  const found = candidates.filter((e) => roleNameOf(e) === body.name);
  const match = body.objectId ? found.find((e) => e.objectId.toLowerCase() === body.objectId!.toLowerCase()) : found[0];
  if (!match) {
    throw new PgwardenError(
      'NOT_FOUND',
      `no ${body.type} named "${body.name}"${body.objectId ? ` with object id ${body.objectId}` : ''} in the tenant's directory`,
    );
  }
  if (!body.objectId && found.length > 1) throw new PgwardenError('INVALID_INPUT', `several objects are named "${body.name}"; give objectId`);
  return { objectId: match.objectId, appId: body.appId ?? match.appId };
}

async function entraPrincipal(deps: ApiDeps, body: z.infer<typeof PrincipalPost>): Promise<{ objectId: string; appId: string | undefined; tenantId: string }> {
  if (!deps.tenantId) throw new PgwardenError('INVALID_INPUT', 'Microsoft Entra ID is not configured for this cluster');
  if (body.subject) throw new PgwardenError('INVALID_INPUT', 'subject is for principals of another OpenID Connect issuer (give issuer)');
  return { ...(await resolve(deps, body)), tenantId: deps.tenantId };
}

export const principalRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    for (const admins of [true, false]) {
      const path = admins ? '/entra-admins' : '/entra-principals';
      const tag = admins ? 'entra-admins' : 'entra-principals';
      const what = admins ? 'Microsoft Entra admin' : 'Microsoft Entra principal';

      app.get(
        path,
        {
          schema: { summary: `List the ${what}s`, tags: [tag], response: { 200: PrincipalList } },
        },
        async () => ({ items: (await listPrincipals(deps.admin, admins ? { admins: true } : {})).map(principalView) }),
      );

      app.post(
        path,
        {
          schema: {
            summary: admins
              ? 'Add a Microsoft Entra admin (a user or a service principal) with the privileges of citus'
              : 'Add a Microsoft Entra user, service principal or group',
            tags: [tag],
            body: admins ? AdminPost : PrincipalPost,
            response: { 201: PrincipalChanged },
          },
        },
        async (req, reply) => {
          const { value, workers } = await addPrincipal(deps.admin, deps.gatewaySecret, {
            roleName: req.body.name,
            type: req.body.type,
            isAdmin: admins,
            ...(req.body.issuer ? oidcPrincipal(deps, req.body) : await entraPrincipal(deps, req.body)),
          });
          changed(
            deps,
            req,
            {
              action: admins ? 'entra-admin.add' : 'entra-principal.add',
              target: value.roleName,
              details: { type: value.type, objectId: value.objectId, ...(value.issuer ? { issuer: value.issuer } : {}) },
            },
            workers,
          );
          return reply.code(201).send({ ...principalView(value), nodes: workers });
        },
      );

      app.delete(
        `${path}/:name`,
        {
          schema: { summary: `Remove a ${what} and its role on every node`, tags: [tag], params: RoleNameParam, response: { 200: NameChanged } },
        },
        async (req) => {
          const { value, workers } = await removePrincipal(deps.admin, req.params.name, admins ? { admin: true } : {});
          changed(deps, req, { action: admins ? 'entra-admin.remove' : 'entra-principal.remove', target: value.roleName }, workers);
          return { name: value.roleName, nodes: workers };
        },
      );
    }
  };
