// The two legs of the identity provider sign-in: /portal/signin/entra sends the browser to
// the provider's authorize page; the provider sends it back to /portal/signin/callback
// with a code, which the server redeems (entra-signin.ts). Whatever happens, the browser
// ends up on the page at `/`, which shows the session or the reason it was refused.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiPluginContext } from '../api/server.js';
import type { SessionStore } from '../api/sessions.js';
import { PgwardenError } from '../util/errors.js';
import { authorizeUrl, firstLine, redeemCode, SIGNIN_COOKIE, SIGNIN_COOKIE_OPTIONS, type PendingSignIns } from './entra-signin.js';
import { openSession } from './session-routes.js';

export const CALLBACK_PATH = '/portal/signin/callback';

const CallbackQuery = z.object({
  code: z.string().max(4096).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(4096).optional(),
});

export interface EntraSignInOptions {
  /** The application (client) id the portal signs in as: a public client that may use
   * the redirect URI below. */
  readonly clientId: string;
  /** The portal's URL as browsers reach it (https://host:port), for the redirect URI;
   * default: the URL of the request (fine for loopback, which providers always allow). */
  readonly publicUrl?: string;
}

function seeOther(reply: FastifyReply, to: string): FastifyReply {
  return reply.code(303).header('location', to).send();
}

export const entraRoutes =
  (ctx: ApiPluginContext, sessions: SessionStore, pending: PendingSignIns, options: EntraSignInOptions): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onSend', async (_req, reply) => {
      void reply.header('cache-control', 'no-store');
    });

    const redirectUriOf = (req: FastifyRequest): string => `${(options.publicUrl ?? `https://${req.host}`).replace(/\/+$/, '')}${CALLBACK_PATH}`;

    app.get('/portal/signin/entra', { schema: { hide: true } }, async (req, reply) => {
      const config = ctx.deps.verifier?.config;
      if (!config) throw new PgwardenError('NOT_FOUND', 'Microsoft Entra ID is not configured for this cluster.');
      pending.delete(req.cookies[SIGNIN_COOKIE]);
      const { binding, entry, codeChallenge } = pending.start(redirectUriOf(req));
      void reply.setCookie(SIGNIN_COOKIE, binding, SIGNIN_COOKIE_OPTIONS);
      return seeOther(reply, authorizeUrl(config, options.clientId, entry, codeChallenge));
    });

    app.get(CALLBACK_PATH, { schema: { hide: true, querystring: CallbackQuery } }, async (req, reply) => {
      const binding = req.cookies[SIGNIN_COOKIE];
      const entry = pending.get(binding);
      const config = ctx.deps.verifier?.config;
      const q = req.query;
      const fail = (message: string): FastifyReply => {
        ctx.deps.audit.record({
          kind: 'change',
          action: 'portal.sign-in',
          method: 'entra',
          clientAddr: req.ip,
          result: 'refused',
          reason: message.slice(0, 120),
        });
        void reply.setCookie(SIGNIN_COOKIE, pending.fail(binding, message), SIGNIN_COOKIE_OPTIONS);
        return seeOther(reply, '/');
      };
      // The state must be the one this browser was given: else the code is someone else's.
      if (!entry || entry.failure !== undefined || !q.state || q.state !== entry.state || !config) {
        return fail('This sign-in expired or was started in another window. Please sign in again.');
      }
      pending.delete(binding);
      if (q.error) return fail(`Microsoft Entra ID did not sign you in: ${firstLine(q.error_description ?? q.error)}`);
      if (!q.code) return fail('The identity provider sent no authorization code. Please sign in again.');
      try {
        const token = await redeemCode(config, options.clientId, entry, q.code);
        const caller = await ctx.authenticator.authenticate(`Bearer ${token}`);
        openSession(ctx, sessions, req, reply, caller);
      } catch (e) {
        if (e instanceof PgwardenError) return fail(e.message);
        throw e;
      }
      void reply.clearCookie(SIGNIN_COOKIE, { path: SIGNIN_COOKIE_OPTIONS.path });
      return seeOther(reply, '/');
    });
  };
