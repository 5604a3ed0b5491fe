// Discovery documents and key sets over real HTTPS, as the gateway and MSAL read them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { startIdp, type TestIdp } from './helpers.js';

let t: TestIdp;
before(async () => {
  t = await startIdp();
});
after(() => t.destroy());

test('v1 discovery: issuer {authority}/{tid}/, v1 endpoints, RS256', async () => {
  const doc = (await t.get(`/${t.tenantId}/.well-known/openid-configuration`)).json<Record<string, unknown>>();
  const base = `${t.authority}/${t.tenantId}`;
  assert.equal(doc.issuer, `${base}/`);
  assert.equal(doc.token_endpoint, `${base}/oauth2/token`);
  assert.equal(doc.jwks_uri, `${base}/discovery/keys`);
  assert.equal(doc.authorization_endpoint, `${base}/oauth2/authorize`);
  assert.equal(doc.device_authorization_endpoint, `${base}/oauth2/devicecode`);
  assert.deepEqual(doc.id_token_signing_alg_values_supported, ['RS256']);
  assert.equal(t.idp.issuers.v1, doc.issuer);
});

test('v2 discovery: issuer {authority}/{tid}/v2.0, v2 endpoints', async () => {
  const doc = (await t.get(`/${t.tenantId}/v2.0/.well-known/openid-configuration`)).json<Record<string, unknown>>();
  const base = `${t.authority}/${t.tenantId}`;
  assert.equal(doc.issuer, `${base}/v2.0`);
  assert.equal(doc.token_endpoint, `${base}/oauth2/v2.0/token`);
  assert.equal(doc.jwks_uri, `${base}/discovery/v2.0/keys`);
  assert.equal(doc.authorization_endpoint, `${base}/oauth2/v2.0/authorize`);
  assert.equal(doc.device_authorization_endpoint, `${base}/oauth2/v2.0/devicecode`);
  assert.equal(doc.end_session_endpoint, `${base}/oauth2/v2.0/logout`);
  assert.equal(t.idp.issuers.v2, doc.issuer);
});

test('the tenant by its domain (any case) gives the same issuer; organizations gives the {tenantid} template', async () => {
  const byDomain = (await t.get(`/${t.idp.tenantDomain.toUpperCase()}/v2.0/.well-known/openid-configuration`)).json<Record<string, unknown>>();
  assert.equal(byDomain.issuer, `${t.authority}/${t.tenantId}/v2.0`);
  const orgs = (await t.get('/organizations/v2.0/.well-known/openid-configuration')).json<Record<string, unknown>>();
  assert.equal(orgs.issuer, `${t.authority}/{tenantid}/v2.0`);
  assert.equal(orgs.token_endpoint, `${t.authority}/organizations/oauth2/v2.0/token`);
});

test('an unknown tenant: 400 invalid_request AADSTS90002, shaped like Entra', async () => {
  const r = await t.get('/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration', {
    'client-request-id': '11111111-2222-3333-4444-555555555555',
  });
  assert.equal(r.status, 400);
  const body = r.json<Record<string, unknown>>();
  assert.equal(body.error, 'invalid_request');
  assert.deepEqual(body.error_codes, [90002]);
  // The message, then the trace Entra appends: two regex literals joined, to keep the lines short.
  const message = /^AADSTS90002: Tenant '00000000-0000-0000-0000-000000000000' not found\..*/.source;
  const trace = / Trace ID: [0-9a-f-]{36} Correlation ID: 11111111-2222-3333-4444-555555555555 Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/.source;
  assert.match(String(body.error_description), new RegExp(message + trace));
  assert.equal(body.correlation_id, '11111111-2222-3333-4444-555555555555');
  assert.match(String(body.timestamp), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  assert.match(String(body.trace_id), /^[0-9a-f-]{36}$/);
});

test('key sets: active and next keys as Entra shapes them; kid = x5t = SHA-1 thumbprint of x5c; v2 entries name the issuer', async () => {
  const v1 = (await t.get(`/${t.tenantId}/discovery/keys`)).json<{ keys: Array<Record<string, unknown>> }>();
  const v2 = (await t.get(`/${t.tenantId}/discovery/v2.0/keys`)).json<{ keys: Array<Record<string, unknown>> }>();
  assert.equal(v1.keys.length, 2, 'active + next');
  for (const k of v1.keys) {
    assert.deepEqual(Object.keys(k).sort(), ['e', 'kid', 'kty', 'n', 'use', 'x5c', 'x5t']);
    assert.equal(k.kty, 'RSA');
    assert.equal(k.use, 'sig');
    assert.equal(k.e, 'AQAB');
    assert.equal(Buffer.from(String(k.n), 'base64url').length, 256, 'RSA-2048');
    const der = Buffer.from((k.x5c as string[])[0]!, 'base64');
    assert.equal(k.x5t, createHash('sha1').update(der).digest('base64url'));
    assert.equal(k.kid, k.x5t);
    const cert = new X509Certificate(der);
    assert.equal(cert.publicKey.export({ format: 'jwk' }).n, k.n, 'the certificate holds the key');
  }
  assert.deepEqual(
    v2.keys.map((k) => k.kid),
    v1.keys.map((k) => k.kid),
  );
  assert.ok(v2.keys.every((k) => k.issuer === `${t.authority}/${t.tenantId}/v2.0`));
});

test('unknown paths are 404; GET on the token endpoint is not served', async () => {
  assert.equal((await t.get('/nothing/here')).status, 404);
  assert.equal((await t.get(`/${t.tenantId}/oauth2/v2.0/token`)).status, 404);
});
