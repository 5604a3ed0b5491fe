// Microsoft's Python library, MSAL Python (Debian's python3-msal, 1.21 in bookworm), against
// the embedded provider, run as a user would: a Python script in a child process, trusting
// the local CA through REQUESTS_CA_BUNDLE. What works, with which settings, and what
// does not (docs/idp.md, "MSAL Python"):
// - client credentials with the tenant authority and instance_discovery=False or
//   validate_authority=False;
// - username and password with the tenant authority fails: MSAL asks
//   https://localhost/common/userrealm/... (the port dropped) first;
// - both flows with the AD FS-style authority {authority}/adfs, which MSAL treats as known
//   (no instance discovery) and for which it asks no user realm;
// - what `az login --service-principal --allow-no-subscriptions` then
//   `az account get-access-token` send (the Azure CLI 2.45 through MSAL Python), checked
//   with the gateway's own token verifier. The Azure CLI itself is not installed in CI
//   (650 MB); docs/idp.md gives the commands, run by hand with Debian's azure-cli.
// Without python3 and msal the MSAL tests skip with one line, unless PGWARDEN_NO_SKIP is
// set (CI installs python3-msal), where they fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { DEFAULT_AUDIENCES } from '../../src/identity/config.js';
import { TokenVerifier } from '../../src/identity/verify-token.js';
import { addSp, claimsOf, startIdp, type TestIdp, type TestSp } from './helpers.js';
import { makeDataDir } from '../helpers/pgwarden.js';
import { findPython } from '../helpers/python.js';

const PG = 'https://postgres.cosmos.azure.com';
const ARM_SCOPE = 'https://management.core.windows.net//.default'; // what az asks for ARM
const PASSWORD = 'Grace-passw0rd!';

const { python: PYTHON, version: MSAL_VERSION } = findPython('msal');
const unavailable = PYTHON ? undefined : 'no python3 with the msal module: apt-get install python3-msal (Debian) to run the MSAL Python tests';
if (unavailable && process.env.PGWARDEN_NO_SKIP) throw new Error(`PGWARDEN_NO_SKIP is set, and there is ${unavailable}`);

// One script, one call per run: argv[1] names the call, the JSON on stdin its arguments;
// it prints one JSON line, MSAL's answer, or {"exception": "...", "type": "..."}.
const SCRIPT = String.raw`
import json, sys
import msal, requests

def main(call, a):
    if call == 'client_credentials':
        app = msal.ConfidentialClientApplication(a['client_id'], client_credential=a['secret'], authority=a['authority'], **a.get('options', {}))
        return app.acquire_token_for_client(scopes=a['scopes'])
    if call == 'username_password':
        app = msal.PublicClientApplication(a['client_id'], authority=a['authority'], **a.get('options', {}))
        r = app.acquire_token_by_username_password(a['username'], a['password'], scopes=a['scopes'])
        if 'access_token' in r and a.get('refresh'):
            accounts = app.get_accounts(username=a['username'])
            r['accounts'] = accounts
            r['silent'] = app.acquire_token_silent(a['scopes'], account=accounts[0], force_refresh=True)
        return r
    if call == 'az_service_principal':
        # What the Azure CLI 2.45 does for a cloud whose active_directory endpoint ends in /adfs
        # (azure/cli/core/_profile.py, auth/identity.py, auth/msal_authentication.py): az login
        # gets an ARM token and lists the subscriptions; get-access-token gets the resource's.
        app = msal.ConfidentialClientApplication(a['client_id'], client_credential=a['secret'], authority=a['authority'])
        arm = app.acquire_token_for_client(scopes=[a['arm_scope']])
        subs = requests.get(a['resource_manager'] + 'subscriptions', params={'api-version': '2019-11-01'},
                            headers={'Authorization': 'Bearer ' + arm['access_token']})
        pg = app.acquire_token_silent([a['resource'] + '/.default'], None) or app.acquire_token_for_client(scopes=[a['resource'] + '/.default'])
        return {'arm': arm, 'subscriptions_status': subs.status_code, 'subscriptions': subs.json(), 'pg': pg}
    raise ValueError(call)

call = sys.argv[1]
try:
    out = main(call, json.load(sys.stdin))
except Exception as e:
    out = {'exception': str(e), 'type': type(e).__name__}
print(json.dumps(out))
`;

interface MsalAnswer {
  access_token?: string;
  error?: string;
  error_description?: string;
  exception?: string;
  type?: string;
  [key: string]: unknown;
}

let t: TestIdp;
let dir: string;
let sp: TestSp;
let grace: { upn: string; oid: string };

function python(call: string, args: Record<string, unknown>): Promise<MsalAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON!, [join(dir, 'msal_call.py'), call], {
      env: { ...process.env, REQUESTS_CA_BUNDLE: join(dir, 'ca.pem'), PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`python exited ${code}: ${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as MsalAnswer);
    });
    child.stdin.end(JSON.stringify(args));
  });
}

/** The gateway's verifier for this provider (discovery, keys, issuers, audiences). */
function gatewayVerifier(): TokenVerifier {
  return new TokenVerifier({ authority: t.authority, tenantId: t.tenantId, audiences: DEFAULT_AUDIENCES, clockSkewSeconds: 0, ca: t.ca });
}

before(async () => {
  t = await startIdp();
  sp = await addSp(t, 'python-msal-app');
  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'grace', displayName: 'Grace Hopper', password: PASSWORD });
  grace = { upn: user.userPrincipalName!, oid: user.objectId };
  dir = await makeDataDir('pgwarden-python-msal-');
  await writeFile(join(dir, 'ca.pem'), t.ca);
  await writeFile(join(dir, 'msal_call.py'), SCRIPT);
});
after(async () => {
  await t.destroy();
  const { rm } = await import('node:fs/promises');
  await rm(dir, { recursive: true, force: true });
});

test('the AD FS-style discovery document is the tenant v2 one', async () => {
  const adfs = await t.get('/adfs/.well-known/openid-configuration');
  assert.equal(adfs.status, 200);
  const v2 = await t.get(`/${t.tenantId}/v2.0/.well-known/openid-configuration`);
  assert.deepEqual(adfs.json(), v2.json());
  const doc = adfs.json<{ issuer: string; token_endpoint: string }>();
  assert.equal(doc.issuer, t.idp.issuers.v2);
  assert.equal(doc.token_endpoint, `${t.authority}/${t.tenantId}/oauth2/v2.0/token`);
  // Only discovery: "adfs" is not a tenant of the token endpoints.
  const token = await t.post('/adfs/oauth2/v2.0/token', {
    grant_type: 'client_credentials',
    client_id: sp.appId,
    client_secret: sp.secret,
    scope: `${PG}/.default`,
  });
  assert.equal(token.status, 400);
  assert.match(token.json<{ error_description: string }>().error_description, /^AADSTS90002:/);
});

test('the ARM subscriptions list: empty for an ARM token of the tenant, refused otherwise', async () => {
  const tokenFor = async (scope: string) =>
    (await t.post(`/${t.tenantId}/oauth2/v2.0/token`, { grant_type: 'client_credentials', client_id: sp.appId, client_secret: sp.secret, scope })).json<{
      access_token: string;
    }>().access_token;
  const arm = await tokenFor(ARM_SCOPE);
  const ok = await t.get('/arm/subscriptions?api-version=2019-11-01', { authorization: `Bearer ${arm}` });
  assert.equal(ok.status, 200, ok.text());
  assert.deepEqual(ok.json(), { value: [] });
  const armV1 = (
    await t.post(`/${t.tenantId}/oauth2/token`, {
      grant_type: 'client_credentials',
      client_id: sp.appId,
      client_secret: sp.secret,
      resource: 'https://management.azure.com/',
    })
  ).json<{ access_token: string }>().access_token;
  assert.equal((await t.get('/arm/subscriptions?api-version=2022-12-01', { authorization: `Bearer ${armV1}` })).status, 200);

  const refused = async (path: string, headers: Record<string, string>, status: number, code: string) => {
    const r = await t.get(path, headers);
    assert.equal(r.status, status, r.text());
    assert.equal(r.json<{ error: { code: string } }>().error.code, code);
  };
  await refused('/arm/subscriptions', { authorization: `Bearer ${arm}` }, 400, 'MissingApiVersionParameter');
  await refused('/arm/subscriptions?api-version=2019-11-01', {}, 401, 'AuthenticationFailed');
  await refused('/arm/subscriptions?api-version=2019-11-01', { authorization: `Basic ${arm}` }, 401, 'AuthenticationFailed');
  await refused(
    '/arm/subscriptions?api-version=2019-11-01',
    { authorization: `Bearer ${await tokenFor(`${PG}/.default`)}` },
    401,
    'InvalidAuthenticationToken',
  );
  const [h, p, s] = arm.split('.');
  await refused('/arm/subscriptions?api-version=2019-11-01', { authorization: `Bearer ${h}.${p}.${s!.slice(0, -4)}AAAA` }, 401, 'InvalidAuthenticationToken');
  t.clock.advance(91 * 60_000); // past the longest lifetime
  await refused('/arm/subscriptions?api-version=2019-11-01', { authorization: `Bearer ${arm}` }, 401, 'InvalidAuthenticationToken');
  t.clock.advance(-91 * 60_000);
});

describe(`MSAL Python ${MSAL_VERSION ?? ''}`.trim(), { skip: unavailable ?? false }, () => {
  const tenantAuthority = () => `${t.authority}/${t.tenantId}`;
  const adfsAuthority = () => `${t.authority}/adfs`;

  test('ConfidentialClientApplication client credentials, tenant authority: instance_discovery=False or validate_authority=False', async () => {
    for (const options of [{ instance_discovery: false }, { validate_authority: false }]) {
      const r = await python('client_credentials', {
        client_id: sp.appId,
        secret: sp.secret,
        authority: tenantAuthority(),
        options,
        scopes: [`${PG}/.default`],
      });
      assert.ok(r.access_token, `${JSON.stringify(options)}: ${JSON.stringify(r)}`);
      const { payload } = await t.verify(r.access_token, '2.0', PG);
      assert.equal(payload.azp, sp.appId);
      assert.equal(payload.idtyp, 'app');
    }
  });

  test('client credentials, tenant authority, no option: MSAL asks login.microsoftonline.com first', async () => {
    const r = await python('client_credentials', { client_id: sp.appId, secret: sp.secret, authority: tenantAuthority(), scopes: [`${PG}/.default`] });
    assert.equal(r.access_token, undefined);
    // Without network the instance discovery request fails (with network, Microsoft answers
    // invalid_instance): either way, no token.
    assert.match(String(r.exception), /login\.microsoftonline\.com|invalid_instance/, JSON.stringify(r));
  });

  test('PublicClientApplication username and password, tenant authority: the user-realm request loses the port', async () => {
    for (const options of [{ instance_discovery: false }, { validate_authority: false }]) {
      const r = await python('username_password', {
        client_id: AZURE_CLI_CLIENT_ID,
        authority: tenantAuthority(),
        options,
        username: grace.upn,
        password: PASSWORD,
        scopes: [`${PG}/.default`],
      });
      assert.equal(r.access_token, undefined);
      assert.ok(r.exception?.startsWith("HTTPSConnectionPool(host='localhost', port=443)"), JSON.stringify(r));
      assert.ok(r.exception?.includes(`/common/userrealm/${grace.upn}?api-version=1.0`), JSON.stringify(r));
    }
  });

  test('username and password with the AD FS-style authority {authority}/adfs, then a silent refresh; a wrong password', async () => {
    const args = {
      client_id: AZURE_CLI_CLIENT_ID,
      authority: adfsAuthority(),
      username: grace.upn,
      password: PASSWORD,
      scopes: [`${PG}/.default`],
      refresh: true,
    };
    const r = await python('username_password', args);
    assert.ok(r.access_token, JSON.stringify(r));
    const { payload } = await t.verify(r.access_token, '2.0', PG);
    assert.equal(payload.oid, grace.oid);
    assert.equal(payload.preferred_username, grace.upn);
    const accounts = r.accounts as { username: string; home_account_id: string }[];
    assert.deepEqual(
      accounts.map((a) => [a.username, a.home_account_id]),
      [[grace.upn, `${grace.oid}.${t.tenantId}`]],
    );
    const silent = r.silent as MsalAnswer;
    assert.ok(silent.access_token && silent.access_token !== r.access_token, 'a new token through the refresh token');
    assert.equal((await t.verify(silent.access_token, '2.0', PG)).payload.oid, grace.oid);

    const wrong = await python('username_password', { ...args, password: 'wrong-password', refresh: false });
    assert.equal(wrong.error, 'invalid_grant');
    assert.match(String(wrong.error_description), /^AADSTS50126:/);
  });

  test('client credentials with the AD FS-style authority, no option', async () => {
    const r = await python('client_credentials', { client_id: sp.appId, secret: sp.secret, authority: adfsAuthority(), scopes: [`${PG}/.default`] });
    assert.ok(r.access_token, JSON.stringify(r));
    assert.equal((await t.verify(r.access_token, '2.0', PG)).payload.azp, sp.appId);
  });

  test("what the Azure CLI's service principal login and get-access-token send: a token the gateway accepts", async () => {
    const r = await python('az_service_principal', {
      client_id: sp.appId,
      secret: sp.secret,
      authority: adfsAuthority(),
      arm_scope: ARM_SCOPE,
      resource_manager: `${t.authority}/arm/`,
      resource: PG,
    });
    assert.ok((r.arm as MsalAnswer | undefined)?.access_token, JSON.stringify(r));
    assert.equal(r.subscriptions_status, 200);
    assert.deepEqual(r.subscriptions, { value: [] });
    const pg = r.pg as MsalAnswer;
    assert.ok(pg.access_token, JSON.stringify(r));
    assert.equal(claimsOf(pg.access_token).aud, PG);
    const verified = await gatewayVerifier().verify(pg.access_token);
    assert.equal(verified.identityType, 'app');
    assert.equal(verified.appId, sp.appId);
    assert.equal(verified.objectId, sp.objectId);
    assert.equal(verified.tenantId, t.tenantId);
  });
});
