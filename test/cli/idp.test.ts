// `pgwarden idp ...` as a user runs it: the built CLI in child processes, on a data
// directory with and without a running provider (which must see the change at once).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { claimsOf, headerOf, startIdp, type TestIdp } from '../idp/helpers.js';
import { makeDataDir, runCli } from '../helpers/pgwarden.js';

const PG = 'https://token.postgres.cosmos.azure.com';

test('without a running provider: init, users, service principals, groups; secrets once, never in listings', async () => {
  const dir = await makeDataDir();
  const dd = ['--data-dir', join(dir, 'data')];
  try {
    const init = await runCli(['idp', 'init', '-o', 'json', ...dd]);
    assert.equal(init.code, 0, init.stderr);
    const admin = JSON.parse(init.stdout) as { username: string; password: string; tenantId: string; tenantDomain: string };
    assert.equal(admin.username, `admin@${admin.tenantDomain}`);
    const again = await runCli(['idp', 'init', ...dd]);
    assert.equal(again.code, 7);
    assert.match(again.stderr, /^pgwarden: .* has an identity provider tenant already\n$/);

    const user = await runCli(['idp', 'user', 'add', 'alice', '--display-name', 'Alice Smith', ...dd]);
    assert.equal(user.code, 0, user.stderr);
    const password = /password: (\S+)  \(shown only now\)/.exec(user.stdout)?.[1];
    assert.ok(password, user.stdout);
    const viaStdin = await runCli(['idp', 'user', 'add', 'bob@example.com', '--display-name', 'Bob', '--password-stdin', '-o', 'json', ...dd], {
      input: 'Bob-passw0rd!\n',
    });
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    assert.equal(JSON.parse(viaStdin.stdout).password, undefined, 'a given password is not printed');

    const sp = await runCli(['idp', 'sp', 'add', 'etl-job', '-o', 'json', ...dd]);
    assert.equal(sp.code, 0, sp.stderr);
    const spJson = JSON.parse(sp.stdout) as Record<string, string>;
    assert.deepEqual(Object.keys(spJson).sort(), ['appId', 'displayName', 'objectId', 'password', 'tenant']);
    assert.equal(spJson.tenant, admin.tenantId);

    assert.equal((await runCli(['idp', 'group', 'add', 'analysts', ...dd])).code, 0);
    assert.equal((await runCli(['idp', 'group', 'member-add', 'analysts', 'alice', ...dd])).code, 0);
    assert.equal((await runCli(['idp', 'group', 'member-add', 'analysts', spJson.appId!, ...dd])).code, 0);

    const lists = await Promise.all(
      ['user', 'sp', 'group'].flatMap((kind) => [runCli(['idp', kind, 'list', ...dd]), runCli(['idp', kind, 'list', '-o', 'json', ...dd])]),
    );
    const everything = lists.map((r) => r.stdout).join('\n');
    for (const secret of [password!, 'Bob-passw0rd!', spJson.password!, admin.password]) assert.ok(!everything.includes(secret), 'a listing shows a secret');
    assert.doesNotMatch(everything, /scrypt|sha256\$/);
    assert.match(lists[0]!.stdout, /^USERPRINCIPALNAME\s+DISPLAYNAME\s+OBJECTID\n/);
    assert.match(lists[2]!.stdout, new RegExp(`etl-job\\s+${spJson.appId}.*${spJson.password!.slice(0, 3)}\\*\\*\\* until`));
    const groups = JSON.parse(lists[5]!.stdout) as Array<{ displayName: string; members: Array<{ type: string }> }>;
    assert.deepEqual(groups[0]!.members.map((m) => m.type).sort(), ['servicePrincipal', 'user']);

    const file = await readFile(join(dir, 'data', 'idp', 'directory.json'), 'utf8');
    for (const secret of [password!, 'Bob-passw0rd!', spJson.password!, admin.password]) assert.ok(!file.includes(secret));
    assert.equal((await stat(join(dir, 'data', 'idp', 'directory.json'))).mode & 0o777, 0o600);

    const gone = await runCli(['idp', 'user', 'remove', 'nobody@example.com', ...dd]);
    assert.equal(gone.code, 6);
    assert.equal(gone.stderr, 'pgwarden: no user nobody@example.com in the directory\n');
    const bad = await runCli(['idp', 'user', 'add', 'carol', '--display-name', 'Carol', '--password', 'short', ...dd]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^pgwarden: a password has 8 to 256 characters\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a data directory without a provider: the error says what to run', async () => {
  const dir = await makeDataDir();
  try {
    const r = await runCli(['idp', 'user', 'list', '--data-dir', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^pgwarden: there is no identity provider directory at .*: run 'pgwarden up' or 'pgwarden idp init' first\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

let t: TestIdp;
before(async () => {
  t = await startIdp();
});
after(() => t.destroy());

test('with a running provider: a user, service principal, membership, removal and key rotation made by the CLI work at once', async () => {
  const dd = ['--data-dir', t.dataDir];
  const add = await runCli(['idp', 'user', 'add', 'dave', '--display-name', 'Dave', '--password', 'Dave-passw0rd!', '-o', 'json', ...dd]);
  assert.equal(add.code, 0, add.stderr);
  const dave = JSON.parse(add.stdout) as { userPrincipalName: string; objectId: string };
  const signIn = () =>
    t.post(`/${t.tenantId}/oauth2/token`, {
      grant_type: 'password',
      client_id: AZURE_CLI_CLIENT_ID,
      username: dave.userPrincipalName,
      password: 'Dave-passw0rd!',
      resource: PG,
    });
  const first = await signIn();
  assert.equal(first.status, 200, first.text());

  const sp = JSON.parse((await runCli(['idp', 'sp', 'add', 'reporting', '-o', 'json', ...dd])).stdout) as { appId: string; password: string };
  const app = await t.post(`/${t.tenantId}/oauth2/token`, { grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.password, resource: PG });
  assert.equal(app.status, 200, app.text());

  const group = JSON.parse((await runCli(['idp', 'group', 'add', 'readers', '-o', 'json', ...dd])).stdout) as { objectId: string };
  await runCli(['idp', 'group', 'member-add', 'readers', dave.userPrincipalName, ...dd]);
  const { payload } = await t.verify((await signIn()).json<{ access_token: string }>().access_token, '1.0', PG);
  assert.deepEqual(payload.groups, [group.objectId]);

  const oldKid = headerOf(first.json<{ access_token: string }>().access_token).kid;
  const rotated = JSON.parse((await runCli(['idp', 'rotate-keys', '-o', 'json', ...dd])).stdout) as { active: string; retired: string };
  assert.equal(rotated.retired, oldKid);
  assert.equal(headerOf((await signIn()).json<{ access_token: string }>().access_token).kid, rotated.active);

  const { refresh_token } = (await signIn()).json<{ refresh_token: string }>();
  assert.equal((await runCli(['idp', 'user', 'remove', 'dave', ...dd])).code, 0);
  assert.equal((await signIn()).status, 400);
  const refresh = await t.post(`/${t.tenantId}/oauth2/token`, { grant_type: 'refresh_token', client_id: AZURE_CLI_CLIENT_ID, refresh_token, resource: PG });
  assert.equal(refresh.json<{ error: string }>().error, 'invalid_grant');

  const show = JSON.parse((await runCli(['idp', 'show', '-o', 'json', ...dd])).stdout) as { authority: string; issuers: { v1: string } };
  assert.equal(show.authority, t.authority);
  assert.equal(show.issuers.v1, t.idp.issuers.v1);
});

test('sp grant / sp revoke --graph: Microsoft Graph application permissions, effective at once on the running provider', async () => {
  const dd = ['--data-dir', t.dataDir];
  const sp = JSON.parse((await runCli(['idp', 'sp', 'add', 'directory-reader', '-o', 'json', ...dd])).stdout) as {
    appId: string;
    objectId: string;
    password: string;
  };
  const graphToken = async () => {
    const r = await t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
      grant_type: 'client_credentials',
      client_id: sp.appId,
      client_secret: sp.password,
      scope: 'https://graph.microsoft.com/.default',
    });
    assert.equal(r.status, 200, r.text());
    return r.json<{ access_token: string }>().access_token;
  };
  const users = (token: string) => t.get('/graph/v1.0/users', { authorization: `Bearer ${token}` });
  assert.equal((await users(await graphToken())).status, 403, 'no permission yet');

  const grant = await runCli(['idp', 'sp', 'grant', 'directory-reader', '--graph', 'Directory.Read.All', ...dd]);
  assert.equal(grant.code, 0, grant.stderr);
  assert.equal(
    grant.stdout,
    'granted Microsoft Graph Directory.Read.All to service principal "directory-reader"\n' +
      '  Graph permissions now: Directory.Read.All\n' +
      '  (in Graph tokens issued from now on)\n',
  );
  const token = await graphToken();
  assert.deepEqual(claimsOf(token).roles, ['Directory.Read.All']);
  assert.equal((await users(token)).status, 200);

  // By app id, two at once (one already granted), as JSON.
  const both = await runCli(['idp', 'sp', 'grant', sp.appId, '--graph', 'groupmember.read.all', 'Directory.Read.All', '-o', 'json', ...dd]);
  assert.equal(both.code, 0, both.stderr);
  assert.deepEqual(JSON.parse(both.stdout), {
    type: 'servicePrincipal',
    objectId: sp.objectId,
    displayName: 'directory-reader',
    appId: sp.appId,
    graphPermissions: ['Directory.Read.All', 'GroupMember.Read.All'],
  });
  const list = await runCli(['idp', 'sp', 'list', ...dd]);
  assert.match(list.stdout, /^DISPLAYNAME\s+APPID\s+OBJECTID\s+SECRETS\s+GRAPHPERMISSIONS\n/);
  assert.match(list.stdout, /directory-reader\s+.*until \d{4}-\d\d-\d\d\s+Directory\.Read\.All,GroupMember\.Read\.All\n/);
  const listed = (
    JSON.parse((await runCli(['idp', 'sp', 'list', '-o', 'json', ...dd])).stdout) as Array<{ displayName: string; graphPermissions: string[] }>
  ).find((s) => s.displayName === 'directory-reader');
  assert.deepEqual(listed?.graphPermissions, ['Directory.Read.All', 'GroupMember.Read.All']);

  const revoke = await runCli(['idp', 'sp', 'revoke', 'directory-reader', '--graph', 'Directory.Read.All', ...dd]);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.equal(
    revoke.stdout,
    'revoked Microsoft Graph Directory.Read.All from service principal "directory-reader"\n  Graph permissions now: GroupMember.Read.All\n',
  );
  assert.equal((await users(token)).status, 403, 'the token issued before the revoke reads no more');

  const unknown = await runCli(['idp', 'sp', 'grant', 'directory-reader', '--graph', 'User.ReadWrite.All', ...dd]);
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    'pgwarden: "User.ReadWrite.All" is not a Microsoft Graph application permission pgwarden knows (Directory.Read.All, GroupMember.Read.All)\n',
  );
  const notGranted = await runCli(['idp', 'sp', 'revoke', 'directory-reader', '--graph', 'Directory.Read.All', ...dd]);
  assert.equal(notGranted.code, 6);
  assert.equal(notGranted.stderr, 'pgwarden: service principal "directory-reader" has no Microsoft Graph permission Directory.Read.All\n');
  const nobody = await runCli(['idp', 'sp', 'grant', 'nobody', '--graph', 'Directory.Read.All', ...dd]);
  assert.equal(nobody.code, 6);
  const missing = await runCli(['idp', 'sp', 'grant', 'directory-reader', ...dd]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--graph/);
});
