// Users signing in: the password grant (v1 and v2), refresh tokens, group claims, the
// refusals that must not tell an unknown user from a wrong password.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { pairwiseSubject } from '../../src/idp/claims.js';
import { claimsOf, startIdp, type TestIdp } from './helpers.js';

const PG = 'https://token.postgres.cosmos.azure.com';
const OSS = 'https://ossrdbms-aad.database.windows.net';
let t: TestIdp;
let alice: { upn: string; oid: string; password: string };
let groupId: string;

before(async () => {
  t = await startIdp();
  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'alice', displayName: 'Alice Smith', password: 'Alice-passw0rd!' });
  alice = { upn: user.userPrincipalName!, oid: user.objectId, password: 'Alice-passw0rd!' };
  groupId = (await t.idp.directory.addGroup({ displayName: 'analysts' })).objectId;
  await t.idp.directory.addMember('analysts', alice.upn);
});
after(() => t.destroy());

const v1 = (form: Record<string, string>) => t.post(`/${t.tenantId}/oauth2/token`, form);
const v2 = (form: Record<string, string>) => t.post(`/${t.tenantId}/oauth2/v2.0/token`, form);
const password = (extra: Record<string, string> = {}) => ({
  grant_type: 'password',
  client_id: AZURE_CLI_CLIENT_ID,
  username: alice.upn,
  password: alice.password,
  ...extra,
});

test('v1 password grant: a v1 user token with Entra claims and groups, a refresh token, no id_token unless openid', async () => {
  const r = await v1(password({ resource: PG }));
  assert.equal(r.status, 200, r.text());
  const body = r.json<Record<string, string>>();
  assert.deepEqual(Object.keys(body), [
    'token_type',
    'scope',
    'expires_in',
    'ext_expires_in',
    'expires_on',
    'not_before',
    'resource',
    'access_token',
    'refresh_token',
  ]);
  assert.equal(body.scope, 'user_impersonation');
  const { payload } = await t.verify(body.access_token!, '1.0', PG);
  assert.deepEqual(
    Object.keys(payload).sort(),
    [
      'acr',
      'aio',
      'amr',
      'appid',
      'appidacr',
      'aud',
      'exp',
      'groups',
      'iat',
      'idtyp',
      'ipaddr',
      'iss',
      'name',
      'nbf',
      'oid',
      'rh',
      'scp',
      'sub',
      'tid',
      'unique_name',
      'upn',
      'uti',
      'ver',
    ].sort(),
  );
  assert.equal(payload.upn, alice.upn);
  assert.equal(payload.unique_name, alice.upn);
  assert.equal(payload.name, 'Alice Smith');
  assert.equal(payload.oid, alice.oid);
  assert.equal(payload.idtyp, 'user');
  assert.equal(payload.appid, AZURE_CLI_CLIENT_ID);
  assert.equal(payload.appidacr, '0');
  assert.equal(payload.scp, 'user_impersonation');
  assert.deepEqual(payload.amr, ['pwd']);
  assert.equal(payload.ipaddr, '127.0.0.1');
  assert.deepEqual(payload.groups, [groupId]);
  assert.equal(payload.sub, pairwiseSubject(t.tenantId, alice.oid, AZURE_CLI_CLIENT_ID));
  assert.notEqual(payload.sub, alice.oid);

  const withOpenid = (await v1(password({ resource: PG, scope: 'openid' }))).json<Record<string, string>>();
  const id = claimsOf(withOpenid.id_token!);
  assert.equal(id.aud, AZURE_CLI_CLIENT_ID);
  assert.equal(id.upn, alice.upn);
  assert.equal(id.iss, `${t.authority}/${t.tenantId}/`);
});

test('v2 password grant: a v2 user token, refresh token only with offline_access, id_token with openid, client_info', async () => {
  const r = await v2(password({ scope: `${OSS}/.default openid profile offline_access`, client_info: '1' }));
  assert.equal(r.status, 200, r.text());
  const body = r.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body), ['token_type', 'scope', 'expires_in', 'ext_expires_in', 'access_token', 'refresh_token', 'id_token', 'client_info']);
  assert.equal(body.scope, `${OSS}/user_impersonation ${OSS}/.default`);
  const { payload } = await t.verify(String(body.access_token), '2.0', OSS);
  assert.deepEqual(
    Object.keys(payload).sort(),
    ['aio', 'aud', 'azp', 'azpacr', 'exp', 'groups', 'iat', 'iss', 'name', 'nbf', 'oid', 'preferred_username', 'rh', 'scp', 'sub', 'tid', 'uti', 'ver'].sort(),
  );
  assert.equal(payload.preferred_username, alice.upn);
  assert.equal(payload.azp, AZURE_CLI_CLIENT_ID);
  assert.equal(payload.azpacr, '0');
  assert.equal(payload.ver, '2.0');
  const id = await t.verify(String(body.id_token), '2.0', AZURE_CLI_CLIENT_ID);
  assert.equal(id.payload.oid, alice.oid);
  assert.equal(id.payload.tid, t.tenantId);
  assert.deepEqual(JSON.parse(Buffer.from(String(body.client_info), 'base64url').toString()), { uid: alice.oid, utid: t.tenantId });

  const bare = (await v2(password({ scope: `${OSS}/.default` }))).json<Record<string, unknown>>();
  assert.equal(bare.refresh_token, undefined);
  assert.equal(bare.id_token, undefined);
});

test('a wrong password and an unknown user get the same answer', async () => {
  const wrong = await v1(password({ resource: PG, password: 'not-her-password' }));
  const unknown = await v1(password({ resource: PG, username: 'nobody@example.com' }));
  for (const r of [wrong, unknown]) {
    assert.equal(r.status, 400);
    const body = r.json<{ error: string; error_codes: number[]; error_description: string }>();
    assert.equal(body.error, 'invalid_grant');
    assert.deepEqual(body.error_codes, [50126]);
    assert.match(body.error_description, /^AADSTS50126: Error validating credentials due to invalid username or password\. Trace ID/);
  }
  const strip = (s: string) => s.replace(/ Trace ID.*$/, '');
  assert.equal(strip(wrong.json<{ error_description: string }>().error_description), strip(unknown.json<{ error_description: string }>().error_description));
});

test('sign-in names are case-insensitive; a password is not', async () => {
  assert.equal((await v1(password({ resource: PG, username: alice.upn.toUpperCase() }))).status, 200);
  assert.equal((await v1(password({ resource: PG, password: alice.password.toUpperCase() }))).status, 400);
});

test('a refresh token gives tokens for any known resource, v1 or v2, and a new refresh token', async () => {
  const first = (await v1(password({ resource: 'https://management.core.windows.net/' }))).json<Record<string, string>>();
  const r1 = await v1({ grant_type: 'refresh_token', client_id: AZURE_CLI_CLIENT_ID, refresh_token: first.refresh_token!, resource: PG });
  assert.equal(r1.status, 200, r1.text());
  const b1 = r1.json<Record<string, string>>();
  assert.equal((await t.verify(b1.access_token!, '1.0', PG)).payload.upn, alice.upn);
  assert.ok(b1.refresh_token && b1.refresh_token !== first.refresh_token);
  const r2 = await v2({
    grant_type: 'refresh_token',
    client_id: AZURE_CLI_CLIENT_ID,
    refresh_token: b1.refresh_token,
    scope: `${OSS}/.default offline_access`,
  });
  assert.equal(r2.status, 200, r2.text());
  assert.equal((await t.verify(r2.json<{ access_token: string }>().access_token, '2.0', OSS)).payload.oid, alice.oid);
});

test('a refresh token is refused: for another client, forged, for an unknown resource', async () => {
  const { refresh_token } = (await v1(password({ resource: PG }))).json<Record<string, string>>();
  const sp = await t.idp.directory.addServicePrincipal({ displayName: 'other-client' });
  const other = await v1({
    grant_type: 'refresh_token',
    client_id: sp.servicePrincipal.appId,
    client_secret: sp.secret,
    refresh_token: refresh_token!,
    resource: PG,
  });
  assert.equal(other.json<{ error: string }>().error, 'invalid_grant');
  const forged = await v1({ grant_type: 'refresh_token', client_id: AZURE_CLI_CLIENT_ID, refresh_token: `${refresh_token!.slice(0, -4)}AAAA`, resource: PG });
  assert.deepEqual(forged.json<{ error_codes: number[] }>().error_codes, [70000]);
  const resource = await v1({ grant_type: 'refresh_token', client_id: AZURE_CLI_CLIENT_ID, refresh_token: refresh_token!, resource: 'https://example.com' });
  assert.deepEqual(resource.json<{ error_codes: number[] }>().error_codes, [500011]);
});

test('after the user is removed, the refresh token is refused, also when a user of the same name is made again', async () => {
  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'bob', displayName: 'Bob', password: 'Bob-passw0rd!' });
  const { refresh_token } = (
    await v1({ grant_type: 'password', client_id: AZURE_CLI_CLIENT_ID, username: user.userPrincipalName!, password: 'Bob-passw0rd!', resource: PG })
  ).json<Record<string, string>>();
  const use = () => v1({ grant_type: 'refresh_token', client_id: AZURE_CLI_CLIENT_ID, refresh_token: refresh_token!, resource: PG });
  assert.equal((await use()).status, 200);
  await t.idp.directory.removeUser(user.userPrincipalName!);
  const gone = await use();
  assert.equal(gone.status, 400);
  assert.equal(gone.json<{ error: string }>().error, 'invalid_grant');
  await t.idp.directory.addUser({ userPrincipalName: 'bob', displayName: 'Bob again', password: 'Bob-passw0rd!' });
  assert.equal((await use()).status, 400, 'a new user of the same name is another object');
});

test('v2 scopes: one resource at most, .default or user_impersonation; only OpenID scopes give a Graph token', async () => {
  const two = await v2(password({ scope: `${PG}/.default ${OSS}/.default` }));
  assert.equal(two.json<{ error: string }>().error, 'invalid_scope');
  const bad = await v2(password({ scope: `${PG}/read` }));
  assert.equal(bad.json<{ error: string }>().error, 'invalid_scope');
  const imp = await v2(password({ scope: `${PG}/user_impersonation` }));
  assert.equal(claimsOf(imp.json<{ access_token: string }>().access_token).aud, PG);
  const oidc = (await v2(password({ scope: 'openid profile' }))).json<Record<string, string>>();
  assert.equal(claimsOf(oidc.access_token!).aud, '00000003-0000-0000-c000-000000000000');
  assert.ok(oidc.id_token);
});

test('the tenant alias organizations works for users, with the real tenant in the token', async () => {
  const r = await t.post('/organizations/oauth2/v2.0/token', password({ scope: `${PG}/.default` }));
  assert.equal(r.status, 200, r.text());
  const { payload } = await t.verify(r.json<{ access_token: string }>().access_token, '2.0', PG);
  assert.equal(payload.tid, t.tenantId);
});

test('lifetimes: 60 to 90 minutes by default', async () => {
  const seen = new Set<number>();
  for (let i = 0; i < 5; i++) {
    const { expires_in } = (await v2(password({ scope: `${PG}/.default` }))).json<{ expires_in: number }>();
    assert.ok(expires_in >= 3600 && expires_in <= 5400, String(expires_in));
    seen.add(expires_in);
  }
  assert.ok(seen.size > 1, 'random within the range');
});

test('password guessing is throttled per address and user name: AADSTS50053, even with the right password, and no one else is slowed', async () => {
  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'guessed', displayName: 'Guessed', password: 'Guessed-Passw0rd' });
  const upn = user.userPrincipalName!;
  for (let i = 0; i < 4; i++) {
    const r = await v1(password({ resource: PG, username: upn, password: `wrong-${i}` }));
    assert.deepEqual(r.json<{ error_codes: number[] }>().error_codes, [50126]);
  }
  const locked = await v1(password({ resource: PG, username: upn, password: 'Guessed-Passw0rd' }));
  assert.equal(locked.status, 400);
  const body = locked.json<{ error: string; error_codes: number[]; error_description: string }>();
  assert.equal(body.error, 'invalid_grant');
  assert.deepEqual(body.error_codes, [50053]);
  assert.match(body.error_description, /too many sign-in attempts.*Try again in (1 second|\d+ seconds)\./);
  assert.equal((await v1(password({ resource: PG }))).status, 200, 'another user signs in as usual');
  t.clock.advance(2_000);
  assert.equal((await v1(password({ resource: PG, username: upn, password: 'Guessed-Passw0rd' }))).status, 200, 'after the block, the right password works');
});
