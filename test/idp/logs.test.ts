// A run of every flow, then a look at the provider's log: it says what happened, and no
// password, client secret, token or code appears in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { formOf, startIdp } from './helpers.js';

const PG = 'https://token.postgres.cosmos.azure.com';

test('no password, client secret, token or code reaches the log', async () => {
  const t = await startIdp();
  const secrets: string[] = [t.admin.password];
  try {
    const password = 'Log-Test-passw0rd!';
    secrets.push(password, 'Wrong-passw0rd-in-log?');
    const { user } = await t.idp.directory.addUser({ userPrincipalName: 'heidi', displayName: 'Heidi', password });
    const sp = await t.idp.directory.addServicePrincipal({ displayName: 'log-app' });
    secrets.push(sp.secret);
    const keep = (body: Record<string, unknown>) => {
      for (const k of ['access_token', 'refresh_token', 'id_token', 'device_code', 'user_code']) if (typeof body[k] === 'string') secrets.push(body[k]);
      return body;
    };
    const token = (version: 'oauth2/token' | 'oauth2/v2.0/token', form: Record<string, string>) =>
      t.post(`/${t.tenantId}/${version}`, form).then((r) => keep(r.json()));

    await token('oauth2/token', { grant_type: 'client_credentials', client_id: sp.servicePrincipal.appId, client_secret: sp.secret, resource: PG });
    await token('oauth2/token', { grant_type: 'client_credentials', client_id: sp.servicePrincipal.appId, client_secret: `${sp.secret}-wrong`, resource: PG });
    const pw = await token('oauth2/token', {
      grant_type: 'password',
      client_id: AZURE_CLI_CLIENT_ID,
      username: user.userPrincipalName!,
      password,
      resource: PG,
      scope: 'openid',
    });
    await token('oauth2/v2.0/token', {
      grant_type: 'password',
      client_id: AZURE_CLI_CLIENT_ID,
      username: user.userPrincipalName!,
      password: 'Wrong-passw0rd-in-log?',
      scope: `${PG}/.default`,
    });
    // A password typed as the name.
    await token('oauth2/v2.0/token', { grant_type: 'password', client_id: AZURE_CLI_CLIENT_ID, username: password, password, scope: `${PG}/.default` });
    await token('oauth2/token', { grant_type: 'refresh_token', client_id: AZURE_CLI_CLIENT_ID, refresh_token: String(pw.refresh_token), resource: PG });

    const dc = keep((await t.post(`/${t.tenantId}/oauth2/v2.0/devicecode`, { client_id: AZURE_CLI_CLIENT_ID, scope: `${PG}/.default offline_access` })).json());
    const page = await t.get(`/devicelogin?code=${String(dc.user_code)}`);
    const form = formOf(page);
    await t.post(
      '/devicelogin',
      { ...form.hidden, code: String(dc.user_code), username: user.userPrincipalName!, password },
      { cookie: form.cookie, origin: t.authority },
    );
    await token('oauth2/v2.0/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      client_id: AZURE_CLI_CLIENT_ID,
      device_code: String(dc.device_code),
    });

    const verifier = randomBytes(32).toString('base64url');
    secrets.push(verifier);
    const query = new URLSearchParams({
      client_id: AZURE_CLI_CLIENT_ID,
      response_type: 'code',
      redirect_uri: 'http://localhost:5000/cb',
      scope: `${PG}/.default openid`,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const authorize = formOf(await t.get(`/${t.tenantId}/oauth2/v2.0/authorize?${query.toString()}`));
    const redirect = await t.post(
      authorize.action,
      { ...authorize.hidden, username: user.userPrincipalName!, password },
      { cookie: authorize.cookie, origin: t.authority },
    );
    const code = new URL(String(redirect.headers.location)).searchParams.get('code')!;
    secrets.push(code);
    await token('oauth2/v2.0/token', {
      grant_type: 'authorization_code',
      client_id: AZURE_CLI_CLIENT_ID,
      code,
      redirect_uri: 'http://localhost:5000/cb',
      code_verifier: verifier,
    });

    await t.idp.close();
    await new Promise<void>((resolve) => t.log.flush(() => resolve()));
    const log = await readFile(t.logFile, 'utf8');
    assert.match(log, /"token issued"/);
    assert.match(log, /"refusal":"AADSTS50126","msg":"token refused"/);
    assert.match(log, /"device sign-in approved"/);
    assert.match(log, /"authorization code issued"/);
    assert.ok(secrets.length >= 15, String(secrets.length));
    for (const s of secrets) {
      assert.ok(s.length >= 9, 'a secret worth looking for');
      assert.ok(!log.includes(s), `the log holds a secret: ${s.slice(0, 6)}...`);
    }
  } finally {
    await t.destroy();
  }
});

test("a client's mistakes (an unknown tenant, a bad request) are logged below warn; errors are for the provider's own faults", async () => {
  const t = await startIdp();
  try {
    const unknown = '11111111-2222-3333-4444-555555555555';
    const answers = [
      await t.post(`/${unknown}/oauth2/token`, { grant_type: 'client_credentials', client_id: 'x', client_secret: 'y', resource: PG }),
      await t.post(`/${unknown}/oauth2/v2.0/token`, {
        grant_type: 'password',
        client_id: AZURE_CLI_CLIENT_ID,
        username: 'u',
        password: 'p',
        scope: `${PG}/.default`,
      }),
      await t.get(`/${unknown}/v2.0/.well-known/openid-configuration`),
      await t.get(`/${unknown}/.well-known/openid-configuration`),
      await t.post(`/${unknown}/oauth2/v2.0/devicecode`, { client_id: AZURE_CLI_CLIENT_ID, scope: `${PG}/.default` }),
      await t.get(`/${unknown}/oauth2/v2.0/authorize?client_id=${AZURE_CLI_CLIENT_ID}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost&scope=openid`),
      await t.post(`/${t.tenantId}/oauth2/token`, { grant_type: 'no_such_grant' }),
    ];
    for (const a of answers) assert.ok(a.status >= 400 && a.status < 500, `a client's mistake is a 4xx (got ${a.status})`);
    await new Promise<void>((resolve) => t.log.flush(() => resolve()));
    const lines = (await readFile(t.logFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    assert.deepEqual(
      lines.filter((l) => l.level >= 40).map((l) => l.msg),
      [],
      'nothing at warn or error',
    );
  } finally {
    await t.destroy();
  }
});
