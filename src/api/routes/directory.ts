import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { PrincipalType } from '../../catalog/principals.js';
import { roleNameOf } from '../../identity/directory.js';
import { PgwardenError } from '../../util/errors.js';
import type { ApiDeps } from '../context.js';
import { DirectoryList, DirectoryQuery } from '../schemas.js';

const MAX_RESULTS = 50;

export const directoryRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/directory',
      {
        schema: {
          summary: "Search the tenant's users, service principals (enterprise applications) and groups",
          tags: ['directory'],
          querystring: DirectoryQuery,
          response: { 200: DirectoryList },
        },
      },
      async (req) => {
        if (!deps.directory) throw new PgwardenError('NOT_FOUND', 'no directory is available for this tenant; add principals by object id');
        const t = req.query.type;
        const types: PrincipalType[] | undefined = t === 'admin-candidates' ? ['user', 'servicePrincipal'] : t ? [t] : undefined;
        const found = await deps.directory.search(req.query.q, types);
        return {
          items: found.slice(0, MAX_RESULTS).map((e) => ({
            type: e.type,
            objectId: e.objectId,
            displayName: e.displayName,
            roleName: roleNameOf(e),
            ...(e.userPrincipalName ? { userPrincipalName: e.userPrincipalName } : {}),
            ...(e.appId ? { appId: e.appId } : {}),
          })),
        };
      },
    );
  };
