// The end-session endpoints that discovery names. The provider keeps no browser session
// (every sign-in asks for the password), so signing out only has to send the browser on:
// to `post_logout_redirect_uri` when it is a loopback URI or registered for a client of
// the tenant, else to a short page.
// https://openid.net/specs/openid-connect-rpinitiated-1_0.html
import type { FastifyInstance } from 'fastify';
import type { ProviderContext } from '../context.js';
import { pageHeaders, renderPage } from '../pages.js';

export function registerLogout(app: FastifyInstance, ctx: ProviderContext): void {
  for (const path of ['/:tenant/oauth2/v2.0/logout', '/:tenant/oauth2/logout']) {
    app.get<{ Querystring: Record<string, unknown> }>(path, async (req, reply) => {
      const target = req.query.post_logout_redirect_uri;
      if (typeof target === 'string' && (await allowed(ctx, target))) {
        return reply.code(302).header('cache-control', 'no-store').header('location', target).send();
      }
      const html = renderPage({
        title: 'Signed out',
        brand: 'pgwarden',
        heading: 'You signed out of your account',
        paragraphs: ["It's a good idea to close all browser windows."],
      });
      return reply.code(200).headers(pageHeaders()).send(html);
    });
  }
}

async function allowed(ctx: ProviderContext, uri: string): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    if (['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)) return true;
  }
  const data = await ctx.directory.snapshot();
  return !!data && [...data.publicClients, ...data.servicePrincipals].some((c) => c.redirectUris.includes(uri));
}
