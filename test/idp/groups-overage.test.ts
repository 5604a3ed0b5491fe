// Groups overage and the Graph membership actions: with groupsClaimLimit 2, a subject in
// 3 groups gets `_claim_names`/`_claim_sources` instead of `groups` (user tokens by the
// password grant, app tokens by client credentials, v1 and v2), one in 2 groups the
// `groups` claim as before; the overage endpoint (getMemberObjects) and checkMemberGroups
// answer over real HTTPS for an app-only Graph token whose service principal was granted
// GroupMember.Read.All (or Directory.Read.All), with Graph's refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { accessTokenClaims, DEFAULT_GROUPS_CLAIM_LIMIT, type ClaimsContext } from '../../src/idp/claims.js';
import { EmbeddedIdp } from '../../src/idp/embedded-idp.js';
import { issuersFor } from '../../src/idp/issuers.js';
import { AZURE_CLI_CLIENT_ID, type ServicePrincipal } from '../../src/idp/model.js';
import { PgwardenError } from '../../src/util/errors.js';
import { httpRequestJson, type HttpResponse } from '../../src/util/http-client.js';
import { GRAPH_RESOURCE } from '../../src/idp/resources.js';
import { addSp, claimsOf, startIdp, type TestIdp, type TestSp } from './helpers.js';

const GRAPH = GRAPH_RESOURCE;
const OSS = 'https://ossrdbms-aad.database.windows.net';
const PASSWORD = 'Overage-test-passw0rd!';

type Sp = TestSp;
interface GraphStrings {
  '@odata.context': string;
  value: string[];
}
interface GraphError {
  error: { code: string; message: string; innerError: Record<string, string> };
}

let t: TestIdp;
let reader: Sp; // calls Graph; in no group
let spMany: Sp; // in 3 groups
let spFew: Sp; // in 2 groups
let many: { oid: string; upn: string }; // a user in 3 groups
let few: { oid: string; upn: string }; // a user in 2 groups
let g: { a: string; b: string; c: string; empty: string };
let graphToken: string;

before(async () => {
  t = await startIdp({ groupsClaimLimit: 2 });
  const d = t.idp.directory;
  const sp = (displayName: string): Promise<Sp> => addSp(t, displayName);
  reader = await sp('directory-reader');
  // What resolving group memberships needs, and no more (lists need Directory.Read.All).
  await d.grantGraphPermission('directory-reader', 'GroupMember.Read.All');
  spMany = await sp('crowded-job');
  spFew = await sp('quiet-job');
  const user = async (name: string) => {
    const u = (await d.addUser({ userPrincipalName: name, displayName: name, password: PASSWORD })).user;
    return { oid: u.objectId, upn: u.userPrincipalName! };
  };
  many = await user('many');
  few = await user('few');
  const group = async (name: string) => (await d.addGroup({ displayName: name })).objectId;
  g = { a: await group('group-a'), b: await group('group-b'), c: await group('group-c'), empty: await group('group-empty') };
  for (const id of [g.a, g.b, g.c]) {
    await d.addMember(id, many.oid);
    await d.addMember(id, spMany.objectId);
  }
  for (const id of [g.a, g.c]) {
    await d.addMember(id, few.oid);
    await d.addMember(id, spFew.objectId);
  }
  graphToken = (await clientCredentials(reader, '2.0', GRAPH)).access_token;
});
after(() => t.destroy());

async function userTokens(upn: string, version: '1.0' | '2.0', extra: Record<string, string> = {}): Promise<{ access_token: string; id_token?: string }> {
  const params = { grant_type: 'password', client_id: AZURE_CLI_CLIENT_ID, username: upn, password: PASSWORD, ...extra };
  const r =
    version === '1.0'
      ? await t.post(`/${t.tenantId}/oauth2/token`, { ...params, resource: OSS })
      : await t.post(`/${t.tenantId}/oauth2/v2.0/token`, { scope: `${OSS}/.default`, ...params });
  assert.equal(r.status, 200, r.text());
  return r.json();
}

async function clientCredentials(sp: Sp, version: '1.0' | '2.0', resource = OSS): Promise<{ access_token: string }> {
  const params = { grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.secret };
  const r =
    version === '1.0'
      ? await t.post(`/${t.tenantId}/oauth2/token`, { ...params, resource })
      : await t.post(`/${t.tenantId}/oauth2/v2.0/token`, { ...params, scope: `${resource}/.default` });
  assert.equal(r.status, 200, r.text());
  return r.json();
}

/** POST {path} (under /graph/v1.0, or a whole URL) with a JSON body; `body` undefined:
 * no body at all; `bearer` null: no Authorization header. */
function post(path: string, body: unknown, bearer: string | null = graphToken, raw?: { contentType: string; data: string }): Promise<HttpResponse> {
  const url = path.startsWith('https://') ? path : `${t.authority}/graph/v1.0/${path}`;
  return httpRequestJson(url, {
    method: 'POST',
    ca: t.ca,
    headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
    ...(raw ? { raw } : body === undefined ? {} : { json: body }),
  });
}

async function values(r: HttpResponse): Promise<string[]> {
  assert.equal(r.status, 200, r.text());
  const body = r.json<GraphStrings>();
  assert.deepEqual(Object.keys(body), ['@odata.context', 'value']);
  assert.equal(body['@odata.context'], `${t.authority}/graph/v1.0/$metadata#Collection(Edm.String)`);
  return body.value;
}

function refused(r: HttpResponse, status: number, code: string): string {
  assert.equal(r.status, status, r.text());
  const body = r.json<GraphError>();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error), ['code', 'message', 'innerError']);
  assert.equal(body.error.code, code);
  return body.error.message;
}

const check = (collection: string, id: string, groupIds: unknown, bearer: string | null = graphToken) =>
  post(`${collection}/${id}/checkMemberGroups`, { groupIds }, bearer);
const sorted = (ids: string[]) => [...ids].sort();

test('a user in more groups than the limit: v1 and v2 access tokens carry the groups overage, no groups', async () => {
  for (const version of ['1.0', '2.0'] as const) {
    const { access_token, id_token } = await userTokens(many.upn, version, version === '2.0' ? { scope: `${OSS}/.default openid profile` } : {});
    const { payload } = await t.verify(access_token, version, OSS);
    assert.equal(payload.groups, undefined, version);
    assert.deepEqual(payload._claim_names, { groups: 'src1' });
    assert.deepEqual(payload._claim_sources, { src1: { endpoint: `${t.authority}/graph/v1.0/users/${many.oid}/getMemberObjects` } });
    assert.equal(payload.oid, many.oid);
    if (version === '2.0') {
      // ID tokens carry no groups here, so no overage either.
      const id = claimsOf(id_token!);
      assert.equal(id.groups, undefined);
      assert.equal(id._claim_names, undefined);
      assert.equal(id._claim_sources, undefined);
    }
  }
});

test('a user in as many groups as the limit: the groups claim as before, no overage', async () => {
  for (const version of ['1.0', '2.0'] as const) {
    const { payload } = await t.verify((await userTokens(few.upn, version)).access_token, version, OSS);
    assert.deepEqual(sorted(payload.groups as string[]), sorted([g.a, g.c]), version);
    assert.equal(payload._claim_names, undefined);
    assert.equal(payload._claim_sources, undefined);
  }
  // A user in no group: neither.
  const r = await t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
    grant_type: 'password',
    client_id: AZURE_CLI_CLIENT_ID,
    username: t.admin.username,
    password: t.admin.password,
    scope: `${OSS}/.default`,
  });
  const admin = claimsOf(r.json<{ access_token: string }>().access_token);
  assert.equal(admin.groups, undefined);
  assert.equal(admin._claim_names, undefined);
});

test('a refreshed token follows the same rule', async () => {
  const r = await t.post(`/${t.tenantId}/oauth2/token`, {
    grant_type: 'password',
    client_id: AZURE_CLI_CLIENT_ID,
    username: many.upn,
    password: PASSWORD,
    resource: OSS,
  });
  const refreshed = await t.post(`/${t.tenantId}/oauth2/token`, {
    grant_type: 'refresh_token',
    client_id: AZURE_CLI_CLIENT_ID,
    refresh_token: r.json<{ refresh_token: string }>().refresh_token,
    resource: OSS,
  });
  assert.equal(refreshed.status, 200, refreshed.text());
  const claims = claimsOf(refreshed.json<{ access_token: string }>().access_token);
  assert.equal(claims.groups, undefined);
  assert.deepEqual(claims._claim_names, { groups: 'src1' });
});

test('a service principal by client credentials: overage past the limit (servicePrincipals/{oid}), groups at it', async () => {
  for (const version of ['1.0', '2.0'] as const) {
    const { payload } = await t.verify((await clientCredentials(spMany, version)).access_token, version, OSS);
    assert.equal(payload.groups, undefined, version);
    assert.deepEqual(payload._claim_names, { groups: 'src1' });
    assert.deepEqual(payload._claim_sources, { src1: { endpoint: `${t.authority}/graph/v1.0/servicePrincipals/${spMany.objectId}/getMemberObjects` } });
    const fewClaims = (await t.verify((await clientCredentials(spFew, version)).access_token, version, OSS)).payload;
    assert.deepEqual(sorted(fewClaims.groups as string[]), sorted([g.a, g.c]), version);
    assert.equal(fewClaims._claim_names, undefined);
    assert.equal(fewClaims._claim_sources, undefined);
  }
});

test('the overage endpoint answers all the groups (getMemberObjects), for a user and a service principal', async () => {
  const userEndpoint = (claimsOf((await userTokens(many.upn, '1.0')).access_token)._claim_sources as Record<string, { endpoint: string }>).src1!.endpoint;
  const spEndpoint = (claimsOf((await clientCredentials(spMany, '2.0')).access_token)._claim_sources as Record<string, { endpoint: string }>).src1!.endpoint;
  for (const securityEnabledOnly of [true, false]) {
    assert.deepEqual(sorted(await values(await post(userEndpoint, { securityEnabledOnly }))), sorted([g.a, g.b, g.c]));
    assert.deepEqual(sorted(await values(await post(spEndpoint, { securityEnabledOnly }))), sorted([g.a, g.b, g.c]));
  }
  assert.deepEqual(sorted(await values(await post(`directoryObjects/${few.oid}/getMemberObjects`, { securityEnabledOnly: true }))), sorted([g.a, g.c]));
  assert.deepEqual(await values(await post(`users/${t.admin.objectId}/getMemberObjects`, { securityEnabledOnly: false })), []);
  assert.deepEqual(await values(await post(`directoryObjects/${g.a}/getMemberObjects`, { securityEnabledOnly: false })), [], 'groups are in no group');
  assert.match(refused(await post(`users/${many.oid}/getMemberObjects`, {}), 400, 'Request_BadRequest'), /'securityEnabledOnly' is missing/);
  assert.match(refused(await post(`users/${many.oid}/getMemberObjects`, { securityEnabledOnly: 'true' }), 400, 'Request_BadRequest'), /true or false/);
  assert.match(refused(await post(`users/${many.oid}/getMemberObjects`, undefined), 400, 'Request_BadRequest'), /body is missing/);
  refused(await post(`servicePrincipals/${many.oid}/getMemberObjects`, { securityEnabledOnly: true }), 404, 'Request_ResourceNotFound');
  refused(await post(`users/${many.oid}/getMemberObjects`, { securityEnabledOnly: true }, null), 401, 'InvalidAuthenticationToken');
});

test('checkMemberGroups: the given groups the object is a member of, in the order given, lower case', async () => {
  const r = await check('users', many.oid, [g.c.toUpperCase(), g.empty, g.a]);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.ok(r.headers['request-id']);
  assert.deepEqual(await values(r), [g.c, g.a]);
  assert.deepEqual(await values(await check('users', many.oid, [g.a, g.b, g.c])), [g.a, g.b, g.c]);
  assert.deepEqual(await values(await check('users', many.oid, [g.b, g.a])), [g.b, g.a]);
  assert.deepEqual(await values(await check('users', few.oid, [g.b, g.c, g.a])), [g.c, g.a]);
  assert.deepEqual(await values(await check('users', few.oid, [g.b, randomUUID()])), [], 'unknown group ids are simply not memberships');
  assert.deepEqual(await values(await check('users', few.oid, [g.a, g.a.toUpperCase()])), [g.a], 'a group given twice is answered once');
  // The user by its object id in capitals, or by its user principal name.
  assert.deepEqual(await values(await check('users', many.oid.toUpperCase(), [g.b])), [g.b]);
  assert.deepEqual(await values(await check('users', encodeURIComponent(many.upn.toUpperCase()), [g.b])), [g.b]);
  // Service principals, and any object through directoryObjects.
  assert.deepEqual(await values(await check('servicePrincipals', spMany.objectId, [g.empty, g.b])), [g.b]);
  assert.deepEqual(await values(await check('servicePrincipals', spFew.objectId, [g.a, g.b, g.c])), [g.a, g.c]);
  assert.deepEqual(await values(await check('directoryObjects', many.oid, [g.c, g.b])), [g.c, g.b]);
  assert.deepEqual(await values(await check('directoryObjects', spFew.objectId, [g.c])), [g.c]);
  assert.deepEqual(await values(await check('directoryObjects', g.a, [g.a, g.b])), []);
  // Twenty ids is the most Graph takes, and fine.
  const twenty = [...Array.from({ length: 19 }, () => randomUUID()), g.b];
  assert.deepEqual(await values(await check('users', many.oid, twenty)), [g.b]);
  // A removed membership is answered at once (tokens keep theirs until they expire).
  await t.idp.directory.removeMember(g.b, many.oid);
  try {
    assert.deepEqual(await values(await check('users', many.oid, [g.a, g.b])), [g.a]);
  } finally {
    await t.idp.directory.addMember(g.b, many.oid);
  }
});

test('checkMemberGroups refuses 0 or 21 ids, non-GUIDs, a missing or malformed body: 400 Request_BadRequest', async () => {
  const bad = async (r: HttpResponse, pattern: RegExp) => assert.match(refused(r, 400, 'Request_BadRequest'), pattern);
  await bad(await check('users', many.oid, []), /1 to 20 group ids; it holds 0/);
  await bad(
    await check(
      'users',
      many.oid,
      Array.from({ length: 21 }, () => randomUUID()),
    ),
    /1 to 20 group ids; it holds 21/,
  );
  await bad(await check('users', many.oid, ['group-a']), /item 0 is not a GUID: 'group-a'/);
  await bad(await check('users', many.oid, [g.a, 42]), /item 1 is not a GUID: 42/);
  await bad(await check('users', many.oid, [null]), /item 0 is not a GUID: null/);
  await bad(await check('users', many.oid, [`{${g.a}}`]), /not a GUID/);
  await bad(await check('users', many.oid, g.a), /must be an array/);
  await bad(await post(`users/${many.oid}/checkMemberGroups`, undefined), /body is missing/);
  await bad(await post(`users/${many.oid}/checkMemberGroups`, {}), /'groupIds' is missing/);
  await bad(await post(`users/${many.oid}/checkMemberGroups`, [g.a]), /JSON object/);
  await bad(await post(`users/${many.oid}/checkMemberGroups`, { groupIds: [g.a], extra: 1 }), /'extra'.*not a valid parameter/);
  await bad(await post(`users/${many.oid}/checkMemberGroups`, undefined, graphToken, { contentType: 'application/json', data: '' }), /body is missing/);
  await bad(
    await post(`users/${many.oid}/checkMemberGroups`, undefined, graphToken, { contentType: 'application/json', data: '{"groupIds": [' }),
    /not valid JSON/,
  );
  await bad(
    await post(`users/${many.oid}/checkMemberGroups`, undefined, graphToken, { contentType: 'application/json', data: '{"__proto__": {"x": 1}}' }),
    /not valid JSON/,
  );
  await bad(
    await post(`users/${many.oid}/checkMemberGroups`, undefined, graphToken, { contentType: 'application/x-www-form-urlencoded', data: `groupIds=${g.a}` }),
    /must be JSON/,
  );
  await bad(
    await post(`users/${many.oid}/checkMemberGroups`, undefined, graphToken, { contentType: 'text/plain', data: JSON.stringify({ groupIds: [g.a] }) }),
    /must be JSON/,
  );
  await bad(await post(`users/${many.oid}/checkMemberGroups`, undefined, graphToken, { contentType: 'application/xml', data: '<groupIds/>' }), /must be JSON/);
  // The body is bounded by the server's limit (64 KB).
  const big = await post(`users/${many.oid}/checkMemberGroups`, { groupIds: [g.a], pad: 'x'.repeat(70 * 1024) });
  assert.match(refused(big, 413, 'Request_BadRequest'), /larger than 65536 bytes/);
  // The body is checked before the object is looked up.
  await bad(await check('users', randomUUID(), []), /1 to 20/);
});

test('checkMemberGroups: an unknown object, or one of another type, is 404 Request_ResourceNotFound', async () => {
  const notFound = async (collection: string, id: string) => {
    const message = refused(await check(collection, id, [g.a]), 404, 'Request_ResourceNotFound');
    assert.equal(message, `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
  };
  const unknown = randomUUID();
  await notFound('users', unknown);
  await notFound('servicePrincipals', unknown);
  await notFound('directoryObjects', unknown);
  await notFound('users', spMany.objectId);
  await notFound('users', g.a);
  await notFound('servicePrincipals', many.oid);
  await notFound('servicePrincipals', spMany.appId);
  await notFound('users', 'nobody@example.com');
});

test('checkMemberGroups: no token is 401, a user token 403, an app token for another resource 401', async () => {
  const none = await check('users', many.oid, [g.a], null);
  assert.equal(refused(none, 401, 'InvalidAuthenticationToken'), 'Access token is empty.');
  assert.match(String(none.headers['www-authenticate']), /^Bearer realm="", authorization_uri="/);
  // Without a token, a bad body is still a 401: the caller learns nothing more.
  refused(
    await post(`users/${many.oid}/checkMemberGroups`, undefined, null, { contentType: 'application/json', data: '{' }),
    401,
    'InvalidAuthenticationToken',
  );
  refused(await post(`users/${many.oid}/checkMemberGroups`, { groupIds: [] }, null), 401, 'InvalidAuthenticationToken');
  const v1 = await t.post(`/${t.tenantId}/oauth2/token`, {
    grant_type: 'password',
    client_id: AZURE_CLI_CLIENT_ID,
    username: few.upn,
    password: PASSWORD,
    resource: GRAPH,
  });
  const userGraphToken = v1.json<{ access_token: string }>().access_token;
  assert.equal(
    refused(await check('users', few.oid, [g.a], userGraphToken), 403, 'Authorization_RequestDenied'),
    'Insufficient privileges to complete the operation.',
  );
  refused(await post(`users/${few.oid}/getMemberObjects`, { securityEnabledOnly: true }, userGraphToken), 403, 'Authorization_RequestDenied');
  const ossToken = (await clientCredentials(reader, '2.0')).access_token;
  assert.match(refused(await check('users', few.oid, [g.a], ossToken), 401, 'InvalidAuthenticationToken'), /Invalid audience/);
  // A v1 Graph token reads too.
  const v1Graph = (await clientCredentials(reader, '1.0', GRAPH)).access_token;
  assert.deepEqual(await values(await check('users', few.oid, [g.a], v1Graph)), [g.a]);
});

test('the membership actions need GroupMember.Read.All or Directory.Read.All: without, 403, even for a bad body', async () => {
  const made = await t.idp.directory.addServicePrincipal({ displayName: 'membership-checker' });
  const checker = { appId: made.servicePrincipal.appId, objectId: made.servicePrincipal.objectId, secret: made.secret };
  try {
    const none = (await clientCredentials(checker, '2.0', GRAPH)).access_token;
    assert.equal(claimsOf(none).roles, undefined);
    assert.equal(
      refused(await check('users', many.oid, [g.a], none), 403, 'Authorization_RequestDenied'),
      'Insufficient privileges to complete the operation.',
    );
    refused(await check('directoryObjects', spMany.objectId, [g.a], none), 403, 'Authorization_RequestDenied');
    refused(await post(`users/${many.oid}/getMemberObjects`, { securityEnabledOnly: true }, none), 403, 'Authorization_RequestDenied');
    // The caller learns nothing of the body or the object before its permission is checked.
    refused(await check('users', many.oid, [], none), 403, 'Authorization_RequestDenied');
    refused(await check('users', randomUUID(), [g.a], none), 403, 'Authorization_RequestDenied');
    refused(
      await post(`users/${many.oid}/checkMemberGroups`, undefined, none, { contentType: 'application/json', data: '{' }),
      403,
      'Authorization_RequestDenied',
    );

    // Directory.Read.All alone is enough too.
    await t.idp.directory.grantGraphPermission('membership-checker', 'Directory.Read.All');
    const directoryToken = (await clientCredentials(checker, '1.0', GRAPH)).access_token;
    assert.deepEqual(claimsOf(directoryToken).roles, ['Directory.Read.All']);
    assert.deepEqual(await values(await check('users', many.oid, [g.b], directoryToken)), [g.b]);
    assert.deepEqual(
      sorted(await values(await post(`servicePrincipals/${spFew.objectId}/getMemberObjects`, { securityEnabledOnly: true }, directoryToken))),
      sorted([g.a, g.c]),
    );
    // Revoked: the token issued before reads nothing more, at once.
    await t.idp.directory.revokeGraphPermission('membership-checker', 'Directory.Read.All');
    refused(await check('users', many.oid, [g.b], directoryToken), 403, 'Authorization_RequestDenied');
    refused(await post(`users/${many.oid}/getMemberObjects`, { securityEnabledOnly: true }, directoryToken), 403, 'Authorization_RequestDenied');
  } finally {
    await t.idp.directory.removeServicePrincipal('membership-checker');
  }
});

test('GroupMember.Read.All alone: checkMemberGroups and getMemberObjects answer, the lists are 403', async () => {
  assert.deepEqual(claimsOf(graphToken).roles, ['GroupMember.Read.All']);
  assert.deepEqual(await values(await check('users', few.oid, [g.a, g.b])), [g.a]);
  assert.deepEqual(sorted(await values(await post(`users/${few.oid}/getMemberObjects`, { securityEnabledOnly: false }))), sorted([g.a, g.c]));
  for (const collection of ['users', 'servicePrincipals', 'groups']) {
    const r = await t.get(`/graph/v1.0/${collection}`, { authorization: `Bearer ${graphToken}` });
    assert.equal(refused(r, 403, 'Authorization_RequestDenied'), 'Insufficient privileges to complete the operation.', collection);
  }
});

test("the default limit is Entra's 200: 200 groups are listed, 201 are the overage", () => {
  assert.equal(DEFAULT_GROUPS_CLAIM_LIMIT, 200);
  const sp = {
    objectId: randomUUID(),
    appId: randomUUID(),
    displayName: 'x',
    secrets: [],
    redirectUris: [],
    graphPermissions: [],
    createdAt: '',
  } satisfies ServicePrincipal;
  const tenantId = randomUUID();
  const ctx: ClaimsContext = {
    tenantId,
    issuers: issuersFor('https://localhost:1', tenantId),
    version: '2.0',
    clientId: sp.appId,
    clientAuthenticated: true,
    target: { resource: OSS, oidc: [] },
    issuedAt: 1,
    expiresAt: 2,
    groupsClaimLimit: DEFAULT_GROUPS_CLAIM_LIMIT,
    graphBase: 'https://localhost:1/graph/v1.0',
  };
  const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
  const at = accessTokenClaims({ kind: 'app', sp, groups: ids(200) }, ctx);
  assert.equal((at.groups as string[]).length, 200);
  assert.equal(at._claim_names, undefined);
  const past = accessTokenClaims({ kind: 'app', sp, groups: ids(201) }, ctx);
  assert.equal(past.groups, undefined);
  assert.deepEqual(past._claim_sources, { src1: { endpoint: `https://localhost:1/graph/v1.0/servicePrincipals/${sp.objectId}/getMemberObjects` } });
  const none = accessTokenClaims({ kind: 'app', sp, groups: [] }, { ...ctx, groupsClaimLimit: 0 });
  assert.equal(none.groups, undefined);
  assert.equal(none._claim_names, undefined, 'no groups at all is no overage, whatever the limit');
});

test('groupsClaimLimit must be a whole number, 0 or more', async () => {
  for (const groupsClaimLimit of [-1, 1.5, Number.NaN]) {
    await assert.rejects(
      EmbeddedIdp.open({ dataDir: '/nonexistent/pgwarden-test', tls: { certPem: '', keyPem: '' } as never, log: t.log, groupsClaimLimit }),
      (e: unknown) => e instanceof PgwardenError && e.code === 'CONFIG_INVALID' && /groups claim limit/.test(e.message),
    );
  }
});
