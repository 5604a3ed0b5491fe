// The portal's sign-in and sign-out. A session is opened by citus's password (POST
// /portal/session) or by the identity provider (entra-routes.ts); either way the caller is
// checked by the API's own authenticator, so exactly the people the API accepts (citus
// while PostgreSQL authentication is on, Entra admins while Entra is on) see the page.
// The session id goes into an HttpOnly, Secure, SameSite=Strict cookie; the page gets the
// CSRF token, which the API requires on every change (src/api/server.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiPluginContext } from '../api/server.js';
import type { Caller } from '../api/authn.js';
import { CSRF_HEADER, SESSION_COOKIE, SESSION_COOKIE_OPTIONS, SessionStore } from '../api/sessions.js';
import { allowsEntra, allowsNative, AUTH_METHOD_LABELS, type AuthMethod } from '../catalog/auth-method.js';
import { CITUS_ROLE } from '../catalog/roles.js';
import { getAuthMethod } from '../control/auth-methods.js';
import { listPrincipals } from '../control/principals.js';
import { PgwardenError } from '../util/errors.js';
import { SIGNIN_COOKIE, SIGNIN_COOKIE_OPTIONS, type PendingSignIns } from './entra-signin.js';

const CitusSignIn = z.strictObject({ password: z.string().min(1).max(1024) });

/** Browsers send Origin on every POST and DELETE: it must be this server's. */
export function checkSameOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `https://${req.host}`) {
    throw new PgwardenError('FORBIDDEN', 'The request came from another site.');
  }
}

/**
 * Whether a session's caller may still manage the cluster: citus while PostgreSQL
 * authentication is on; an Entra admin while Entra is on and it is still an admin (same
 * object id, same name). The page asks at every load; a session that fails is ended.
 */
export async function stillAllowed(ctx: ApiPluginContext, caller: Caller, methods: AuthMethod): Promise<boolean> {
  if (caller.kind === 'citus') return allowsNative(methods);
  if (!allowsEntra(methods) || !ctx.deps.verifier) return false;
  const admins = await listPrincipals(ctx.deps.admin, { admins: true });
  return admins.some((p) => p.objectId === caller.principal.objectId && p.roleName === caller.principal.roleName);
}

/** Opens a session for a caller the API accepted, replacing the browser's previous one. */
export function openSession(ctx: ApiPluginContext, sessions: SessionStore, req: FastifyRequest, reply: FastifyReply, caller: Caller): void {
  sessions.delete(req.cookies[SESSION_COOKIE]);
  const session = sessions.create(caller);
  void reply.setCookie(SESSION_COOKIE, session.id, SESSION_COOKIE_OPTIONS);
  ctx.deps.audit.record({
    kind: 'change',
    actor: caller.name,
    action: 'portal.sign-in',
    method: caller.kind === 'citus' ? 'password' : 'entra',
    clientAddr: req.ip,
    result: 'ok',
  });
}

export const sessionRoutes =
  (ctx: ApiPluginContext, sessions: SessionStore, pending: PendingSignIns): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onSend', async (_req, reply) => {
      void reply.header('cache-control', 'no-store');
    });

    // Who is signed in, and how one can sign in. Always 200: the page asks before it knows.
    app.get('/portal/session', { schema: { hide: true } }, async (req, reply) => {
      let session = sessions.get(req.cookies[SESSION_COOKIE]);
      const methods = await getAuthMethod(ctx.deps.admin);
      let ended: string | undefined;
      if (session && !(await stillAllowed(ctx, session.caller, methods))) {
        sessions.delete(session.id);
        void reply.clearCookie(SESSION_COOKIE, { path: SESSION_COOKIE_OPTIONS.path });
        ended =
          session.caller.kind === 'citus'
            ? 'Your session ended: PostgreSQL authentication is disabled for this cluster, so citus cannot sign in.'
            : 'Your session ended: you are no longer a Microsoft Entra admin of this cluster, or Microsoft Entra authentication is off.';
        session = undefined;
      }
      if (session) {
        const { caller } = session;
        return {
          signedIn: true,
          user: { kind: caller.kind, name: caller.name, ...(caller.kind === 'entra' ? { type: caller.principal.type } : {}) },
          csrf: session.csrf,
          csrfHeader: CSRF_HEADER,
          methods,
          methodsLabel: AUTH_METHOD_LABELS[methods],
        };
      }
      // A failed identity provider sign-in is told once, here.
      const binding = req.cookies[SIGNIN_COOKIE];
      const failure = pending.get(binding)?.failure ?? ended;
      if (failure !== undefined) {
        pending.delete(binding);
        void reply.clearCookie(SIGNIN_COOKIE, { path: SIGNIN_COOKIE_OPTIONS.path });
      }
      return {
        signedIn: false,
        signIn: { citus: allowsNative(methods), entra: ctx.deps.verifier !== undefined && allowsEntra(methods) },
        ...(failure !== undefined ? { error: failure } : {}),
      };
    });

    app.post('/portal/session', { schema: { hide: true, body: CitusSignIn } }, async (req, reply) => {
      checkSameOrigin(req);
      const basic = 'Basic ' + Buffer.from(`${CITUS_ROLE}:${req.body.password}`).toString('base64');
      let caller: Caller;
      try {
        // Throttled per client address, as the API's HTTP Basic is.
        caller = await ctx.authenticator.authenticate(basic, req.ip);
      } catch (e) {
        ctx.deps.audit.record({
          kind: 'change',
          actor: CITUS_ROLE,
          action: 'portal.sign-in',
          method: 'password',
          clientAddr: req.ip,
          result: 'refused',
          reason: e instanceof PgwardenError ? e.code : 'error',
        });
        throw e;
      }
      openSession(ctx, sessions, req, reply, caller);
      return reply.code(201).send({ signedIn: true });
    });

    app.delete('/portal/session', { schema: { hide: true } }, async (req, reply) => {
      checkSameOrigin(req);
      const session = sessions.get(req.cookies[SESSION_COOKIE]);
      if (session) {
        if (!SessionStore.csrfMatches(session, req.headers[CSRF_HEADER])) {
          throw new PgwardenError('FORBIDDEN', 'The request lacks the CSRF token of the session (X-CSRF-Token).');
        }
        sessions.delete(session.id);
        ctx.deps.audit.record({ kind: 'change', actor: session.caller.name, action: 'portal.sign-out', clientAddr: req.ip, result: 'ok' });
      }
      void reply.clearCookie(SESSION_COOKIE, { path: SESSION_COOKIE_OPTIONS.path });
      return reply.code(204).send();
    });
  };
