import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { writeSecretFile } from '../../util/files.js';
import { CITUS_ROLE } from '../../catalog/roles.js';
import { addNativeRole, deleteNativeRole, listNativeRoles, resetNativePassword } from '../../control/native-roles.js';
import type { ApiDeps } from '../context.js';
import { changed } from '../changes.js';
import { NameChanged, PasswordPost, RoleChanged, RoleDeleteQuery, RoleList, RoleNameParam, RolePost } from '../schemas.js';

export const roleRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/roles',
      {
        schema: { summary: 'Native PostgreSQL roles (citus first)', tags: ['roles'], response: { 200: RoleList } },
      },
      async () => ({ items: await listNativeRoles(deps.admin) }),
    );

    app.post(
      '/roles',
      {
        schema: { summary: 'Add a native role with LOGIN on every node', tags: ['roles'], body: RolePost, response: { 201: RoleChanged } },
      },
      async (req, reply) => {
        const { value, workers } = await addNativeRole(deps.admin, req.body.name, req.body.password);
        changed(deps, req, { action: 'role.add', target: value.name }, workers);
        return reply.code(201).send({ ...value, nodes: workers });
      },
    );

    app.delete(
      '/roles/:name',
      {
        schema: {
          summary: 'Delete a native role on every node',
          tags: ['roles'],
          params: RoleNameParam,
          querystring: RoleDeleteQuery,
          response: { 200: NameChanged },
        },
      },
      async (req) => {
        const { value, workers } = await deleteNativeRole(deps.admin, req.params.name, req.query.reassignTo);
        changed(
          deps,
          req,
          { action: 'role.delete', target: value.name, details: req.query.reassignTo ? { reassignTo: req.query.reassignTo } : undefined },
          workers,
        );
        return { name: value.name, nodes: workers };
      },
    );

    app.post(
      '/roles/:name/reset-password',
      {
        schema: {
          summary: "Reset a native role's password (citus's too) on every node",
          tags: ['roles'],
          params: RoleNameParam,
          body: PasswordPost,
          response: { 200: NameChanged },
        },
      },
      async (req) => {
        const { value, workers } = await resetNativePassword(deps.admin, req.params.name, req.body.password);
        if (value.name === CITUS_ROLE && deps.citusPasswordFile) await writeSecretFile(deps.citusPasswordFile, req.body.password + '\n');
        changed(deps, req, { action: 'role.reset-password', target: value.name }, workers);
        return { name: value.name, nodes: workers };
      },
    );
  };
