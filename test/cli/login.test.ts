// `pgwarden login` and `pgwarden account get-access-token` as a user runs them: the
// built CLI in child processes against a running embedded provider; output checked
// against what `az` prints.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { claimsOf, formOf, startIdp, type TestIdp } from '../idp/helpers.js';
import { makeDataDir, PGWARDEN_BIN, runCli } from '../helpers/pgwarden.js';

const PG = 'https://token.postgres.cosmos.azure.com';
const PASSWORD = 'Erin-passw0rd!';
let t: TestIdp;
let configRoot: string;
let erin: string;

before(async () => {
  t = await startIdp({ deviceCodeIntervalSeconds: 1 });
  erin = (await t.idp.directory.addUser({ userPrincipalName: 'erin', displayName: 'Erin', password: PASSWORD })).user.userPrincipalName!;
  configRoot = await makeDataDir('pgwarden-config-test-');
});
after(async () => {
  await t.destroy();
  await rm(configRoot, { recursive: true, force: true });
});

let n = 0;
/** A fresh configuration directory: one signed-in state per test. */
function profile(): NodeJS.ProcessEnv {
  return { PGWARDEN_CONFIG_DIR: join(configRoot, `profile-${++n}`), TZ: 'UTC' };
}

const cli = (env: NodeJS.ProcessEnv, ...args: string[]) => runCli(args, { env });

test('login with a password prints the account like az login; the profile is 0600 in a 0700 directory and holds no password', async () => {
  const env = profile();
  const r = await cli(env, 'login', '-u', erin, '-p', PASSWORD, '--data-dir', t.dataDir);
  assert.equal(r.code, 0, r.stderr);
  const accounts = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  assert.equal(accounts.length, 1);
  assert.deepEqual(Object.keys(accounts[0]!), ['cloudName', 'homeTenantId', 'id', 'isDefault', 'managedByTenants', 'name', 'state', 'tenantId', 'user']);
  assert.equal(accounts[0]!.tenantId, t.tenantId);
  assert.equal(accounts[0]!.isDefault, true);
  assert.deepEqual(accounts[0]!.user, { name: erin, type: 'user' });
  assert.match(String(accounts[0]!.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stdout.includes('eyJ'), 'no secret printed');

  const file = join(env.PGWARDEN_CONFIG_DIR!, 'accounts.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(env.PGWARDEN_CONFIG_DIR!)).mode & 0o777, 0o700);
  assert.ok(!(await readFile(file, 'utf8')).includes(PASSWORD));

  const show = await cli(env, 'account', 'show', '--query', 'user.name', '-o', 'tsv');
  assert.equal(show.stdout, `${erin}\n`);
});

test('get-access-token prints exactly what az prints; the token is for the managed service by default', async () => {
  const env = profile();
  assert.equal((await cli(env, 'login', '-u', erin, '-p', PASSWORD, '--data-dir', t.dataDir)).code, 0);
  const r = await cli(env, 'account', 'get-access-token');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out), ['accessToken', 'expiresOn', 'expires_on', 'subscription', 'tenant', 'tokenType']);
  assert.match(r.stdout, /^\{\n {2}"accessToken": "/, 'indented like az');
  assert.equal(out.tokenType, 'Bearer');
  assert.equal(out.tenant, t.tenantId);
  assert.equal(typeof out.expires_on, 'number');
  assert.match(String(out.expiresOn), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.000000$/);
  assert.equal(
    out.expiresOn,
    new Date(Number(out.expires_on) * 1000)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, '.000000'),
    'local time (TZ=UTC here)',
  );
  const { payload } = await t.verify(String(out.accessToken), '1.0', PG);
  assert.equal(payload.upn, erin);
  assert.equal(payload.exp, out.expires_on);

  const again = JSON.parse((await cli(env, 'account', 'get-access-token')).stdout) as Record<string, unknown>;
  assert.equal(again.subscription, out.subscription, 'a stable subscription per tenant');
  const tokyo = JSON.parse((await cli({ ...env, TZ: 'Asia/Tokyo' }, 'account', 'get-access-token')).stdout) as Record<string, unknown>;
  const shifted = new Date((Number(tokyo.expires_on) + 9 * 3600) * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '.000000');
  assert.equal(tokyo.expiresOn, shifted, 'local time of the machine (TZ=Asia/Tokyo, UTC+9)');
});

test('--query "[accessToken]" -o tsv and --query accessToken -o tsv print the bare token; -o tsv prints values in key order', async () => {
  const env = profile();
  await cli(env, 'login', '-u', erin, '-p', PASSWORD, '--data-dir', t.dataDir);
  for (const query of ['[accessToken]', 'accessToken']) {
    const r = await cli(env, 'account', 'get-access-token', '--query', query, '-o', 'tsv');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    await t.verify(r.stdout.trim(), '1.0', PG);
  }
  const tsv = (await cli(env, 'account', 'get-access-token', '-o', 'tsv')).stdout;
  const cells = tsv.replace(/\n$/, '').split('\t');
  assert.equal(cells.length, 6);
  assert.match(cells[0]!, /^eyJ/);
  assert.match(cells[1]!, /^\d{4}-\d\d-\d\d /);
  assert.match(cells[2]!, /^\d+$/);
  assert.equal(cells[4], t.tenantId);
  assert.equal(cells[5], 'Bearer');
  const bad = await cli(env, 'account', 'get-access-token', '--query', '[accessToken', '-o', 'tsv');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^pgwarden: argument --query: invalid jmespath_type value/);
});

test('--resource-type oss-rdbms, --resource and --scope choose the audience (and the v2 endpoint for --scope)', async () => {
  const env = profile();
  await cli(env, 'login', '-u', erin, '-p', PASSWORD, '--data-dir', t.dataDir);
  const token = async (...args: string[]) => (await cli(env, 'account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv', ...args)).stdout.trim();
  assert.equal(claimsOf(await token('--resource-type', 'oss-rdbms')).aud, 'https://ossrdbms-aad.database.windows.net');
  assert.equal(claimsOf(await token('--resource', 'https://postgres.cosmos.azure.com')).aud, 'https://postgres.cosmos.azure.com');
  const v2 = claimsOf(await token('--scope', 'https://ossrdbms-aad.database.windows.net/.default'));
  assert.equal(v2.aud, 'https://ossrdbms-aad.database.windows.net');
  assert.equal(v2.ver, '2.0');
  const both = await cli(env, 'account', 'get-access-token', '--resource', PG, '--scope', `${PG}/.default`);
  assert.equal(both.code, 2);
  const unknown = await cli(env, 'account', 'get-access-token', '--resource', 'https://example.com');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^pgwarden: invalid_resource: AADSTS500011: The resource principal named https:\/\/example\.com was not found/);
  assert.equal(unknown.stderr.split('\n').length, 2, 'one line');
});

test('not signed in, a wrong password, a removed user: one line and exit 3', async () => {
  const env = profile();
  const none = await cli(env, 'account', 'get-access-token');
  assert.equal(none.code, 3);
  assert.equal(none.stderr, "pgwarden: Please run 'pgwarden login' to setup account.\n");

  const wrong = await cli(env, 'login', '-u', erin, '-p', 'not-the-password', '--data-dir', t.dataDir);
  assert.equal(wrong.code, 3);
  assert.equal(wrong.stderr, 'pgwarden: invalid_grant: AADSTS50126: Error validating credentials due to invalid username or password.\n');

  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'frank', displayName: 'Frank', password: 'Frank-passw0rd!' });
  assert.equal((await cli(env, 'login', '-u', user.userPrincipalName!, '-p', 'Frank-passw0rd!', '--data-dir', t.dataDir)).code, 0);
  await t.idp.directory.removeUser(user.userPrincipalName!);
  const removed = await cli(env, 'account', 'get-access-token');
  assert.equal(removed.code, 3);
  assert.match(removed.stderr, /^pgwarden: AADSTS50173: .* Please run 'pgwarden login' to setup account\.\n$/);

  const noProvider = await cli(env, 'login', '-u', erin, '-p', PASSWORD, '--data-dir', configRoot);
  assert.equal(noProvider.code, 4);
  assert.match(noProvider.stderr, /no running identity provider in .*: start 'pgwarden up', or pass --authority/);
});

test('a service principal: login checks the secret, the profile keeps it 0600, tokens are app tokens', async () => {
  const env = profile();
  const sp = await t.idp.directory.addServicePrincipal({ displayName: 'nightly-etl' });
  const appId = sp.servicePrincipal.appId;
  const wrong = await cli(env, 'login', '--service-principal', '-u', appId, '-p', 'wrong-secret', '--tenant', t.tenantId, '--data-dir', t.dataDir);
  assert.equal(wrong.code, 3);
  assert.match(wrong.stderr, /^pgwarden: invalid_client: AADSTS7000215: /);
  const r = await cli(env, 'login', '--service-principal', '-u', appId, '-p', sp.secret, '--tenant', t.tenantId, '--data-dir', t.dataDir);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as Array<{ user: unknown }>)[0]!.user, { name: appId, type: 'servicePrincipal' });
  assert.ok(!r.stdout.includes(sp.secret));
  const token = (await cli(env, 'account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv')).stdout.trim();
  const { payload } = await t.verify(token, '1.0', PG);
  assert.equal(payload.idtyp, 'app');
  assert.equal(payload.appid, appId);
});

test("--authority with --tenant and --ca-file reaches any Entra-compatible provider, not only the data directory's", async () => {
  const env = profile();
  const r = await cli(
    env,
    'login',
    '-u',
    erin,
    '-p',
    PASSWORD,
    '--authority',
    t.authority,
    '--tenant',
    t.idp.tenantDomain,
    '--ca-file',
    join(t.dataDir, 'tls', 'ca.crt'),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as Array<{ tenantId: string }>)[0]!.tenantId, t.tenantId, 'the tenant id from the token');
  const token = (await cli(env, 'account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv')).stdout.trim();
  assert.equal(claimsOf(token).upn, erin);
  const untrusted = await cli(profile(), 'login', '-u', erin, '-p', PASSWORD, '--authority', t.authority, '--tenant', t.tenantId);
  assert.equal(untrusted.code, 4, 'the local CA is not trusted without --ca-file');
});

test('login --use-device-code: prints the message, a person signs in on the page, the CLI gets the account', async () => {
  const env = profile();
  const child = spawn(process.execPath, [PGWARDEN_BIN, 'login', '--use-device-code', '--data-dir', t.dataDir], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const message = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no device code message: ${stderr}`)), 20_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('to authenticate.')) {
        clearTimeout(timer);
        resolve(stderr);
      }
    });
  });
  const m = /open the page (https:\/\/localhost:\d+\/devicelogin) and enter the code ([A-Z0-9]{9}) to authenticate\./.exec(message);
  assert.ok(m, message);
  const page = await t.get('/devicelogin');
  const { hidden, cookie } = formOf(page);
  const signedIn = await t.post('/devicelogin', { ...hidden, code: m[2]!, username: erin, password: PASSWORD }, { cookie, origin: t.authority });
  assert.equal(signedIn.status, 200);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.deepEqual((JSON.parse(stdout) as Array<{ user: unknown }>)[0]!.user, { name: erin, type: 'user' });
  assert.equal((await cli(env, 'account', 'get-access-token')).code, 0);
});

test('logout forgets the account', async () => {
  const env = profile();
  await cli(env, 'login', '-u', erin, '-p', PASSWORD, '--data-dir', t.dataDir);
  assert.equal((await cli(env, 'logout')).code, 0);
  assert.equal((await cli(env, 'account', 'get-access-token')).code, 3);
  assert.equal((await cli(env, 'account', 'list')).stdout, '[]\n');
});
