// The control plane's CLI in child processes against a running pgwarden: the seed's
// native-role procedure, odd names, one-line errors with documented exit codes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setAuthMethod } from '../../src/control/auth-methods.js';
import { CITUS_PASSWORD, psql, runCli, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';

let pw: TestPgwarden;

before(async () => {
  // Many expected refusals from one address: this file tests the CLI, not the throttle.
  pw = await startTestPgwarden({ throttle: { roleFreeFailures: 1_000, addressFreeFailures: 1_000 } });
});
after(async () => {
  await pw?.destroy();
});

/** The real CLI against this test's pgwarden (its data directory names the API and citus's password). */
const cli = (args: string[], stdin?: string, env: NodeJS.ProcessEnv = {}) => runCli([...args, '--data-dir', pw.dataDir], { input: stdin, env });

async function signsIn(user: string, password: string): Promise<boolean> {
  return (await psql(pw.conn(user), 'select current_user', password)).stdout.trim() === user;
}

test('the seed procedure for native roles, through the CLI', async () => {
  const show = await cli(['auth', 'show']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^both {2}\(PostgreSQL and Microsoft Entra authentication\)/);

  const add = await cli(['role', 'add', 'db_user', '--password-stdin'], 'Cli-Passw0rd-1\n');
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /added role "db_user"\n {2}worker-1: done\n {2}worker-2: done/);
  assert.ok(await signsIn('db_user', 'Cli-Passw0rd-1'));

  const list = await cli(['role', 'list', '-o', 'json']);
  assert.deepEqual(
    JSON.parse(list.stdout).items.map((r: { name: string }) => r.name),
    ['citus', 'db_user'],
  );
  const table = await cli(['role', 'list']);
  assert.match(table.stdout, /^NAME +BUILTIN +CANLOGIN +MEMBEROF\ncitus +true +true\ndb_user +false +true\n$/);

  const reset = await cli(['role', 'reset-password', 'db_user', '--password-stdin'], 'Cli-Passw0rd-2\n');
  assert.equal(reset.code, 0, reset.stderr);
  assert.equal(await signsIn('db_user', 'Cli-Passw0rd-1'), false);
  assert.ok(await signsIn('db_user', 'Cli-Passw0rd-2'));

  const del = await cli(['role', 'delete', 'db_user']);
  assert.equal(del.code, 0, del.stderr);
  assert.equal(await signsIn('db_user', 'Cli-Passw0rd-2'), false);

  const citus = await cli(['role', 'delete', 'citus']);
  assert.equal(citus.code, 7);
  assert.equal(citus.stderr, 'pgwarden: The citus role is built in and cannot be deleted. Its password can be reset.\n');

  const set = await cli(['auth', 'set-method', 'postgres']);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /authentication methods: postgres/);
  await setAuthMethod(pw.cluster, 'both');

  const audit = await cli(['audit', '--kind', 'change', '-o', 'json']);
  const actions = JSON.parse(audit.stdout).items.map((e: { action: string }) => e.action);
  for (const a of ['role.add', 'role.reset-password', 'role.delete', 'auth-method.set']) assert.ok(actions.includes(a), a);
});

test('odd role names round-trip through the CLI', async () => {
  for (const name of ['user name "with" quotes', 'Ünïcødé@contoso.onmicrosoft.com']) {
    const add = await cli(['role', 'add', name, '--password-stdin'], 'Odd-Cli-Passw0rd\n');
    assert.equal(add.code, 0, add.stderr);
    assert.ok(await signsIn(name, 'Odd-Cli-Passw0rd'));
    const list = await cli(['role', 'list', '-o', 'json']);
    assert.ok(JSON.parse(list.stdout).items.some((r: { name: string }) => r.name === name));
    const del = await cli(['role', 'delete', name]);
    assert.equal(del.code, 0, del.stderr);
  }
});

test('cluster exec runs a statement as citus on the chosen nodes', async () => {
  const create = await cli(['cluster', 'exec', 'create table everywhere(id int); insert into everywhere values (1), (2)']);
  assert.equal(create.code, 0, create.stderr);
  assert.equal(create.stdout, 'coordinator: INSERT 2\nworker-1: INSERT 2\nworker-2: INSERT 2\n');
  const count = await cli(['cluster', 'exec', '--nodes', 'workers', '-o', 'json', 'select count(*)::int as n, current_user as who from everywhere']);
  assert.deepEqual(
    JSON.parse(count.stdout).results.map((r: { node: string; rows: unknown[] }) => [r.node, r.rows]),
    [
      ['worker-1', [{ n: 2, who: 'citus' }]],
      ['worker-2', [{ n: 2, who: 'citus' }]],
    ],
  );
  // It runs with citus's privileges, not a superuser's.
  const denied = await cli(['cluster', 'exec', '--nodes', 'coordinator', 'create role sneaky']);
  assert.equal(denied.code, 4);
  assert.match(denied.stdout, /^coordinator: failed: permission denied to create role/);
});

test('errors are one line with a documented exit code', async () => {
  const weak = await cli(['role', 'add', 'weak_one', '--password-stdin'], 'weak\n');
  assert.equal(weak.code, 2);
  assert.match(weak.stderr, /^pgwarden: the password is too weak: .*\n$/);
  const missing = await cli(['role', 'delete', 'nobody_here']);
  assert.equal(missing.code, 6);
  assert.equal(missing.stderr, 'pgwarden: role "nobody_here" does not exist\n');
  const wrong = await cli(['role', 'list'], undefined, { PGWARDEN_CITUS_PASSWORD: 'wrong' });
  assert.equal(wrong.code, 3);
  assert.equal(wrong.stderr, 'pgwarden: The citus password is wrong.\n');
  const noPassword = await cli(['role', 'add', 'no_tty']);
  assert.equal(noPassword.code, 2);
  assert.match(noPassword.stderr, /use --password-stdin/);
  const down = await runCli(['role', 'list', '--api-url', 'https://127.0.0.1:1', '--data-dir', pw.dataDir]);
  assert.equal(down.code, 4);
  assert.match(down.stderr, /cannot reach the pgwarden API at https:\/\/127.0.0.1:1/);
  assert.ok(![weak, missing, wrong].some((r) => r.stderr.includes(CITUS_PASSWORD)));
});

test('the seed procedure with a Microsoft Entra admin, through the CLI (token from pgwarden login)', async () => {
  const upn = `cli.admin@${pw.idp!.tenantDomain}`;
  await pw.idp!.directory.addUser({ userPrincipalName: upn, displayName: 'CLI Admin', password: 'Cli-Admin-Passw0rd' });
  const add = await cli(['admin', 'add', upn]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, new RegExp(`added user "${upn.replace(/\./g, '\\.')}" \\(object id [0-9a-f-]{36}\\) as a Microsoft Entra admin`));
  const list = await cli(['admin', 'list', '-o', 'json']);
  assert.ok(JSON.parse(list.stdout).items.some((p: { name: string }) => p.name === upn));

  // The admin gets a token as a user would, and signs in with psql and manages the cluster.
  const env = { PGWARDEN_CONFIG_DIR: join(pw.dataDir, 'cli-config') };
  const login = await cli(['login', '-u', upn, '-p', 'Cli-Admin-Passw0rd'], undefined, env);
  assert.equal(login.code, 0, login.stderr);
  // get-access-token uses the account that login stored (the default one: no --data-dir, and
  // no pgwarden runs on ./.pgwarden here).
  const got = await runCli(['account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv'], { env });
  assert.equal(got.code, 0, got.stderr);
  const token = got.stdout.trim();
  assert.ok(await signsIn(upn, token));
  const asAdmin = (args: string[]) => cli([...args, '--token', token]);
  assert.equal((await asAdmin(['auth', 'set-method', 'entra'])).code, 0);
  assert.equal(await signsIn('citus', CITUS_PASSWORD), false, 'citus signs in under Entra only');
  assert.ok(await signsIn(upn, token));
  const refused = await cli(['role', 'list']);
  assert.equal(refused.code, 3, 'citus may not use the CLI under Entra only');
  assert.equal((await asAdmin(['auth', 'set-method', 'postgres'])).code, 0);
  assert.equal(await signsIn(upn, token), false, 'the admin signs in under PostgreSQL only');
  assert.ok(await signsIn('citus', CITUS_PASSWORD));
  assert.equal((await cli(['auth', 'set-method', 'both'])).code, 0);
  const remove = await cli(['admin', 'remove', upn]);
  assert.equal(remove.code, 0, remove.stderr);
});
