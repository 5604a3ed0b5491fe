// The portal: the cluster's "Authentication" page in a browser, on the API's own HTTPS
// server (same origin, so the page calls /api/v1 with its session cookie and CSRF token).
//
//   buildApi(deps, { tls, sessions: new SessionStore(), plugins: [portalPlugin()] })
//
// Routes: `/` (the page), `/assets/*` and `/favicon.svg` (its bundled files),
// `/portal/session` (who is signed in; citus sign-in; sign-out),
// `/portal/signin/entra` and `/portal/signin/callback` (sign-in with the identity provider).
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiPluginContext } from '../api/server.js';
import { AZURE_CLI_CLIENT_ID } from '../idp/model.js';
import { PgwardenError } from '../util/errors.js';
import { defaultAssetsDir, loadAssets } from './assets.js';
import { entraRoutes } from './entra-routes.js';
import { PendingSignIns } from './entra-signin.js';
import { SECURITY_HEADERS } from './headers.js';
import { sessionRoutes } from './session-routes.js';

export interface PortalOptions {
  /** The built front-end (default: dist/portal/web of this package). */
  readonly assetsDir?: string;
  /**
   * Sign-in with Microsoft Entra ID or the embedded provider. clientId: a public client
   * allowed to redirect to `<publicUrl>/portal/signin/callback` (default: the Azure CLI's
   * well-known id, which every embedded tenant has; the embedded provider accepts any
   * loopback redirect URI). publicUrl: the portal's URL as browsers reach it, when it is not
   * the request's own (behind a proxy, or a registered redirect URI).
   */
  readonly entra?: { readonly clientId?: string; readonly publicUrl?: string };
}

export type PortalPlugin = (app: FastifyInstance, ctx: ApiPluginContext) => Promise<void>;

/**
 * The portal as a public client of the embedded identity provider: register it there
 * (`idp.directory.registerPublicClient(PORTAL_APPLICATION)`) and pass its id as
 * `entra.clientId`, so that the provider's page says "to continue to pgwarden portal".
 */
export const PORTAL_APPLICATION = { appId: '7e979edc-dede-4a14-951c-9bb27f062b14', displayName: 'pgwarden portal' } as const;

export function portalPlugin(options: PortalOptions = {}): PortalPlugin {
  return async (app, ctx) => {
    const sessions = ctx.sessions;
    if (!sessions) throw new PgwardenError('CONFIG_INVALID', 'the portal needs browser sessions: buildApi(deps, { sessions: new SessionStore(), ... })');
    const assets = loadAssets(options.assetsDir ?? defaultAssetsDir());
    const pending = new PendingSignIns();

    app.addHook('onSend', async (_req, reply) => {
      void reply.headers(SECURITY_HEADERS);
    });

    app.get('/', { schema: { hide: true } }, async (_req, reply) => {
      if (!assets.indexHtml) throw new PgwardenError('NOT_FOUND', 'The portal is not built: run npm run build.');
      return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(assets.indexHtml);
    });
    app.get('/favicon.svg', { schema: { hide: true } }, async (_req, reply) => {
      if (!assets.favicon) throw new PgwardenError('NOT_FOUND', 'no favicon');
      return reply.header('content-type', 'image/svg+xml').header('cache-control', 'public, max-age=86400').send(assets.favicon);
    });
    // File names carry a content hash: cached for good.
    await app.register(fastifyStatic, {
      root: join(assets.dir, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      dotfiles: 'deny',
      immutable: true,
      maxAge: '365d',
      schemaHide: true,
    });

    const typed = app.withTypeProvider<ZodTypeProvider>();
    await typed.register(sessionRoutes(ctx, sessions, pending));
    await typed.register(
      entraRoutes(ctx, sessions, pending, {
        clientId: options.entra?.clientId ?? AZURE_CLI_CLIENT_ID,
        ...(options.entra?.publicUrl ? { publicUrl: options.entra.publicUrl } : {}),
      }),
    );
  };
}
