// The control plane's REST API under /api/v1 (fastify, with zod schemas that both
// validate requests and generate the OpenAPI 3.1 document). Served over TLS with the
// gateway's certificate, on loopback by default.
import fastifySwagger from '@fastify/swagger';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AddressInfo } from 'node:net';
import { getAuthMethod } from '../control/auth-methods.js';
import type { TlsMaterial } from '../tls/certificates.js';
import { PgwardenError } from '../util/errors.js';
import { ApiAuthenticator, type Caller } from './authn.js';
import type { ApiDeps } from './context.js';
import { errorHandler } from './problems.js';
import { SignInThrottle, type ThrottlePolicy } from '../util/throttle.js';
import type { Metrics } from '../observability/metrics.js';
import { CSRF_HEADER, SESSION_COOKIE, SessionStore } from './sessions.js';
import { auditRoutes } from './routes/audit.js';
import { authenticationRoutes } from './routes/authentication.js';
import { clusterRoutes } from './routes/cluster.js';
import { clusterExecRoutes } from './routes/cluster-exec.js';
import { directoryRoutes } from './routes/directory.js';
import { principalRoutes } from './routes/principals.js';
import { roleRoutes } from './routes/roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

export const API_PREFIX = '/api/v1';

/** Given to plugins that share the API's server (the portal). */
export interface ApiPluginContext {
  readonly deps: ApiDeps;
  /** Checks an Authorization header value (Bearer token or citus Basic). */
  readonly authenticator: ApiAuthenticator;
  readonly sessions: SessionStore | undefined;
}
/** Requests larger than this are refused (413). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface ApiServerOptions {
  tls: TlsMaterial;
  /** Browser sessions (the portal); the API then also accepts its session cookie. */
  sessions?: SessionStore;
  /** Failures allowed before citus's Basic sign-in is throttled (defaults: the gateway's). */
  throttle?: Partial<ThrottlePolicy>;
  /** The throttle itself, when the caller changes its thresholds later (a reload); else one of `throttle`'s. */
  signInThrottle?: SignInThrottle;
  /** Served at /metrics (Prometheus text format). */
  metrics?: Metrics;
  /** For /readyz: true when pgwarden can serve sign-ins (coordinator reachable, gateway listening). */
  ready?: () => Promise<boolean>;
  /** Extra routes on the same server (the portal), with what they need to sign people in. */
  plugins?: Array<(app: FastifyInstance, ctx: ApiPluginContext) => Promise<void>>;
}

export async function buildApi(deps: ApiDeps, options: ApiServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    https: { cert: options.tls.certPem, key: options.tls.keyPem, minVersion: 'TLSv1.2' },
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
  }).withTypeProvider<ZodTypeProvider>();
  // Scripts send `content-type: application/json` on every call, bodiless ones too
  // (curl -X DELETE -H ...): an empty body is no body. Anything else is parsed by
  // fastify's own JSON parser (which refuses prototype poisoning).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') {
      done(null, undefined);
      return;
    }
    json(req, body.toString(), done);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(deps.log));
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .header('content-type', 'application/problem+json; charset=utf-8')
      .send({
        type: 'urn:pgwarden:problem:NOT_FOUND',
        title: 'Not found',
        status: 404,
        code: 'NOT_FOUND',
        detail: `no route ${req.method} ${req.url.split('?')[0]}`,
      });
  });

  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'pgwarden control plane',
        version: '1',
        description:
          'Authentication methods, Microsoft Entra admins and principals, and native PostgreSQL roles of a cluster. Errors are RFC 9457 problem details.',
      },
      components: {
        securitySchemes: {
          entraToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A Microsoft Entra admin's access token" },
          citus: { type: 'http', scheme: 'basic', description: 'The built-in role citus' },
        },
      },
      security: [{ entraToken: [] }, { citus: [] }],
    },
    transform: jsonSchemaTransform,
  });

  // Probes and metrics are anonymous, like the OpenAPI document: they carry no secrets
  // and no names (see docs/security.md).
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const ready = await (options.ready?.() ?? Promise.resolve(true)).catch(() => false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  if (options.metrics) {
    const metrics = options.metrics;
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
      reply.header('content-type', metrics.registry.contentType).send(await metrics.scrape()),
    );
  }
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());

  const authenticator = new ApiAuthenticator(
    deps.admin,
    () => getAuthMethod(deps.admin),
    deps.verifier,
    options.signInThrottle ?? new SignInThrottle(Date.now, options.throttle),
  );
  const sessions = options.sessions;
  // A request signs in with its Authorization header, or else with the portal's session
  // cookie; with the cookie, a state-changing request must also carry the CSRF token.
  const callerOf = async (req: FastifyRequest): Promise<Caller> => {
    if (req.headers.authorization || !sessions) return authenticator.authenticate(req.headers.authorization, req.ip);
    const session = sessions.get(req.cookies[SESSION_COOKIE]);
    if (!session) return authenticator.authenticate(undefined);
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !SessionStore.csrfMatches(session, req.headers[CSRF_HEADER])) {
      throw new PgwardenError('FORBIDDEN', 'The request lacks the CSRF token of the session (X-CSRF-Token).');
    }
    // A session lasts only while its owner may still manage the cluster. The portal's
    // own session route then ends it and tells the person why.
    if (!(await authenticator.stillAllowed(session.caller))) {
      throw new PgwardenError('UNAUTHORIZED', 'The session ended: its owner may no longer manage this cluster. Sign in again.');
    }
    return session.caller;
  };
  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req) => {
        try {
          req.caller = await callerOf(req);
        } catch (e) {
          const code = e instanceof PgwardenError ? e.code : 'UNAUTHORIZED';
          deps.audit.record({
            kind: 'change',
            action: 'api.sign-in',
            target: `${req.method} ${req.url.split('?')[0]}`,
            clientAddr: req.ip,
            result: 'refused',
            reason: code,
          });
          throw e;
        }
      });
      for (const routes of [authenticationRoutes, principalRoutes, roleRoutes, clusterRoutes, clusterExecRoutes, auditRoutes, directoryRoutes]) {
        await api.register(routes(deps));
      }
    },
    { prefix: API_PREFIX },
  );
  const pluginContext: ApiPluginContext = { deps, authenticator, sessions };
  for (const plugin of options.plugins ?? []) await app.register(async (scope) => plugin(scope, pluginContext));
  return app;
}

export async function listenApi(app: FastifyInstance, host: string, port: number): Promise<AddressInfo> {
  try {
    await app.listen({ host, port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new PgwardenError('PORT_IN_USE', `port ${port} on ${host} is already in use; choose another with --api-port`);
    throw e;
  }
  return app.server.address() as AddressInfo;
}
