// Microsoft's own client library against the embedded provider: what an application
// written for Entra ID needs to change to use it (the authority, knownAuthorities, and
// trust in the local CA through a network client).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfidentialClientApplication, CryptoProvider, PublicClientApplication } from '@azure/msal-node';
import { LocalCaNetworkClient } from '../helpers/msal.js';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { formOf, startIdp, type TestIdp } from './helpers.js';

const PG = 'https://token.postgres.cosmos.azure.com';
const PASSWORD = 'Grace-passw0rd!';
let t: TestIdp;
let grace: { upn: string; oid: string };

/** The MSAL configuration for the embedded provider. */
function msalAuth(clientId: string) {
  return {
    clientId,
    authority: `${t.authority}/${t.tenantId}`,
    knownAuthorities: [new URL(t.authority).host], // skips instance discovery at login.microsoftonline.com
  };
}

before(async () => {
  t = await startIdp({ deviceCodeIntervalSeconds: 1 });
  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'grace', displayName: 'Grace Hopper', password: PASSWORD });
  grace = { upn: user.userPrincipalName!, oid: user.objectId };
});
after(() => t.destroy());

test('ConfidentialClientApplication: client credentials', async () => {
  const sp = await t.idp.directory.addServicePrincipal({ displayName: 'msal-app' });
  const cca = new ConfidentialClientApplication({
    auth: { ...msalAuth(sp.servicePrincipal.appId), clientSecret: sp.secret },
    system: { networkClient: new LocalCaNetworkClient(t.ca) },
  });
  const result = await cca.acquireTokenByClientCredential({ scopes: [`${PG}/.default`] });
  assert.ok(result);
  const { payload } = await t.verify(result.accessToken, '2.0', PG);
  assert.equal(payload.azp, sp.servicePrincipal.appId);
  assert.equal(payload.idtyp, 'app');
  assert.equal(payload.tid, t.tenantId);
});

test('PublicClientApplication: username and password (deprecated in MSAL, still in 7.2.3), then a silent refresh', async () => {
  const pca = new PublicClientApplication({ auth: msalAuth(AZURE_CLI_CLIENT_ID), system: { networkClient: new LocalCaNetworkClient(t.ca) } });
  const result = await pca.acquireTokenByUsernamePassword({ scopes: [`${PG}/.default`], username: grace.upn, password: PASSWORD });
  assert.ok(result);
  assert.equal(result.account?.username, grace.upn);
  assert.equal(result.account?.homeAccountId, `${grace.oid}.${t.tenantId}`);
  assert.equal(result.account?.name, 'Grace Hopper');
  assert.equal((await t.verify(result.accessToken, '2.0', PG)).payload.oid, grace.oid);

  const silent = await pca.acquireTokenSilent({ account: result.account!, scopes: [`${PG}/.default`], forceRefresh: true });
  assert.notEqual(silent.accessToken, result.accessToken, 'a new token through the refresh token');
  assert.equal((await t.verify(silent.accessToken, '2.0', PG)).payload.preferred_username, grace.upn);

  await assert.rejects(pca.acquireTokenByUsernamePassword({ scopes: [`${PG}/.default`], username: grace.upn, password: 'wrong' }), (e: unknown) => {
    const err = e as { errorCode?: string; errorMessage?: string };
    return err.errorCode === 'invalid_grant' && /AADSTS50126/.test(err.errorMessage ?? '');
  });
});

test('PublicClientApplication: device code, with the page driven like a browser', async () => {
  const pca = new PublicClientApplication({ auth: msalAuth(AZURE_CLI_CLIENT_ID), system: { networkClient: new LocalCaNetworkClient(t.ca) } });
  let message = '';
  const result = await pca.acquireTokenByDeviceCode({
    scopes: ['https://ossrdbms-aad.database.windows.net/.default'],
    deviceCodeCallback: (r) => {
      message = r.message;
      void (async () => {
        const page = await t.get('/devicelogin');
        const { hidden, cookie } = formOf(page);
        await t.post('/devicelogin', { ...hidden, code: r.userCode, username: grace.upn, password: PASSWORD }, { cookie, origin: t.authority });
      })();
    },
  });
  assert.match(
    message,
    /^To sign in, use a web browser to open the page https:\/\/localhost:\d+\/devicelogin and enter the code [A-Z0-9]{9} to authenticate\.$/,
  );
  assert.ok(result);
  assert.equal((await t.verify(result.accessToken, '2.0', 'https://ossrdbms-aad.database.windows.net')).payload.preferred_username, grace.upn);
});

test('PublicClientApplication: authorization code with PKCE (getAuthCodeUrl, acquireTokenByCode)', async () => {
  const pca = new PublicClientApplication({ auth: msalAuth(AZURE_CLI_CLIENT_ID), system: { networkClient: new LocalCaNetworkClient(t.ca) } });
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const redirectUri = 'http://localhost:51234/redirect';
  const url = await pca.getAuthCodeUrl({
    scopes: [`${PG}/.default`],
    redirectUri,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    state: 'msal-state',
    nonce: 'msal-nonce',
  });
  const page = await t.get(url.slice(t.authority.length));
  assert.equal(page.status, 200, page.text());
  const { hidden, cookie, action } = formOf(page);
  const answer = await t.post(action, { ...hidden, username: grace.upn, password: PASSWORD }, { cookie, origin: t.authority });
  assert.equal(answer.status, 302);
  const back = new URL(String(answer.headers.location));
  assert.equal(back.searchParams.get('state'), 'msal-state');
  // MSAL checks the ID token's nonce against the one given here, and the state against the redirect's.
  const result = await pca.acquireTokenByCode(
    { code: back.searchParams.get('code')!, scopes: [`${PG}/.default`], redirectUri, codeVerifier: verifier, nonce: 'msal-nonce', state: 'msal-state' },
    { code: back.searchParams.get('code')!, state: back.searchParams.get('state')! },
  );
  assert.equal(result.account?.username, grace.upn);
  assert.equal(result.idTokenClaims && (result.idTokenClaims as { nonce?: string }).nonce, 'msal-nonce');
  assert.equal((await t.verify(result.accessToken, '2.0', PG)).payload.oid, grace.oid);
});
