import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AUTH_METHOD_LABELS } from '../../catalog/auth-method.js';
import { getAuthMethod, setAuthMethod } from '../../control/auth-methods.js';
import type { ApiDeps } from '../context.js';
import { changed } from '../changes.js';
import { Authentication, AuthenticationChanged, AuthenticationPut } from '../schemas.js';

export const authenticationRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/authentication',
      {
        schema: { summary: "The cluster's authentication methods", tags: ['authentication'], response: { 200: Authentication } },
      },
      async () => {
        const methods = await getAuthMethod(deps.admin);
        return { methods, label: AUTH_METHOD_LABELS[methods] };
      },
    );

    app.put(
      '/authentication',
      {
        schema: {
          summary: 'Choose the authentication methods; applies to new sign-ins within a second',
          tags: ['authentication'],
          body: AuthenticationPut,
          response: { 200: AuthenticationChanged },
        },
      },
      async (req) => {
        const { value, workers } = await setAuthMethod(deps.admin, req.body.methods);
        changed(deps, req, { action: 'auth-method.set', target: value.methods, details: { previous: value.previous } }, workers);
        return { methods: value.methods, label: AUTH_METHOD_LABELS[value.methods], previous: value.previous, nodes: workers };
      },
    );
  };
