// The provider's read-only Microsoft Graph subset: app-only Graph tokens from its own
// token endpoint (v2 scope=https://graph.microsoft.com/.default, v1 resource=), listing
// users, service principals and groups over real HTTPS with $filter, $select and $top,
// for a service principal granted Directory.Read.All (in the token's `roles`, and still
// granted at the call), and Graph's refusals (401, 403, 400) in Graph's error shape.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SignJWT, type JWTPayload } from 'jose';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { GRAPH_AUDIENCE, GRAPH_RESOURCE } from '../../src/idp/resources.js';
import { addSp, claimsOf, startIdp, type TestIdp, type TestSp } from './helpers.js';

const GRAPH = GRAPH_RESOURCE;
const GRAPH_APP_ID = GRAPH_AUDIENCE;
const OSS = 'https://ossrdbms-aad.database.windows.net';
const USER_PASSWORD = 'Graph-test-passw0rd!';

type Sp = TestSp;
interface GraphList {
  '@odata.context': string;
  value: Record<string, string>[];
}
interface GraphError {
  error: { code: string; message: string; innerError: Record<string, string> };
}

let t: TestIdp;
let etl: Sp;
let reporting: Sp;
let users: { alice: string; alan: string; sean: string; seanUpn: string };
let groups: { analysts: string; admins: string };
let token: string;

before(async () => {
  t = await startIdp();
  const d = t.idp.directory;
  const sp = (displayName: string): Promise<Sp> => addSp(t, displayName);
  etl = await sp('etl-job');
  reporting = await sp('Reporting');
  // As an admin grants the application permission in Entra.
  await d.grantGraphPermission('etl-job', 'Directory.Read.All');
  await d.grantGraphPermission('Reporting', 'Directory.Read.All');
  const user = async (name: string, displayName: string) => (await d.addUser({ userPrincipalName: name, displayName, password: USER_PASSWORD })).user;
  const alice = await user('alice', 'Alice Smith');
  const alan = await user('alan', 'alan turing');
  const sean = await user("sean.o'brien", "Sean O'Brien");
  users = { alice: alice.objectId, alan: alan.objectId, sean: sean.objectId, seanUpn: sean.userPrincipalName! };
  groups = { analysts: (await d.addGroup({ displayName: 'analysts' })).objectId, admins: (await d.addGroup({ displayName: 'Admins' })).objectId };
  token = await graphToken(etl);
});
after(() => t.destroy());

/** How a client gets an app-only Graph token from the provider: client credentials on the
 * v2 token endpoint with scope https://graph.microsoft.com/.default. */
async function graphToken(sp: Sp): Promise<string> {
  const r = await t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
    grant_type: 'client_credentials',
    client_id: sp.appId,
    client_secret: sp.secret,
    scope: `${GRAPH}/.default`,
  });
  assert.equal(r.status, 200, r.text());
  return r.json<{ access_token: string }>().access_token;
}

/** GET /graph/v1.0/{path} with OData options encoded as Graph clients encode them. */
/** `bearer` null: no Authorization header. */
function graph(path: string, options: Record<string, string> = {}, bearer: string | null = token) {
  const query = Object.entries(options)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return t.get(`/graph/v1.0/${path}${query ? `?${query}` : ''}`, bearer === null ? {} : { authorization: `Bearer ${bearer}` });
}

async function list(path: string, options: Record<string, string> = {}): Promise<Record<string, string>[]> {
  const r = await graph(path, options);
  assert.equal(r.status, 200, r.text());
  return r.json<GraphList>().value;
}

const names = (value: Record<string, string>[]) => value.map((o) => o.displayName);

async function refused(r: Awaited<ReturnType<typeof graph>>, status: number, code: string): Promise<string> {
  assert.equal(r.status, status, r.text());
  const body = r.json<GraphError>();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error), ['code', 'message', 'innerError']);
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  return body.error.message;
}

test('the Graph token: aud https://graph.microsoft.com, app-only, scope .default, the granted permissions in roles', async () => {
  const r = await t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
    grant_type: 'client_credentials',
    client_id: etl.appId,
    client_secret: etl.secret,
    scope: `${GRAPH}/.default`,
  });
  assert.equal(r.json<{ scope: string }>().scope, `${GRAPH}/.default`);
  const { payload } = await t.verify(token, '2.0', GRAPH);
  assert.equal(payload.aud, GRAPH);
  assert.equal(payload.idtyp, 'app');
  assert.equal(payload.oid, etl.objectId);
  assert.equal(payload.scp, undefined);
  assert.deepEqual(payload.roles, ['Directory.Read.All']);
});

test('roles only in Graph tokens: not for other resources, not without a grant, not in user tokens', async () => {
  const both = await t.idp.directory.addServicePrincipal({ displayName: 'roles-check' });
  const sp = { appId: both.servicePrincipal.appId, objectId: both.servicePrincipal.objectId, secret: both.secret };
  const credentials = { grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.secret };
  const v1 = async (resource: string) =>
    claimsOf((await t.post(`/${t.tenantId}/oauth2/token`, { ...credentials, resource })).json<{ access_token: string }>().access_token);
  const v2 = async (resource: string) =>
    claimsOf(
      (await t.post(`/${t.tenantId}/oauth2/v2.0/token`, { ...credentials, scope: `${resource}/.default` })).json<{ access_token: string }>().access_token,
    );
  try {
    assert.equal(claimsOf(await graphToken(sp)).roles, undefined, 'nothing granted: no roles claim');
    await t.idp.directory.grantGraphPermission('roles-check', ['GroupMember.Read.All', 'Directory.Read.All']);
    for (const get of [v1, v2]) {
      assert.deepEqual((await get(GRAPH)).roles, ['Directory.Read.All', 'GroupMember.Read.All']);
      for (const other of [OSS, 'https://management.azure.com/']) {
        const claims = await get(other);
        assert.equal(claims.aud, other);
        assert.equal(claims.roles, undefined, `no Graph roles in a token for ${other}`);
      }
    }
    const user = await t.post(`/${t.tenantId}/oauth2/token`, {
      grant_type: 'password',
      client_id: AZURE_CLI_CLIENT_ID,
      username: `alice@${t.idp.tenantDomain}`,
      password: USER_PASSWORD,
      resource: GRAPH,
    });
    assert.equal(claimsOf(user.json<{ access_token: string }>().access_token).roles, undefined, 'a user token has scp, no roles');
  } finally {
    await t.idp.directory.removeServicePrincipal('roles-check');
  }
});

test('403 Authorization_RequestDenied without Directory.Read.All: no grant, or only GroupMember.Read.All, for every list', async () => {
  const made = await t.idp.directory.addServicePrincipal({ displayName: 'ungranted' });
  const sp = { appId: made.servicePrincipal.appId, objectId: made.servicePrincipal.objectId, secret: made.secret };
  try {
    const none = await graphToken(sp);
    for (const collection of ['users', 'servicePrincipals', 'groups']) {
      assert.equal(await refused(await graph(collection, {}, none), 403, 'Authorization_RequestDenied'), 'Insufficient privileges to complete the operation.');
    }
    // Not before the query is checked either: the caller learns nothing of the directory.
    await refused(await graph('users', { $filter: 'nonsense' }, none), 403, 'Authorization_RequestDenied');
    await t.idp.directory.grantGraphPermission('ungranted', 'GroupMember.Read.All');
    const members = await graphToken(sp);
    assert.deepEqual(claimsOf(members).roles, ['GroupMember.Read.All']);
    for (const collection of ['users', 'servicePrincipals', 'groups']) await refused(await graph(collection, {}, members), 403, 'Authorization_RequestDenied');
    // A grant counts from the next token on: the one issued before it has no roles.
    await t.idp.directory.grantGraphPermission('ungranted', 'Directory.Read.All');
    await refused(await graph('users', {}, none), 403, 'Authorization_RequestDenied');
    assert.equal((await graph('users', {}, await graphToken(sp))).status, 200);
  } finally {
    await t.idp.directory.removeServicePrincipal('ungranted');
  }
});

test('a revoked permission: the token issued before the revoke reads nothing more, at once', async () => {
  const made = await t.idp.directory.addServicePrincipal({ displayName: 'revoked-reader' });
  const sp = { appId: made.servicePrincipal.appId, objectId: made.servicePrincipal.objectId, secret: made.secret };
  try {
    await t.idp.directory.grantGraphPermission('revoked-reader', 'Directory.Read.All');
    const before = await graphToken(sp);
    assert.equal((await graph('groups', {}, before)).status, 200);
    await t.idp.directory.revokeGraphPermission('revoked-reader', 'Directory.Read.All');
    assert.deepEqual(claimsOf(before).roles, ['Directory.Read.All'], 'the token still says so');
    await refused(await graph('groups', {}, before), 403, 'Authorization_RequestDenied');
    await refused(await graph('users', {}, before), 403, 'Authorization_RequestDenied');
    assert.equal(claimsOf(await graphToken(sp)).roles, undefined, 'new tokens have no roles');
  } finally {
    await t.idp.directory.removeServicePrincipal('revoked-reader');
  }
});

test('lists users, service principals and groups: default properties, ordered by display name, the ids tokens carry', async () => {
  const r = await graph('users');
  assert.equal(r.status, 200, r.text());
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(r.headers['cache-control'], 'no-store');
  const body = r.json<GraphList>();
  assert.deepEqual(Object.keys(body), ['@odata.context', 'value']);
  assert.equal(body['@odata.context'], `${t.authority}/graph/v1.0/$metadata#users`);
  assert.deepEqual(names(body.value), ['alan turing', 'Alice Smith', 'pgwarden administrator', "Sean O'Brien"]);
  assert.deepEqual(
    body.value.find((u) => u.id === users.alice),
    { id: users.alice, displayName: 'Alice Smith', userPrincipalName: `alice@${t.idp.tenantDomain}` },
  );
  assert.equal(body.value.find((u) => u.displayName === 'pgwarden administrator')?.id, t.admin.objectId);

  const sps = await graph('servicePrincipals');
  assert.equal(sps.json<GraphList>()['@odata.context'], `${t.authority}/graph/v1.0/$metadata#servicePrincipals`);
  assert.deepEqual(sps.json<GraphList>().value, [
    { id: etl.objectId, appId: etl.appId, displayName: 'etl-job' },
    { id: reporting.objectId, appId: reporting.appId, displayName: 'Reporting' },
  ]);
  // The caller's own id in the list is the oid of its token.
  assert.equal(claimsOf(token).oid, etl.objectId);

  const gs = await graph('groups');
  assert.equal(gs.json<GraphList>()['@odata.context'], `${t.authority}/graph/v1.0/$metadata#groups`);
  assert.deepEqual(gs.json<GraphList>().value, [
    { id: groups.admins, displayName: 'Admins' },
    { id: groups.analysts, displayName: 'analysts' },
  ]);
});

test('$filter startswith on displayName and userPrincipalName, case-insensitive; or', async () => {
  assert.deepEqual(names(await list('users', { $filter: "startswith(displayName,'AL')" })), ['alan turing', 'Alice Smith']);
  assert.deepEqual(names(await list('users', { $filter: "startsWith( displayName , 'alice s' )" })), ['Alice Smith']);
  assert.deepEqual(names(await list('users', { $filter: "startswith(displayName,'smith')" })), [], 'from the start of the name only');
  assert.deepEqual(names(await list('users', { $filter: "startswith(userPrincipalName,'ALICE@')" })), ['Alice Smith']);
  assert.deepEqual(names(await list('users', { $filter: "startswith(displayName,'alan') OR startswith(userPrincipalName,'sean')" })), [
    'alan turing',
    "Sean O'Brien",
  ]);
  assert.deepEqual(names(await list('servicePrincipals', { $filter: "startswith(displayName,'rep')" })), ['Reporting']);
  assert.deepEqual(names(await list('groups', { $filter: "startswith(displayName,'a')" })), ['Admins', 'analysts']);
  assert.deepEqual(names(await list('users', { $filter: "startswith(displayName,'')" })).length, 4);
  // A form-encoded query (spaces as +), as URLSearchParams writes it.
  const form = new URLSearchParams({ $filter: "startswith(displayName,'alan') or displayName eq 'Sean O''Brien'" });
  const r = await t.get(`/graph/v1.0/users?${form.toString()}`, { authorization: `Bearer ${token}` });
  assert.deepEqual(names(r.json<GraphList>().value), ['alan turing', "Sean O'Brien"]);
});

test('$filter eq on id and appId (case-insensitive GUIDs) and on names', async () => {
  assert.deepEqual(await list('users', { $filter: `id eq '${users.alan.toUpperCase()}'` }), [
    { id: users.alan, displayName: 'alan turing', userPrincipalName: `alan@${t.idp.tenantDomain}` },
  ]);
  assert.deepEqual(names(await list('servicePrincipals', { $filter: `appId eq '${reporting.appId.toUpperCase()}'` })), ['Reporting']);
  assert.deepEqual(names(await list('servicePrincipals', { $filter: `id eq '${etl.objectId}' or appId eq '${reporting.appId}'` })), ['etl-job', 'Reporting']);
  assert.deepEqual(names(await list('groups', { $filter: `id eq '${groups.analysts}'` })), ['analysts']);
  assert.deepEqual(names(await list('groups', { $filter: "displayName eq 'ADMINS'" })), ['Admins']);
  assert.deepEqual(names(await list('users', { $filter: "displayName eq 'alan'" })), [], 'eq is the whole name');
  assert.deepEqual(await list('users', { $filter: "id eq 'not-an-id'" }), []);
});

test("a literal with a quote: '' inside the string is one '", async () => {
  assert.deepEqual(names(await list('users', { $filter: "startswith(displayName,'sean o''b')" })), ["Sean O'Brien"]);
  assert.deepEqual(names(await list('users', { $filter: `userPrincipalName eq '${users.seanUpn.replace(/'/g, "''").toUpperCase()}'` })), ["Sean O'Brien"]);
  assert.deepEqual(await list('users', { $filter: "displayName eq 'Sean O''Brien'", $select: 'id' }), [{ id: users.sean }]);
});

test('$select returns only the named properties (any case), in a fixed order', async () => {
  assert.deepEqual(await list('users', { $select: 'displayName', $filter: "startswith(displayName,'alice')" }), [{ displayName: 'Alice Smith' }]);
  assert.deepEqual(await list('servicePrincipals', { $select: 'AppId, id', $filter: "displayName eq 'etl-job'" }), [{ id: etl.objectId, appId: etl.appId }]);
  assert.deepEqual(
    (await list('groups', { $select: 'id' })).map((g) => Object.keys(g)),
    [['id'], ['id']],
  );
});

test('$top limits the answer after filtering and ordering', async () => {
  assert.deepEqual(names(await list('users', { $top: '2' })), ['alan turing', 'Alice Smith']);
  assert.deepEqual(names(await list('users', { $top: '1', $filter: "startswith(displayName,'s') or startswith(displayName,'p')" })), [
    'pgwarden administrator',
  ]);
  assert.equal((await list('users', { $top: '999' })).length, 4);
});

test('400 Request_UnsupportedQuery: other functions and operators, parentheses, unknown properties, bad literals, long filters', async () => {
  const unsupported = async (path: string, filter: string, pattern: RegExp) => {
    const message = await refused(await graph(path, { $filter: filter }), 400, 'Request_UnsupportedQuery');
    assert.match(message, pattern, filter);
  };
  await unsupported('users', "contains(displayName,'a')", /function 'contains'/);
  await unsupported('users', "endswith(userPrincipalName,'@x.com')", /function 'endswith'/);
  await unsupported('users', "startswith(displayName,'a') and startswith(displayName,'b')", /operator 'and'/);
  await unsupported('users', "not startswith(displayName,'a')", /operator 'not'/);
  await unsupported('users', "displayName ne 'a'", /operator 'ne'/);
  await unsupported('users', "(displayName eq 'a')", /parentheses/);
  await unsupported('users', "startswith(mail,'a')", /property 'mail'/);
  await unsupported('users', "appId eq 'x'", /property 'appId'/);
  await unsupported('groups', "userPrincipalName eq 'x'", /property 'userPrincipalName'/);
  await unsupported('users', "startswith(displayName,'O'Brien')", /closing quote/);
  await unsupported('users', "displayName eq 'unterminated", /closing quote/);
  await unsupported('users', 'displayName eq "double"', /unexpected character '"'/);
  await unsupported('users', 'displayName eq 42', /unexpected character '4'/);
  await unsupported('users', 'displayName eq displayName', /string literal/);
  await unsupported('users', "startswith(displayName,'a'", /ends where/);
  await unsupported('users', "startswith(displayName,'a') startswith(displayName,'b')", /expected 'or'/);
  await unsupported('users', '', /empty/);
  await unsupported('users', `displayName eq '${'a'.repeat(1000)}'`, /longer than 1000/);
  await unsupported('users', "startswith(displayName,'a') or", /ends where/);
  const option = await refused(await graph('users', { $orderby: 'displayName' }), 400, 'Request_UnsupportedQuery');
  assert.match(option, /\$orderby/);
});

test('400 Request_BadRequest: unknown $select properties, $top out of range, an option twice', async () => {
  assert.match(await refused(await graph('users', { $select: 'displayName,mail' }), 400, 'Request_BadRequest'), /'mail' on type 'microsoft\.graph\.user'/);
  assert.match(await refused(await graph('groups', { $select: 'appId' }), 400, 'Request_BadRequest'), /'appId'/);
  assert.match(await refused(await graph('users', { $select: '' }), 400, 'Request_BadRequest'), /empty property name/);
  for (const top of ['0', '1000', '-1', 'ten', '1.5', '']) {
    assert.match(await refused(await graph('users', { $top: top }), 400, 'Request_BadRequest'), /between 1 and 999/, top);
  }
  const twice = await t.get(`/graph/v1.0/users?$top=1&$top=2`, { authorization: `Bearer ${token}` });
  assert.match(await refused(twice, 400, 'Request_BadRequest'), /more than once/);
});

test('401 InvalidAuthenticationToken: no token, not Bearer, another audience, tampered, expired, not a JWT', async () => {
  const none = await graph('users', {}, null);
  assert.equal(await refused(none, 401, 'InvalidAuthenticationToken'), 'Access token is empty.');
  assert.match(
    String(none.headers['www-authenticate']),
    new RegExp(`^Bearer realm="", authorization_uri="${t.authority}/${t.tenantId}/oauth2/authorize", client_id="${GRAPH_APP_ID}"$`),
  );

  const basic = await t.get('/graph/v1.0/users', { authorization: `Basic ${Buffer.from(`${etl.appId}:${etl.secret}`).toString('base64')}` });
  await refused(basic, 401, 'InvalidAuthenticationToken');

  const oss = await t.post(`/${t.tenantId}/oauth2/token`, {
    grant_type: 'client_credentials',
    client_id: etl.appId,
    client_secret: etl.secret,
    resource: 'https://ossrdbms-aad.database.windows.net',
  });
  assert.match(
    await refused(await graph('users', {}, oss.json<{ access_token: string }>().access_token), 401, 'InvalidAuthenticationToken'),
    /Invalid audience/,
  );

  // The same claims with another audience, or a changed oid, break the signature.
  const [h, p, s] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, oid: reporting.objectId })).toString('base64url')}.${s}`;
  assert.match(await refused(await graph('users', {}, forged), 401, 'InvalidAuthenticationToken'), /Invalid signature/);
  const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
  assert.match(await refused(await graph('users', {}, flipped), 401, 'InvalidAuthenticationToken'), /Invalid signature/);
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
  await refused(await graph('users', {}, unsigned), 401, 'InvalidAuthenticationToken');
  await refused(await graph('users', {}, 'not-a-jwt'), 401, 'InvalidAuthenticationToken');

  t.clock.advance(91 * 60_000);
  try {
    assert.match(await refused(await graph('users'), 401, 'InvalidAuthenticationToken'), /expired/);
  } finally {
    t.clock.advance(-91 * 60_000);
  }
  assert.equal((await graph('users')).status, 200);
});

test("signed by the provider's own key but not a Graph token of this tenant: 401; not app-only: 403", async () => {
  const { kid, key } = await t.idp.keys.signer();
  const sign = (claims: JWTPayload) => new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid, x5t: kid }).sign(key);
  const good = claimsOf(token) as JWTPayload;
  assert.equal((await graph('users', {}, await sign(good))).status, 200, 'the same claims, signed again, read');
  const bad = async (claims: JWTPayload, pattern: RegExp) =>
    assert.match(await refused(await graph('users', {}, await sign(claims)), 401, 'InvalidAuthenticationToken'), pattern);
  await bad({ ...good, iss: 'https://login.microsoftonline.com/common/v2.0' }, /Invalid issuer/);
  await bad({ ...good, tid: '11111111-1111-4111-8111-111111111111' }, /another tenant/);
  await bad({ ...good, aud: [GRAPH, 'https://management.azure.com/'] }, /Invalid audience/);
  await bad({ ...good, nbf: (good.exp as number) - 1 }, /not yet valid/);
  const { tid: _tid, ...noTenant } = good;
  await bad(noTenant, /'tid'/);
  const { idtyp: _idtyp, ...noType } = good;
  await refused(await graph('users', {}, await sign(noType)), 403, 'Authorization_RequestDenied');
  const { roles: _roles, ...noRoles } = good;
  await refused(await graph('users', {}, await sign(noRoles)), 403, 'Authorization_RequestDenied');
  await refused(await graph('users', {}, await sign({ ...good, roles: ['GroupMember.Read.All'] })), 403, 'Authorization_RequestDenied');
  await refused(await graph('users', {}, await sign({ ...good, roles: 'Directory.Read.All' })), 403, 'Authorization_RequestDenied');
  // roles naming a permission the service principal was never granted: refused too.
  const ungranted = await t.idp.directory.addServicePrincipal({ displayName: 'forged-roles' });
  try {
    const forged = { ...good, oid: ungranted.servicePrincipal.objectId, azp: ungranted.servicePrincipal.appId, roles: ['Directory.Read.All'] };
    await refused(await graph('users', {}, await sign(forged)), 403, 'Authorization_RequestDenied');
  } finally {
    await t.idp.directory.removeServicePrincipal('forged-roles');
  }
  await refused(await graph('users', {}, await sign({ ...good, azp: reporting.appId })), 403, 'Authorization_RequestDenied');
  await refused(await graph('users', {}, await sign({ ...good, scp: 'User.Read' })), 403, 'Authorization_RequestDenied');
});

test('403 Authorization_RequestDenied: a user delegated Graph token, v1 and v2; a removed service principal', async () => {
  const password = { grant_type: 'password', client_id: AZURE_CLI_CLIENT_ID, username: `alice@${t.idp.tenantDomain}`, password: USER_PASSWORD };
  const v1 = await t.post(`/${t.tenantId}/oauth2/token`, { ...password, resource: GRAPH });
  assert.equal(v1.status, 200, v1.text());
  const v1Token = v1.json<{ access_token: string }>().access_token;
  assert.equal(claimsOf(v1Token).aud, GRAPH);
  assert.equal(claimsOf(v1Token).scp, 'User.Read');
  const denied = await refused(await graph('users', {}, v1Token), 403, 'Authorization_RequestDenied');
  assert.equal(denied, 'Insufficient privileges to complete the operation.');

  // v2 with only OpenID Connect scopes: a Graph token whose aud is Graph's app id.
  const v2 = await t.post(`/${t.tenantId}/oauth2/v2.0/token`, { ...password, scope: 'openid profile' });
  const v2Token = v2.json<{ access_token: string }>().access_token;
  assert.equal(claimsOf(v2Token).aud, GRAPH_APP_ID);
  await refused(await graph('groups', {}, v2Token), 403, 'Authorization_RequestDenied');

  // Graph has no user_impersonation permission.
  const imp = await t.post(`/${t.tenantId}/oauth2/v2.0/token`, { ...password, scope: `${GRAPH}/user_impersonation` });
  assert.equal(imp.json<{ error: string }>().error, 'invalid_scope');

  const gone = await t.idp.directory.addServicePrincipal({ displayName: 'short-lived-reader' });
  await t.idp.directory.grantGraphPermission('short-lived-reader', 'Directory.Read.All');
  const goneToken = await graphToken({ appId: gone.servicePrincipal.appId, objectId: gone.servicePrincipal.objectId, secret: gone.secret });
  assert.equal((await graph('users', {}, goneToken)).status, 200);
  await t.idp.directory.removeServicePrincipal('short-lived-reader');
  await refused(await graph('users', {}, goneToken), 403, 'Authorization_RequestDenied');
});

test('the v1 form: resource=https://graph.microsoft.com gives a v1 Graph token that reads', async () => {
  const r = await t.post(`/${t.tenantId}/oauth2/token`, {
    grant_type: 'client_credentials',
    client_id: reporting.appId,
    client_secret: reporting.secret,
    resource: GRAPH,
  });
  assert.equal(r.status, 200, r.text());
  assert.equal(r.json<{ resource: string }>().resource, GRAPH);
  const v1Token = r.json<{ access_token: string }>().access_token;
  const { payload } = await t.verify(v1Token, '1.0', GRAPH);
  assert.equal(payload.appid, reporting.appId);
  const answer = await graph('servicePrincipals', { $filter: `appId eq '${reporting.appId}'` }, v1Token);
  assert.equal(answer.status, 200, answer.text());
  assert.deepEqual(answer.json<GraphList>().value, [{ id: reporting.objectId, appId: reporting.appId, displayName: 'Reporting' }]);
});

test('the log names the calls and refusals, never the bearer token', async () => {
  await graph('users', { $filter: "startswith(displayName,'a')" });
  await graph('users', {}, `${token}x`);
  await new Promise<void>((resolve) => t.log.flush(() => resolve()));
  const log = await readFile(t.logFile, 'utf8');
  assert.match(log, /"event":"graph"/);
  assert.match(log, /graph request refused/);
  assert.ok(!log.includes(token.split('.')[2]!), 'the token signature is not in the log');
  assert.ok(!log.includes(token.split('.')[1]!), 'the token claims are not in the log');
});
