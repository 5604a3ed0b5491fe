// The provider's HTTPS server: fastify with the form parser and the routes. Request
// logging is fastify's off: URLs can carry codes (authorization codes in redirects, user
// codes in /devicelogin?code=); each route logs what matters without them.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { TlsMaterial } from '../tls/certificates.js';
import type { ProviderContext } from './context.js';
import { isRefusal, refuse } from './oauth-errors.js';
import { registerArm } from './routes/arm.js';
import { registerAuthorize } from './routes/authorize.js';
import { registerDeviceFlow } from './routes/device.js';
import { registerDiscovery } from './routes/discovery.js';
import { registerGraph } from './routes/graph.js';
import { registerLogout } from './routes/logout.js';
import { sendError } from './routes/replies.js';
import { registerTokenEndpoints } from './routes/token.js';

/** Token requests are a few KB at most (a refresh token is about 1 KB). */
const BODY_LIMIT_BYTES = 64 * 1024;
/** A client must send its request within this time. */
const REQUEST_TIMEOUT_MS = 30_000;

export async function buildServer(ctx: ProviderContext, tls: TlsMaterial): Promise<FastifyInstance> {
  const app = Fastify({
    https: { cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' },
    loggerInstance: ctx.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  await app.register(formbody);

  // Errors the routes did not answer themselves: unparsable bodies, wrong content types.
  app.setErrorHandler((error, req, reply) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) return sendError(reply, refuse.malformed((error as { code?: string }).code ?? 'bad request'), req, ctx);
    // A refusal (an unknown tenant, a bad parameter) is the client's mistake, not the
    // provider's fault: info, one line. Errors are for what the provider got wrong.
    if (isRefusal(error)) {
      ctx.log.info({ event: 'http', refusal: error.message.split(':')[0], route: req.routeOptions.url }, 'request refused');
      return sendError(reply, error, req, ctx);
    }
    ctx.log.error({ event: 'http', error: error instanceof Error ? error.message : String(error), route: req.routeOptions.url }, 'request failed');
    return sendError(reply, error, req, ctx);
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', error_description: 'No such endpoint.' }));
  app.addHook('onResponse', async (req, reply) => {
    ctx.log.debug(
      { event: 'http', method: req.method, route: req.routeOptions.url ?? 'unknown', status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  registerDiscovery(app, ctx);
  registerTokenEndpoints(app, ctx);
  registerDeviceFlow(app, ctx);
  registerAuthorize(app, ctx);
  registerLogout(app, ctx);
  registerGraph(app, ctx);
  registerArm(app, ctx);
  return app;
}
