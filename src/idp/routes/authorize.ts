// The authorization endpoint (RFC 6749 section 4.1, PKCE RFC 7636): v2
// `/{tenant}/oauth2/v2.0/authorize` (scope=) and v1 `/{tenant}/oauth2/authorize`
// (resource=). GET shows a sign-in page; its POST checks the password and sends the
// browser back to the client's redirect URI with `code` and `state`.
// Redirect URIs: any loopback http(s) URI (localhost, 127.0.0.1, [::1], any port), as
// Entra allows for native clients, or one registered for the client. Until the client and
// redirect URI are known good, errors are shown on a page, never redirected (RFC 6749
// section 4.1.2.1).
// https://learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PgwardenError } from '../../util/errors.js';
import { resolveTenant, type ProviderContext } from '../context.js';
import { checkUserPassword } from '../credentials.js';
import { FORM_COOKIE, formCookieHeader, readCookie } from '../form-guard.js';
import { clientName, findClient, findUser, type Client } from '../lookups.js';
import type { DirectoryData } from '../model.js';
import { isRefusal, oauthErrorName, refuse } from '../oauth-errors.js';
import { pageHeaders, renderPage } from '../pages.js';
import { v1Target, v2Target, type Target } from '../resources.js';
import { sameOrigin } from './device.js';
import { singleParams } from './params.js';
import { retryAfterText } from '../../util/throttle.js';

/** RFC 7636 section 4.1: 43 to 128 characters of [A-Za-z0-9-._~]; S256 gives 43. */
const CODE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;
const MAX_STATE = 2048;

/** The validated authorization request, sealed into the sign-in form. */
interface AuthorizationRequest {
  readonly tenant: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly target: Target;
  readonly state?: string;
  readonly nonce?: string;
  readonly codeChallenge?: string;
}

/** A refusal that can go back to the client, because its redirect URI is known good. */
class RedirectableRefusal {
  constructor(
    readonly redirectUri: string,
    readonly state: string | undefined,
    readonly refusal: PgwardenError,
  ) {}
}

export function registerAuthorize(app: FastifyInstance, ctx: ProviderContext): void {
  for (const [path, version] of [
    ['/:tenant/oauth2/v2.0/authorize', '2.0'],
    ['/:tenant/oauth2/authorize', '1.0'],
  ] as const) {
    app.get<{ Params: { tenant: string } }>(path, async (req, reply) => {
      try {
        const { data, request } = await validate(ctx, req.params.tenant, singleParams(req.query), version);
        const hint = (req.query as Record<string, unknown>).login_hint;
        return signInPage(ctx, req, reply, 200, data, request, { username: typeof hint === 'string' ? hint.slice(0, 256) : '' });
      } catch (e) {
        return refuseAuthorization(ctx, reply, e);
      }
    });

    app.post<{ Params: { tenant: string } }>(path, async (req, reply) => {
      let form: Record<string, string>;
      try {
        form = singleParams(req.body);
      } catch (e) {
        return refuseAuthorization(ctx, reply, e);
      }
      const request = ctx.forms.open<AuthorizationRequest>(form.request);
      const data = await ctx.directory.snapshot();
      if (!request || !data || !sameOrigin(req, ctx) || !ctx.forms.check(form.form_token, readCookie(req.headers.cookie, FORM_COOKIE))) {
        ctx.log.warn({ event: 'authorize', outcome: 'form check failed' }, 'authorize form refused');
        return messagePage(reply, 403, 'This page expired or did not come from this site', 'Go back to the application and sign in again.');
      }
      const username = (form.username ?? '').slice(0, 256);
      const user = findUser(data, username);
      const check = await checkUserPassword(ctx.passwords, req.ip, username, form.password ?? '', user?.passwordHash);
      if (!user || !check.ok) {
        const throttled = !check.ok && check.throttled;
        ctx.log.info({ event: 'authorize', outcome: throttled ? 'throttled' : 'wrong credentials', client: request.clientId }, 'authorize sign-in refused');
        const error = throttled ? `Too many sign-in attempts. Try again in ${retryAfterText(check.retryAfterMs)}.` : 'Your account or password is incorrect.';
        return signInPage(ctx, req, reply, 400, data, request, { username, error });
      }
      const code = ctx.authorizationCodes.issue({
        clientId: request.clientId,
        redirectUri: request.redirectUri,
        target: request.target,
        nonce: request.nonce,
        codeChallenge: request.codeChallenge,
        objectId: user.objectId,
      });
      ctx.log.info({ event: 'authorize', outcome: 'code issued', client: request.clientId, oid: user.objectId }, 'authorization code issued');
      return redirect(reply, request.redirectUri, { code, ...(request.state !== undefined ? { state: request.state } : {}) });
    });
  }
}

async function validate(
  ctx: ProviderContext,
  tenant: string,
  q: Record<string, string>,
  version: '1.0' | '2.0',
): Promise<{ data: DirectoryData; request: AuthorizationRequest }> {
  const scope = await resolveTenant(ctx, tenant);
  const data = scope.data;
  if (!q.client_id) throw refuse.missingParameter('client_id');
  const client = findClient(data, q.client_id);
  if (!client) throw refuse.unknownClient(q.client_id.slice(0, 100), data.tenant.id);
  if (!q.redirect_uri) throw refuse.missingParameter('redirect_uri');
  if (!redirectAllowed(client, q.redirect_uri)) throw refuse.redirectNotRegistered(q.redirect_uri.slice(0, 300), q.client_id);
  const state = q.state?.slice(0, MAX_STATE);
  // From here on, refusals go back to the client.
  try {
    if (q.response_type !== 'code') throw refuse.responseType((q.response_type ?? '').slice(0, 40));
    if (q.response_mode !== undefined && q.response_mode !== 'query') throw refuse.malformed("response_mode must be 'query'");
    const tenantName = data.tenant.displayName;
    const target = version === '1.0' ? v1Target(q.resource, q.scope, tenantName) : v2Target(q.scope, tenantName, false);
    if (q.code_challenge !== undefined || client.kind === 'public') {
      if (!q.code_challenge) throw refuse.pkceRequired();
      if (q.code_challenge_method !== 'S256') throw refuse.pkceMethod();
      if (!CODE_CHALLENGE.test(q.code_challenge)) throw refuse.malformed('code_challenge');
    }
    return {
      data,
      request: {
        tenant,
        clientId: q.client_id.toLowerCase(),
        redirectUri: q.redirect_uri,
        target,
        ...(state !== undefined ? { state } : {}),
        ...(q.nonce ? { nonce: q.nonce.slice(0, 512) } : {}),
        ...(q.code_challenge ? { codeChallenge: q.code_challenge } : {}),
      },
    };
  } catch (e) {
    if (isRefusal(e)) throw new RedirectableRefusal(q.redirect_uri, state, e);
    throw e;
  }
}

function isLoopback(uri: URL): boolean {
  return (uri.protocol === 'http:' || uri.protocol === 'https:') && ['localhost', '127.0.0.1', '[::1]'].includes(uri.hostname);
}

function redirectAllowed(client: Client, redirectUri: string): boolean {
  let u: URL;
  try {
    u = new URL(redirectUri);
  } catch {
    return false;
  }
  if (u.hash) return false;
  const registered = client.kind === 'public' ? client.app.redirectUris : client.sp.redirectUris;
  return isLoopback(u) || registered.includes(redirectUri);
}

function redirect(reply: FastifyReply, redirectUri: string, params: Record<string, string>): FastifyReply {
  const u = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return reply.code(302).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').header('location', u.toString()).send();
}

function refuseAuthorization(ctx: ProviderContext, reply: FastifyReply, e: unknown): FastifyReply {
  if (e instanceof RedirectableRefusal) {
    ctx.log.info({ event: 'authorize', refusal: e.refusal.message.split(':')[0] }, 'authorization refused');
    return redirect(reply, e.redirectUri, {
      error: oauthErrorName(e.refusal),
      error_description: e.refusal.message,
      ...(e.state !== undefined ? { state: e.state } : {}),
    });
  }
  if (isRefusal(e)) {
    ctx.log.info({ event: 'authorize', refusal: e.message.split(':')[0] }, 'authorization refused');
    return messagePage(reply, 400, "Sorry, but we're having trouble signing you in.", e.message);
  }
  ctx.log.error({ event: 'authorize', error: e instanceof Error ? e.message : String(e) }, 'authorize failed');
  return messagePage(reply, 500, "Sorry, but we're having trouble signing you in.", 'AADSTS90000: The server could not process the request.');
}

function messagePage(reply: FastifyReply, status: number, heading: string, text: string): FastifyReply {
  return reply
    .code(status)
    .headers(pageHeaders())
    .send(renderPage({ title: 'Sign in', brand: 'pgwarden', heading, paragraphs: [text] }));
}

async function signInPage(
  ctx: ProviderContext,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  data: DirectoryData,
  request: AuthorizationRequest,
  values: { username: string; error?: string },
): Promise<FastifyReply> {
  const cookie = ctx.forms.cookieFor(readCookie(req.headers.cookie, FORM_COOKIE));
  const client = findClient(data, request.clientId);
  const html = renderPage({
    title: 'Sign in to your account',
    brand: data.tenant.domain,
    heading: 'Sign in',
    paragraphs: [`to continue to ${client ? clientName(client) : request.clientId}`],
    ...(values.error ? { error: values.error } : {}),
    form: {
      action: req.url.split('?')[0]!,
      hidden: { request: ctx.forms.seal(request), form_token: ctx.forms.token(cookie) },
      fields: [
        {
          name: 'username',
          label: 'User name (name@domain)',
          type: 'text',
          autocomplete: 'username',
          value: values.username,
          autofocus: !values.username,
          attributes: 'spellcheck="false" autocapitalize="none"',
        },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', autofocus: !!values.username },
      ],
      submit: 'Sign in',
    },
  });
  // The form's POST answers with a redirect to the client: allow it as a form action.
  return reply
    .code(status)
    .headers(pageHeaders([new URL(request.redirectUri).origin]))
    .header('set-cookie', formCookieHeader(cookie))
    .send(html);
}
