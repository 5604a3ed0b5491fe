// The one Azure Resource Manager call the Azure CLI makes at `az login`: the list of
// subscriptions, `GET {resource_manager}/subscriptions?api-version=...`. The tenant has no
// subscriptions (nothing here is billed or deployed), so the true answer is an empty list;
// with `az login --allow-no-subscriptions` the CLI then keeps a tenant-level account, and
// `az account get-access-token` works. ARM's `https://management.azure.com/...` is
// `{authority}/arm/...` here (`az cloud register --endpoint-resource-manager`). See
// docs/idp.md, "The Azure CLI".
// https://learn.microsoft.com/rest/api/resources/subscriptions/list
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { ProviderContext } from '../context.js';
import { issuersFor } from '../issuers.js';
import { ARM_BASE_PATH } from '../paths.js';

/** The audiences of Azure Resource Manager tokens (compared ignoring case and a trailing slash). */
const ARM_AUDIENCES = ['https://management.core.windows.net', 'https://management.azure.com'];
const MAX_TOKEN_LENGTH = 16 * 1024;

export function registerArm(app: FastifyInstance, ctx: ProviderContext): void {
  app.get(`${ARM_BASE_PATH}/subscriptions`, async (req: FastifyRequest, reply: FastifyReply) => {
    const requestId = randomUUID();
    reply.header('x-ms-request-id', requestId).header('cache-control', 'no-cache');
    const refused = await refusal(ctx, req);
    if (refused) {
      ctx.log.info({ event: 'arm', refusal: refused.code }, 'arm request refused');
      if (refused.status === 401) reply.header('www-authenticate', `Bearer authorization_uri="${ctx.authority()}/adfs", error="invalid_token"`);
      return reply.code(refused.status).send({ error: { code: refused.code, message: refused.message } });
    }
    ctx.log.info({ event: 'arm', call: 'subscriptions', count: 0 }, 'arm list');
    return reply.send({ value: [] });
  });
}

interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** Why ARM would refuse the request (no api-version, no token, not a token of this
 * tenant for ARM), or undefined. The token is never logged or echoed. */
async function refusal(ctx: ProviderContext, req: FastifyRequest): Promise<Refusal | undefined> {
  const apiVersion = (req.query as Record<string, unknown>)['api-version'];
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    return { status: 400, code: 'MissingApiVersionParameter', message: 'The api-version query parameter (?api-version=) is required for all requests.' };
  }
  const authorization = req.headers.authorization;
  if (!authorization) return { status: 401, code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." };
  const m = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!m || m[1]!.length > MAX_TOKEN_LENGTH)
    return { status: 401, code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is not a bearer token." };
  const data = await ctx.directory.snapshot();
  if (!data) return { status: 401, code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' };
  const issuers = issuersFor(ctx.authority(), data.tenant.id);
  const keys = createLocalJWKSet({ keys: await ctx.keys.publicKeys(ctx.issuer.maxLifetimeSeconds) } as unknown as JSONWebKeySet);
  try {
    const { payload } = await jwtVerify(m[1]!, keys, {
      algorithms: ['RS256'],
      issuer: [issuers.v1, issuers.v2],
      currentDate: new Date(ctx.now()),
      requiredClaims: ['exp', 'aud', 'tid'],
    });
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const forArm = aud.length === 1 && typeof aud[0] === 'string' && ARM_AUDIENCES.includes(aud[0].toLowerCase().replace(/\/+$/, ''));
    if (!forArm) return { status: 401, code: 'InvalidAuthenticationToken', message: 'The access token has an invalid audience.' };
    if (payload.tid !== data.tenant.id) return { status: 401, code: 'InvalidAuthenticationToken', message: 'The access token is from the wrong issuer.' };
  } catch {
    return { status: 401, code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' };
  }
  return undefined;
}
