// The control plane's API for native roles and authentication methods, against a real
// cluster, with psql proving that each change is what the gateway enforces.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setAuthMethod } from '../../src/control/auth-methods.js';
import { CITUS_PASSWORD, psql, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { apiClient, basic, type ApiClient } from '../helpers/api.js';

let pw: TestPgwarden;
let api: ApiClient;

before(async () => {
  pw = await startTestPgwarden();
  api = apiClient(pw.apiUrl, pw.caPath, basic('citus', CITUS_PASSWORD));
});
after(async () => {
  await pw?.destroy();
});

async function roleOnEveryNode(name: string): Promise<boolean[]> {
  return Promise.all(
    pw.cluster.nodes.map((n) =>
      pw.cluster.withSuperuser(n, async (c) => ((await c.query('select 1 from pg_roles where rolname = $1', [name])).rowCount ?? 0) > 0),
    ),
  );
}

async function signsIn(user: string, password: string): Promise<boolean> {
  const r = await psql(pw.conn(user), 'select current_user', password);
  return r.stdout.trim() === user;
}

describe('anonymous and unauthenticated calls', () => {
  test('healthz and the OpenAPI document need no credentials', async () => {
    const health = await api.call('GET', '/healthz', undefined, null);
    assert.equal(health.status, 200);
    const doc = await api.call('GET', '/api/v1/openapi.json', undefined, null);
    assert.equal(doc.status, 200);
    assert.equal(doc.data.openapi, '3.1.0');
    for (const path of [
      '/api/v1/authentication',
      '/api/v1/roles',
      '/api/v1/roles/{name}',
      '/api/v1/roles/{name}/reset-password',
      '/api/v1/entra-admins',
      '/api/v1/entra-admins/{name}',
      '/api/v1/entra-principals',
      '/api/v1/cluster',
      '/api/v1/audit',
    ]) {
      assert.ok(doc.data.paths[path], `the OpenAPI document lacks ${path}`);
    }
    assert.ok(doc.data.paths['/api/v1/roles'].post.requestBody, 'request bodies come from the same schemas');
  });

  test('missing or wrong credentials get 401 problems', async () => {
    for (const auth of [null, basic('citus', 'wrong'), basic('postgres', 'x'), 'Bearer not-a-token', 'Digest abc', 'Basic !!!']) {
      const r = await api.call('GET', '/api/v1/roles', undefined, auth);
      assert.equal(r.status, 401, `${auth}: ${r.status}`);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
      assert.equal(r.data.code, 'UNAUTHORIZED');
      assert.equal(r.data.status, 401);
      assert.ok(r.data.detail);
    }
  });
});

describe('native roles', () => {
  test('the seed procedure: add db_user, sign in, reset the password, delete', async () => {
    const add = await api.call('POST', '/api/v1/roles', { name: 'db_user', password: 'First-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.deepEqual(
      add.data.nodes.map((n: { ok: boolean }) => n.ok),
      [true, true],
    );
    assert.deepEqual(await roleOnEveryNode('db_user'), [true, true, true]);
    assert.ok(await signsIn('db_user', 'First-Passw0rd'));

    const list = await api.call('GET', '/api/v1/roles');
    assert.deepEqual(list.data.items.map((r: { name: string }) => r.name).slice(0, 2), ['citus', 'db_user']);
    assert.equal(list.data.items[0].builtIn, true);

    const reset = await api.call('POST', '/api/v1/roles/db_user/reset-password', { password: 'Second-Passw0rd' });
    assert.equal(reset.status, 200, JSON.stringify(reset.data));
    assert.equal(await signsIn('db_user', 'First-Passw0rd'), false, 'the old password still works');
    assert.ok(await signsIn('db_user', 'Second-Passw0rd'));

    const del = await api.call('DELETE', '/api/v1/roles/db_user');
    assert.equal(del.status, 200, JSON.stringify(del.data));
    assert.deepEqual(await roleOnEveryNode('db_user'), [false, false, false]);
    assert.equal(await signsIn('db_user', 'Second-Passw0rd'), false);
  });

  test('a role that owns something is not deleted unless reassignTo is given', async () => {
    assert.equal((await api.call('POST', '/api/v1/roles', { name: 'owner_role', password: 'Owner-Passw0rd' })).status, 201);
    // New roles cannot create in public (PostgreSQL 15 and later); let this one.
    await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) => c.query('grant create on schema public to owner_role'));
    const create = await psql(pw.conn('owner_role'), 'create table owned_table(id int)', 'Owner-Passw0rd');
    assert.equal(create.code, 0, create.stderr);
    const refused = await api.call('DELETE', '/api/v1/roles/owner_role');
    assert.equal(refused.status, 409);
    assert.equal(refused.data.code, 'ROLE_IN_USE');
    assert.match(refused.data.detail, /owned_table/);
    const done = await api.call('DELETE', '/api/v1/roles/owner_role?reassignTo=citus');
    assert.equal(done.status, 200, JSON.stringify(done.data));
    const owner = await psql(pw.conn('citus'), "select tableowner from pg_tables where tablename = 'owned_table'", CITUS_PASSWORD);
    assert.equal(owner.stdout.trim(), 'citus');
  });

  test('citus cannot be deleted; its password can be reset (and the saved file follows)', async () => {
    const del = await api.call('DELETE', '/api/v1/roles/citus');
    assert.equal(del.status, 409);
    assert.equal(del.data.code, 'PROTECTED_ROLE');
    assert.match(del.data.detail, /citus role is built in and cannot be deleted/);

    const temp = 'Temporary-Citus-9';
    assert.equal((await api.call('POST', '/api/v1/roles/citus/reset-password', { password: temp })).status, 200);
    assert.ok(await signsIn('citus', temp));
    assert.equal((await readFile(join(pw.dataDir, 'citus.password'), 'utf8')).trim(), temp);
    const back = await api.call('POST', '/api/v1/roles/citus/reset-password', { password: CITUS_PASSWORD }, basic('citus', temp));
    assert.equal(back.status, 200);
    assert.ok(await signsIn('citus', CITUS_PASSWORD));
  });

  test('odd names round-trip through the API and psql', async () => {
    for (const name of ['user name "with" quotes', 'Ünïcødé@contoso.onmicrosoft.com']) {
      const add = await api.call('POST', '/api/v1/roles', { name, password: 'Odd-Name-Passw0rd' });
      assert.equal(add.status, 201, JSON.stringify(add.data));
      assert.equal(add.data.name, name);
      const list = await api.call('GET', '/api/v1/roles');
      assert.ok(list.data.items.some((r: { name: string }) => r.name === name));
      assert.ok(await signsIn(name, 'Odd-Name-Passw0rd'), name);
      const del = await api.call('DELETE', `/api/v1/roles/${encodeURIComponent(name)}`);
      assert.equal(del.status, 200, JSON.stringify(del.data));
      assert.deepEqual(await roleOnEveryNode(name), [false, false, false]);
    }
  });

  test('bad input gets a 4xx problem with a clear message', async () => {
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/api/v1/roles', { name: 'weak_role', password: 'password' }, 400, /too weak/],
      ['POST', '/api/v1/roles', { name: 'short_pw', password: 'Aa1!' }, 400, /at least 8 characters/],
      ['POST', '/api/v1/roles', { name: 'x'.repeat(64), password: 'Good-Passw0rd' }, 400, /64 bytes long; at most 63/],
      ['POST', '/api/v1/roles', { name: 'é'.repeat(32), password: 'Good-Passw0rd' }, 400, /64 bytes long/],
      ['POST', '/api/v1/roles', { name: 'pg_sneaky', password: 'Good-Passw0rd' }, 400, /reserved/],
      ['POST', '/api/v1/roles', { name: 'postgres', password: 'Good-Passw0rd' }, 400, /reserved/],
      ['POST', '/api/v1/roles', { name: 'citus', password: 'Good-Passw0rd' }, 400, /reserved/],
      ['POST', '/api/v1/roles', { name: 'ok_name', password: 'Good-Passw0rd', superuser: true }, 400, /superuser|Unrecognized|unrecognized/],
      ['POST', '/api/v1/roles', { name: 42, password: 'Good-Passw0rd' }, 400, /name/],
      ['POST', '/api/v1/roles', { name: 'no_password' }, 400, /password/],
      ['POST', '/api/v1/roles', '{"name": "broken", ', 400, /not valid JSON/],
      ['POST', '/api/v1/roles', JSON.stringify({ name: 'big', password: 'x'.repeat(2 * 1024 * 1024) }), 413, /larger than 1 MB/],
      ['POST', '/api/v1/roles/nobody_here/reset-password', { password: 'Good-Passw0rd' }, 404, /does not exist/],
      ['POST', '/api/v1/roles/postgres/reset-password', { password: 'Good-Passw0rd' }, 403, /reserved/],
      ['DELETE', '/api/v1/roles/nobody_here', undefined, 404, /does not exist/],
      ['DELETE', '/api/v1/roles/citus?reassignTo=citus', undefined, 409, /cannot be deleted/],
      ['PUT', '/api/v1/authentication', { methods: 'everything' }, 400, /methods/],
      ['PUT', '/api/v1/authentication', {}, 400, /methods/],
      ['GET', '/api/v1/audit?limit=0', undefined, 400, /limit/],
      ['GET', '/api/v1/no-such-thing', undefined, 404, /no route/],
    ];
    for (const [method, path, body, status, detail] of cases) {
      const r = await api.call(method as 'GET', path, body);
      assert.equal(r.status, status, `${method} ${path}: ${r.status} ${JSON.stringify(r.data)}`);
      assert.match(String(r.headers['content-type']), /problem\+json/, `${method} ${path}`);
      assert.match(r.data.detail, detail, `${method} ${path}: ${r.data.detail}`);
    }
    assert.equal((await api.call('POST', '/api/v1/roles', { name: 'dup_role', password: 'Good-Passw0rd' })).status, 201);
    const dup = await api.call('POST', '/api/v1/roles', { name: 'dup_role', password: 'Good-Passw0rd' });
    assert.equal(dup.status, 409);
    assert.match(dup.data.detail, /already exists/);
  });

  test('a bodiless call with content-type application/json (as scripts send it) is taken; a body-taking one says what is missing', async () => {
    assert.equal((await api.call('POST', '/api/v1/roles', { name: 'curl_role', password: 'Good-Passw0rd' })).status, 201);
    // curl -X DELETE -H 'content-type: application/json' .../roles/curl_role: an empty body.
    const del = await api.call('DELETE', '/api/v1/roles/curl_role', '');
    assert.equal(del.status, 200, JSON.stringify(del.data));
    assert.equal((await api.call('GET', '/api/v1/audit?limit=1', '')).status, 200);
    const add = await api.call('POST', '/api/v1/roles', '');
    assert.equal(add.status, 400);
    assert.doesNotMatch(add.data.detail, /not valid JSON/);
  });
});

describe('authentication methods', () => {
  test('entra only refuses citus and every native role, and sets citus NOLOGIN on every node; both restores it', async () => {
    assert.equal((await api.call('POST', '/api/v1/roles', { name: 'native_one', password: 'Native-Passw0rd' })).status, 201);
    const set = await api.call('PUT', '/api/v1/authentication', { methods: 'entra' });
    assert.equal(set.status, 200, JSON.stringify(set.data));
    assert.equal(set.data.previous, 'both');
    for (const [user, password] of [
      ['citus', CITUS_PASSWORD],
      ['native_one', 'Native-Passw0rd'],
      ['nobody_at_all', 'x'],
    ]) {
      const r = await psql(pw.conn(user!), 'select 1', password);
      assert.match(r.stderr, /PostgreSQL authentication is disabled for this cluster/, user);
    }
    const logins = await Promise.all(
      pw.cluster.nodes.map((n) =>
        pw.cluster.withSuperuser(n, async (c) => (await c.query("select rolcanlogin from pg_roles where rolname = 'citus'")).rows[0].rolcanlogin as boolean),
      ),
    );
    assert.deepEqual(logins, [false, false, false]);
    // citus cannot call the API now either; restore through the control layer.
    assert.equal((await api.call('GET', '/api/v1/roles')).status, 403);
    await setAuthMethod(pw.cluster, 'both');
    await waitFor(async () => signsIn('citus', CITUS_PASSWORD), 3_000, 'citus to sign in again');
    assert.ok(await signsIn('native_one', 'Native-Passw0rd'));
  });

  test('the cluster endpoint lists every node and the method', async () => {
    const r = await api.call('GET', '/api/v1/cluster');
    assert.equal(r.status, 200);
    assert.equal(r.data.authentication, 'both');
    assert.deepEqual(
      r.data.nodes.map((n: { name: string; state: string }) => `${n.name}:${n.state}`),
      ['coordinator:up', 'worker-1:up', 'worker-2:up'],
    );
  });

  test('the audit log has the changes and the sign-ins, and no password', async () => {
    const r = await api.call('GET', '/api/v1/audit?limit=1000');
    assert.equal(r.status, 200);
    const actions = new Set(r.data.items.map((e: { action: string }) => e.action));
    for (const a of ['role.add', 'role.delete', 'role.reset-password', 'auth-method.set', 'sign-in', 'api.sign-in'])
      assert.ok(actions.has(a), `no ${a} in the audit log`);
    const failed = r.data.items.find(
      (e: { action: string; result: string; actor: string }) => e.action === 'sign-in' && e.result === 'failed' && e.actor === 'db_user',
    );
    assert.ok(failed, 'a failed sign-in is recorded');
    const text = JSON.stringify(r.data);
    for (const secret of ['First-Passw0rd', 'Second-Passw0rd', CITUS_PASSWORD, 'Owner-Passw0rd', 'Temporary-Citus-9'])
      assert.ok(!text.includes(secret), `the audit log contains ${secret}`);
  });

  test("neither pgwarden's log nor PostgreSQL's logs contain a password used here", async () => {
    const dir = join(pw.dataDir, 'logs');
    const logs = (await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
    assert.ok(logs.includes('db_user'), 'the logs are the ones of this run');
    for (const secret of [
      'First-Passw0rd',
      'Second-Passw0rd',
      CITUS_PASSWORD,
      'Owner-Passw0rd',
      'Temporary-Citus-9',
      'Odd-Name-Passw0rd',
      'Native-Passw0rd',
      'Good-Passw0rd',
    ]) {
      assert.ok(!logs.includes(secret), `a log contains ${secret}`);
    }
  });
});
