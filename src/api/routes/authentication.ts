import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AUTH_METHOD_LABELS } from '../../catalog/auth-method.js';
import { getAuthMethod, setAuthMethod } from '../../control/auth-methods.js';
import { getSessionExpiry, setSessionExpiry } from '../../control/session-expiry.js';
import type { ApiDeps } from '../context.js';
import { changed } from '../changes.js';
import { Authentication, AuthenticationChanged, AuthenticationPut, SessionExpiryBody, SessionExpiryChanged } from '../schemas.js';

export const authenticationRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/authentication',
      {
        schema: { summary: "The cluster's authentication methods", tags: ['authentication'], response: { 200: Authentication } },
      },
      async () => {
        const [methods, sessionExpiry] = await Promise.all([getAuthMethod(deps.admin), getSessionExpiry(deps.admin)]);
        return { methods, label: AUTH_METHOD_LABELS[methods], sessionExpiry };
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
        const sessionExpiry = await getSessionExpiry(deps.admin);
        return { methods: value.methods, label: AUTH_METHOD_LABELS[value.methods], sessionExpiry, previous: value.previous, nodes: workers };
      },
    );

    app.put(
      '/authentication/session-expiry',
      {
        schema: {
          summary: 'Whether sessions signed in with an access token end when it expires; applies within a second',
          tags: ['authentication'],
          body: SessionExpiryBody,
          response: { 200: SessionExpiryChanged },
        },
      },
      async (req) => {
        const value = await setSessionExpiry(deps.admin, req.body.sessionExpiry);
        changed(deps, req, { action: 'session-expiry.set', target: value.sessionExpiry, details: { previous: value.previous } });
        return value;
      },
    );
  };
