// OpenID Connect discovery (v1 and v2 documents, shaped like Entra's) and the key sets.
// https://openid.net/specs/openid-connect-discovery-1_0.html
// https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
import type { FastifyInstance } from 'fastify';
import { resolveTenant, type ProviderContext, type TenantScope } from '../context.js';
import { refuse } from '../oauth-errors.js';

/** Entra's key sets may be cached for a day; ours change at rotation, so less. */
const KEYS_MAX_AGE_SECONDS = 300;

export function registerDiscovery(app: FastifyInstance, ctx: ProviderContext): void {
  app.get<{ Params: { tenant: string } }>('/:tenant/.well-known/openid-configuration', async (req, reply) => {
    const scope = await resolveTenant(ctx, req.params.tenant);
    const base = `${ctx.authority()}/${scope.multiTenant ? req.params.tenant.toLowerCase() : scope.data.tenant.id}`;
    const issuer = scope.multiTenant ? `${ctx.authority()}/{tenantid}/` : scope.issuers.v1;
    return reply.header('cache-control', 'max-age=86400, private').send({
      token_endpoint: `${base}/oauth2/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/keys`,
      response_modes_supported: ['query'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code'],
      scopes_supported: ['openid'],
      issuer,
      microsoft_multi_refresh_token: true,
      authorization_endpoint: `${base}/oauth2/authorize`,
      device_authorization_endpoint: `${base}/oauth2/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: false,
      end_session_endpoint: `${base}/oauth2/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'amr', 'name', 'nonce', 'oid', 'tid', 'upn', 'unique_name', 'ver', 'groups'],
      grant_types_supported: grantTypes,
      code_challenge_methods_supported: ['S256'],
      tenant_region_scope: 'local',
      cloud_instance_name: new URL(ctx.authority()).host,
    });
  });

  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => {
    const scope = await resolveTenant(ctx, req.params.tenant);
    return reply.header('cache-control', 'max-age=86400, private').send(v2Document(ctx, scope, req.params.tenant));
  });

  // An AD FS-style authority, `{authority}/adfs`: the tenant's v2 document (its endpoints
  // keep the tenant id). AD FS is one organization's STS with no tenant in its URLs, and
  // this provider has one tenant, so the alias names nothing the tenant URLs do not.
  // Clients treat an authority whose path is `/adfs` as known to the developer: MSAL
  // Python and the Azure CLI then ask nobody (login.microsoftonline.com) about it, and
  // MSAL skips its user-realm request (which drops the port). See docs/idp.md.
  app.get('/adfs/.well-known/openid-configuration', async (_req, reply) => {
    const data = await ctx.directory.snapshot();
    if (!data) throw refuse.tenantNotFound('adfs');
    const scope = await resolveTenant(ctx, data.tenant.id);
    return reply.header('cache-control', 'max-age=86400, private').send(v2Document(ctx, scope, data.tenant.id));
  });

  const keys = (version: '1.0' | '2.0') => async (req: { params: { tenant: string } }, reply: import('fastify').FastifyReply) => {
    const scope = await resolveTenant(ctx, req.params.tenant);
    const published = await ctx.keys.publicKeys(ctx.issuer.maxLifetimeSeconds);
    // Entra's v2 key sets name the issuer each key is for.
    const entries = version === '2.0' && !scope.multiTenant ? published.map((k) => ({ ...k, issuer: scope.issuers.v2 })) : published;
    return reply.header('cache-control', `max-age=${KEYS_MAX_AGE_SECONDS}, private`).send({ keys: entries });
  };
  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/keys', keys('1.0'));
  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/v2.0/keys', keys('2.0'));
}

/** The v2 discovery document of `{tenant}` (the tenant, or `organizations`/`common`). */
function v2Document(ctx: ProviderContext, scope: TenantScope, tenant: string) {
  const base = `${ctx.authority()}/${scope.multiTenant ? tenant.toLowerCase() : scope.data.tenant.id}`;
  const issuer = scope.multiTenant ? `${ctx.authority()}/{tenantid}/v2.0` : scope.issuers.v2;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: false,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'name', 'nonce', 'oid', 'preferred_username', 'tid', 'ver', 'groups'],
    grant_types_supported: grantTypes,
    code_challenge_methods_supported: ['S256'],
    tenant_region_scope: 'local',
    cloud_instance_name: new URL(ctx.authority()).host,
  };
}

const grantTypes = ['authorization_code', 'refresh_token', 'client_credentials', 'password', 'urn:ietf:params:oauth:grant-type:device_code'];
