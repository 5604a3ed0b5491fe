// The device authorization endpoints (RFC 8628 section 3.1-3.3): v1
// `/{tenant}/oauth2/devicecode` (resource=) and v2 `/{tenant}/oauth2/v2.0/devicecode`
// (scope=), and the page where the user enters the code and signs in, `/devicelogin`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { resolveTenant, type ProviderContext } from '../context.js';
import { checkUserPassword } from '../credentials.js';
import { FORM_COOKIE, formCookieHeader, readCookie } from '../form-guard.js';
import { clientName, findClient, findUser } from '../lookups.js';
import { refuse } from '../oauth-errors.js';
import { pageHeaders, renderPage, type Field } from '../pages.js';
import { v1Target, v2Target } from '../resources.js';
import { singleParams } from './params.js';
import { sendError } from './replies.js';
import { retryAfterText } from '../../util/throttle.js';

export const DEVICE_LOGIN_PATH = '/devicelogin';

export function registerDeviceFlow(app: FastifyInstance, ctx: ProviderContext): void {
  const devicecode = (version: '1.0' | '2.0') => async (req: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
    try {
      const params = singleParams(req.body);
      const scope = await resolveTenant(ctx, req.params.tenant);
      if (!params.client_id) throw refuse.missingParameter('client_id');
      if (!findClient(scope.data, params.client_id)) throw refuse.unknownClient(params.client_id.slice(0, 100), scope.data.tenant.id);
      const tenantName = scope.data.tenant.displayName;
      const target = version === '1.0' ? v1Target(params.resource, params.scope, tenantName) : v2Target(params.scope, tenantName, false);
      const auth = ctx.deviceCodes.create(params.client_id.toLowerCase(), target);
      const page = `${ctx.authority()}${DEVICE_LOGIN_PATH}`;
      const expiresIn = Math.round((auth.expiresAt - ctx.now()) / 1000);
      const message = `To sign in, use a web browser to open the page ${page} and enter the code ${auth.userCode} to authenticate.`;
      ctx.log.info({ event: 'devicecode', version, client: auth.clientId }, 'device code issued');
      const body =
        version === '1.0'
          ? {
              user_code: auth.userCode,
              device_code: auth.deviceCode,
              verification_url: page,
              expires_in: String(expiresIn),
              interval: String(auth.intervalSeconds),
              message,
            }
          : { user_code: auth.userCode, device_code: auth.deviceCode, verification_uri: page, expires_in: expiresIn, interval: auth.intervalSeconds, message };
      return reply.header('cache-control', 'no-store').send(body);
    } catch (e) {
      return sendError(reply, e, req, ctx);
    }
  };
  app.post('/:tenant/oauth2/devicecode', devicecode('1.0'));
  app.post('/:tenant/oauth2/v2.0/devicecode', devicecode('2.0'));

  app.get<{ Querystring: Record<string, unknown> }>(DEVICE_LOGIN_PATH, async (req, reply) => {
    const q = req.query;
    const code = typeof q.otc === 'string' ? q.otc : typeof q.code === 'string' ? q.code : '';
    return devicePage(ctx, req, reply, 200, { code: code.slice(0, 20) });
  });

  app.post(DEVICE_LOGIN_PATH, async (req, reply) => {
    let form: Record<string, string>;
    try {
      form = singleParams(req.body);
    } catch {
      return devicePage(ctx, req, reply, 400, { error: 'The form was sent twice over. Try again.' });
    }
    const cookie = readCookie(req.headers.cookie, FORM_COOKIE);
    if (!sameOrigin(req, ctx) || !ctx.forms.check(form.form_token, cookie)) {
      ctx.log.warn({ event: 'devicelogin', outcome: 'form check failed' }, 'device sign-in form refused');
      return devicePage(ctx, req, reply, 403, { error: 'This page expired or did not come from this site. Enter the code again.' });
    }
    const code = (form.code ?? '').slice(0, 20);
    const username = (form.username ?? '').slice(0, 256);
    const auth = ctx.deviceCodes.pendingByUserCode(code);
    if (!auth) {
      ctx.log.info({ event: 'devicelogin', outcome: 'unknown or expired code' }, 'device sign-in refused');
      return devicePage(ctx, req, reply, 400, { code, username, error: "That code didn't work. Check the code and try again." });
    }
    const data = await ctx.directory.snapshot();
    const user = data ? findUser(data, username) : undefined;
    const check = await checkUserPassword(ctx.passwords, req.ip, username, form.password ?? '', user?.passwordHash);
    if (!data || !user || !check.ok) {
      const throttled = !check.ok && check.throttled;
      ctx.log.info({ event: 'devicelogin', outcome: throttled ? 'throttled' : 'wrong credentials', client: auth.clientId }, 'device sign-in refused');
      const error = throttled ? `Too many sign-in attempts. Try again in ${retryAfterText(check.retryAfterMs)}.` : 'Your account or password is incorrect.';
      return devicePage(ctx, req, reply, 400, { code, username, error });
    }
    ctx.deviceCodes.approve(auth, user.objectId);
    ctx.log.info({ event: 'devicelogin', outcome: 'approved', client: auth.clientId, oid: user.objectId }, 'device sign-in approved');
    const client = findClient(data, auth.clientId);
    const app = client ? clientName(client) : auth.clientId;
    const html = renderPage({
      title: 'Signed in',
      brand: data.tenant.domain,
      heading: `You have signed in to the ${app} application on your device.`,
      paragraphs: ['You may now close this window.'],
    });
    return reply.code(200).headers(pageHeaders()).send(html);
  });
}

/** A browser's POST carries Origin (or at least Referer); when it does, it must be ours. */
export function sameOrigin(req: FastifyRequest, ctx: ProviderContext): boolean {
  // Our pages' no-referrer policy makes browsers post their forms with `Origin: null`;
  // Sec-Fetch-Site (which no page can forge) still says where the form came from.
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return origin === undefined;
  return origin === ctx.authority();
}

async function devicePage(
  ctx: ProviderContext,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  values: { code?: string; username?: string; error?: string },
): Promise<FastifyReply> {
  const data = await ctx.directory.snapshot();
  const cookie = ctx.forms.cookieFor(readCookie(req.headers.cookie, FORM_COOKIE));
  const fields: Field[] = [
    {
      name: 'code',
      label: 'Code',
      type: 'text',
      autocomplete: 'one-time-code',
      value: values.code ?? '',
      autofocus: !values.code,
      attributes: 'autocapitalize="characters" spellcheck="false" maxlength="20"',
    },
    {
      name: 'username',
      label: 'User name (name@domain)',
      type: 'text',
      autocomplete: 'username',
      value: values.username ?? '',
      autofocus: !!values.code && !values.username,
      attributes: 'spellcheck="false" autocapitalize="none"',
    },
    { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', autofocus: !!values.code && !!values.username },
  ];
  const html = renderPage({
    title: 'Sign in to your device',
    brand: data?.tenant.domain ?? 'pgwarden',
    heading: 'Enter code',
    paragraphs: ['Enter the code displayed on your app or device, then sign in with your account.'],
    ...(values.error ? { error: values.error } : {}),
    form: { action: DEVICE_LOGIN_PATH, hidden: { form_token: ctx.forms.token(cookie) }, fields, submit: 'Sign in' },
  });
  return reply.code(status).headers(pageHeaders()).header('set-cookie', formCookieHeader(cookie)).send(html);
}
