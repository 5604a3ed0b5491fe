// The client credentials grant (service principals signing in as themselves), v1 and v2,
// secrets in the body or in HTTP Basic, and the refusals Entra gives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { headerOf, startIdp, type TestIdp } from './helpers.js';

const PG = 'https://token.postgres.cosmos.azure.com';
let t: TestIdp;
let sp: { appId: string; objectId: string; secret: string };
let groupId: string;

before(async () => {
  t = await startIdp();
  const made = await t.idp.directory.addServicePrincipal({ displayName: 'etl-job' });
  sp = { appId: made.servicePrincipal.appId, objectId: made.servicePrincipal.objectId, secret: made.secret };
  groupId = (await t.idp.directory.addGroup({ displayName: 'loaders' })).objectId;
  await t.idp.directory.addMember('loaders', 'etl-job');
});
after(() => t.destroy());

const v1 = (form: Record<string, string>, headers?: Record<string, string>) => t.post(`/${t.tenantId}/oauth2/token`, form, headers);
const v2 = (form: Record<string, string>, headers?: Record<string, string>) => t.post(`/${t.tenantId}/oauth2/v2.0/token`, form, headers);

test('v1: an app token with Entra v1 app claims, string numbers in the response', async () => {
  const r = await v1({ grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.secret, resource: PG });
  assert.equal(r.status, 200, r.text());
  const body = r.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body), ['token_type', 'expires_in', 'ext_expires_in', 'expires_on', 'not_before', 'resource', 'access_token']);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.resource, PG);
  for (const k of ['expires_in', 'ext_expires_in', 'expires_on', 'not_before']) assert.match(body[k] as string, /^\d+$/);
  const token = String(body.access_token);
  assert.deepEqual(headerOf(token), { typ: 'JWT', alg: 'RS256', kid: headerOf(token).kid, x5t: headerOf(token).kid });
  const { payload } = await t.verify(token, '1.0', PG);
  assert.deepEqual(
    Object.keys(payload).sort(),
    ['aio', 'appid', 'appidacr', 'aud', 'exp', 'groups', 'iat', 'idp', 'idtyp', 'iss', 'nbf', 'oid', 'rh', 'sub', 'tid', 'uti', 'ver'].sort(),
  );
  assert.equal(payload.iss, `${t.authority}/${t.tenantId}/`);
  assert.equal(payload.idp, `${t.authority}/${t.tenantId}/`);
  assert.equal(payload.appid, sp.appId);
  assert.equal(payload.appidacr, '1');
  assert.equal(payload.idtyp, 'app');
  assert.equal(payload.oid, sp.objectId);
  assert.equal(payload.sub, sp.objectId);
  assert.equal(payload.tid, t.tenantId);
  assert.equal(payload.ver, '1.0');
  assert.deepEqual(payload.groups, [groupId]);
  assert.equal(Number(body.expires_on), payload.exp);
});

test('v2 with HTTP Basic: scope RESOURCE/.default, an app token with azp, numbers in the response', async () => {
  const basic = Buffer.from(`${encodeURIComponent(sp.appId)}:${encodeURIComponent(sp.secret)}`).toString('base64');
  const r = await v2({ grant_type: 'client_credentials', scope: `${PG}/.default` }, { authorization: `Basic ${basic}` });
  assert.equal(r.status, 200, r.text());
  const body = r.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body), ['token_type', 'scope', 'expires_in', 'ext_expires_in', 'access_token']);
  assert.equal(typeof body.expires_in, 'number');
  assert.equal(body.scope, `${PG}/.default`);
  const { payload } = await t.verify(String(body.access_token), '2.0', PG);
  assert.equal(payload.iss, `${t.authority}/${t.tenantId}/v2.0`);
  assert.equal(payload.azp, sp.appId);
  assert.equal(payload.azpacr, '1');
  assert.equal(payload.idtyp, 'app');
  assert.equal(payload.ver, '2.0');
  assert.equal(payload.preferred_username, undefined);
  assert.equal(payload.appid, undefined);
});

test('the tenant may be named by its domain; aud is the resource exactly as requested', async () => {
  const r = await t.post(`/${t.idp.tenantDomain}/oauth2/token`, {
    grant_type: 'client_credentials',
    client_id: sp.appId,
    client_secret: sp.secret,
    resource: 'https://ossrdbms-aad.database.windows.net/',
  });
  assert.equal(r.status, 200, r.text());
  const { payload } = await t.verify(r.json<{ access_token: string }>().access_token, '1.0', 'https://ossrdbms-aad.database.windows.net/');
  assert.equal(payload.aud, 'https://ossrdbms-aad.database.windows.net/');
});

test('a wrong client secret: 401 invalid_client AADSTS7000215', async () => {
  const r = await v1({ grant_type: 'client_credentials', client_id: sp.appId, client_secret: `${sp.secret}x`, resource: PG });
  assert.equal(r.status, 401);
  const body = r.json<{ error: string; error_codes: number[]; error_description: string }>();
  assert.equal(body.error, 'invalid_client');
  assert.deepEqual(body.error_codes, [7000215]);
  assert.match(body.error_description, new RegExp(`^AADSTS7000215: Invalid client secret provided.*'${sp.appId}'`));
});

test('no secret, an unknown client, a public client, a secret sent twice', async () => {
  const noSecret = await v1({ grant_type: 'client_credentials', client_id: sp.appId, resource: PG });
  assert.equal(noSecret.status, 401);
  assert.deepEqual(noSecret.json<{ error_codes: number[] }>().error_codes, [7000218]);

  const unknown = await v1({ grant_type: 'client_credentials', client_id: '9f0b3f5e-0000-4000-8000-000000000000', client_secret: 'x', resource: PG });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json<{ error: string }>().error, 'unauthorized_client');
  assert.deepEqual(unknown.json<{ error_codes: number[] }>().error_codes, [700016]);

  const cli = await v1({ grant_type: 'client_credentials', client_id: AZURE_CLI_CLIENT_ID, resource: PG });
  assert.equal(cli.json<{ error: string }>().error, 'invalid_client');

  const basic = Buffer.from(`${sp.appId}:${sp.secret}`).toString('base64');
  const twice = await v1({ grant_type: 'client_credentials', client_secret: sp.secret, resource: PG }, { authorization: `Basic ${basic}` });
  assert.equal(twice.json<{ error: string }>().error, 'invalid_request');
});

test('an unknown resource: 400 invalid_resource AADSTS500011; v2 without /.default: AADSTS1002012', async () => {
  const r = await v1({ grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.secret, resource: 'https://graph.example.com' });
  assert.equal(r.status, 400);
  const body = r.json<{ error: string; error_codes: number[]; error_description: string }>();
  assert.equal(body.error, 'invalid_resource');
  assert.deepEqual(body.error_codes, [500011]);
  assert.match(body.error_description, /^AADSTS500011: The resource principal named https:\/\/graph\.example\.com was not found in the tenant/);

  const scope = await v2({ grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.secret, scope: `${PG}/user_impersonation` });
  assert.equal(scope.json<{ error: string }>().error, 'invalid_scope');
  assert.deepEqual(scope.json<{ error_codes: number[] }>().error_codes, [1002012]);

  const none = await v2({ grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.secret });
  assert.deepEqual(none.json<{ error_codes: number[] }>().error_codes, [900144]);
});

test('client credentials through organizations are refused: an app has no home there', async () => {
  const r = await t.post('/organizations/oauth2/v2.0/token', {
    grant_type: 'client_credentials',
    client_id: sp.appId,
    client_secret: sp.secret,
    scope: `${PG}/.default`,
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json<{ error_codes: number[] }>().error_codes, [50059]);
});

test('an expired client secret: 401 AADSTS7000222', async () => {
  const made = await t.idp.directory.addServicePrincipal({ displayName: 'short-lived' });
  t.clock.advance(366 * 86_400_000);
  try {
    const r = await v1({ grant_type: 'client_credentials', client_id: made.servicePrincipal.appId, client_secret: made.secret, resource: PG });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json<{ error_codes: number[] }>().error_codes, [7000222]);
  } finally {
    t.clock.advance(-366 * 86_400_000);
  }
});

test('bad requests: no grant_type, an unknown grant type, a parameter twice', async () => {
  const none = await v1({ client_id: sp.appId });
  assert.deepEqual(none.json<{ error_codes: number[] }>().error_codes, [900144]);
  const unknown = await v1({ grant_type: 'magic', client_id: sp.appId, client_secret: sp.secret });
  assert.equal(unknown.json<{ error: string }>().error, 'unsupported_grant_type');
  const dup = await httpPostRaw(`grant_type=client_credentials&client_id=${sp.appId}&client_id=${sp.appId}`);
  assert.equal(dup.status, 400);
  assert.equal(JSON.parse(dup.body).error, 'invalid_request');
});

async function httpPostRaw(body: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      `${t.authority}/${t.tenantId}/oauth2/token`,
      { method: 'POST', ca: t.ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
