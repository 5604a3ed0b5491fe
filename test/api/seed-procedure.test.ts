// The seed's whole procedure through the API, with Microsoft Entra admins: choose both
// methods, add an admin from the directory, sign in as it with a token, switch to Entra
// only and to PostgreSQL only; and two gateways on one cluster agreeing within a second.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CITUS_PASSWORD, psql, startSecondGateway, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { savedAdmin, userToken, type SavedAdmin } from '../helpers/entra.js';
import { apiClient, basic, bearer, type ApiClient } from '../helpers/api.js';

let pw: TestPgwarden;
let api: ApiClient;
let first: SavedAdmin;

before(async () => {
  pw = await startTestPgwarden();
  api = apiClient(pw.apiUrl, pw.caPath, basic('citus', CITUS_PASSWORD));
  first = await savedAdmin(pw);
});
after(async () => {
  await pw?.destroy();
});

async function signsIn(user: string, password: string): Promise<string> {
  const r = await psql(pw.conn(user), 'select current_user', password);
  return r.stdout.trim() === user ? 'ok' : r.stderr;
}

describe('the seed procedure through the API', () => {
  const upn = () => `dba@${pw.idp!.tenantDomain}`;
  let admin: ApiClient;

  test('the directory offers users and enterprise applications to pick admins from', async () => {
    await pw.idp!.directory.addUser({ userPrincipalName: upn(), displayName: 'Database Admin', password: 'Dba-Passw0rd-1' });
    await pw.idp!.directory.addServicePrincipal({ displayName: 'Deploy Pipeline' });
    const users = await api.call('GET', `/api/v1/directory?type=admin-candidates&q=dba`);
    assert.equal(users.status, 200, JSON.stringify(users.data));
    assert.deepEqual(
      users.data.items.map((e: { roleName: string; type: string }) => `${e.type}:${e.roleName}`),
      [`user:${upn()}`],
    );
    const apps = await api.call('GET', `/api/v1/directory?type=admin-candidates&q=deploy`);
    assert.equal(apps.data.items[0].type, 'servicePrincipal');
    assert.ok(apps.data.items[0].appId);
  });

  test('choose both; add an Entra admin by name; it signs in with psql and a token, and may call the API', async () => {
    assert.equal((await api.call('PUT', '/api/v1/authentication', { methods: 'both' })).status, 200);
    const add = await api.call('POST', '/api/v1/entra-admins', { name: upn() });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.equal(add.data.isAdmin, true);
    assert.equal(add.data.type, 'user');
    const list = await api.call('GET', '/api/v1/entra-admins');
    assert.deepEqual(list.data.items.map((p: { name: string }) => p.name).sort(), [first.username, upn()].sort());

    const token = await userToken(pw, upn(), 'Dba-Passw0rd-1');
    assert.equal(await signsIn(upn(), token), 'ok');
    admin = apiClient(pw.apiUrl, pw.caPath, bearer(token));
    const roles = await admin.call('GET', '/api/v1/roles');
    assert.equal(roles.status, 200, JSON.stringify(roles.data));
  });

  test('a non-admin principal may sign in but not call the API; an unknown name is refused', async () => {
    await pw.idp!.directory.addUser({ userPrincipalName: `reader@${pw.idp!.tenantDomain}`, displayName: 'Reader', password: 'Reader-Passw0rd-1' });
    const add = await api.call('POST', '/api/v1/entra-principals', { name: `reader@${pw.idp!.tenantDomain}` });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.equal(add.data.isAdmin, false);
    const token = await userToken(pw, `reader@${pw.idp!.tenantDomain}`, 'Reader-Passw0rd-1');
    assert.equal(await signsIn(`reader@${pw.idp!.tenantDomain}`, token), 'ok');
    const denied = await apiClient(pw.apiUrl, pw.caPath, bearer(token)).call('GET', '/api/v1/roles');
    assert.equal(denied.status, 403);
    const unknown = await api.call('POST', '/api/v1/entra-admins', { name: `nobody@${pw.idp!.tenantDomain}` });
    assert.equal(unknown.status, 404);
    assert.match(unknown.data.detail, /no user named/);
    const group = await api.call('POST', '/api/v1/entra-admins', { name: 'x', type: 'group' });
    assert.equal(group.status, 400);
  });

  test('Entra only: citus and native roles refused, the admin signs in and manages the cluster', async () => {
    assert.equal((await api.call('POST', '/api/v1/roles', { name: 'db_user', password: 'Db-User-Passw0rd' })).status, 201);
    const set = await api.call('PUT', '/api/v1/authentication', { methods: 'entra' });
    assert.equal(set.status, 200);
    for (const [user, password] of [
      ['citus', CITUS_PASSWORD],
      ['db_user', 'Db-User-Passw0rd'],
    ] as const) {
      assert.match(await signsIn(user, password), /PostgreSQL authentication is disabled for this cluster/);
    }
    assert.equal((await api.call('GET', '/api/v1/roles')).status, 403, 'citus may not call the API either');
    const token = await userToken(pw, upn(), 'Dba-Passw0rd-1');
    assert.equal(await signsIn(upn(), token), 'ok');
    assert.equal((await admin.call('GET', '/api/v1/authentication')).data.methods, 'entra');
  });

  test('PostgreSQL only, set by the admin: the admin is refused, citus signs in', async () => {
    const set = await admin.call('PUT', '/api/v1/authentication', { methods: 'postgres' });
    assert.equal(set.status, 200, JSON.stringify(set.data));
    const token = await userToken(pw, upn(), 'Dba-Passw0rd-1');
    assert.match(await signsIn(upn(), token), /Microsoft Entra authentication is disabled for this cluster/);
    assert.equal(await signsIn('citus', CITUS_PASSWORD), 'ok');
    assert.equal(await signsIn('db_user', 'Db-User-Passw0rd'), 'ok');
    assert.equal((await admin.call('GET', '/api/v1/roles')).status, 403);
  });

  test('remove the admin: its role is gone from every node', async () => {
    assert.equal((await api.call('PUT', '/api/v1/authentication', { methods: 'both' })).status, 200);
    const del = await api.call('DELETE', `/api/v1/entra-admins/${encodeURIComponent(upn())}`);
    assert.equal(del.status, 200, JSON.stringify(del.data));
    const exists = await Promise.all(
      pw.cluster.nodes.map((n) => pw.cluster.withSuperuser(n, async (c) => (await c.query('select 1 from pg_roles where rolname = $1', [upn()])).rowCount)),
    );
    assert.deepEqual(exists, [0, 0, 0], JSON.stringify(del.data));
    const again = await api.call('DELETE', `/api/v1/entra-admins/${encodeURIComponent(upn())}`);
    assert.equal(again.status, 404);
  });
});

describe('two gateways on one cluster', () => {
  test('a method change made through one is enforced by the other within a second', async () => {
    const second = await startSecondGateway(pw);
    const { port, watch } = second;
    const conn = `host=127.0.0.1 port=${port} user=citus dbname=postgres sslmode=require`;
    try {
      assert.equal((await psql(conn, 'select 1', CITUS_PASSWORD)).stdout.trim(), '1');
      assert.equal((await api.call('PUT', '/api/v1/authentication', { methods: 'entra' })).status, 200);
      await waitFor(() => watch.authMethod === 'entra', 1_000, 'the second gateway to see the change');
      assert.match((await psql(conn, 'select 1', CITUS_PASSWORD)).stderr, /PostgreSQL authentication is disabled/);
    } finally {
      const token = await userToken(pw, first.username, first.password);
      await apiClient(pw.apiUrl, pw.caPath, bearer(token)).call('PUT', '/api/v1/authentication', { methods: 'both' });
      await second.close();
    }
  });
});
