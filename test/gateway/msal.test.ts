// Tokens that Microsoft's own client library (@azure/msal-node) obtains from the
// embedded provider sign in through the gateway: a confidential client with client
// credentials (a service principal) and a public client with username and password.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfidentialClientApplication, PublicClientApplication } from '@azure/msal-node';
import { addPrincipal } from '../../src/control/principals.js';
import { psql, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import { AZ_CLI, RESOURCE } from '../helpers/entra.js';
import { LocalCaNetworkClient } from '../helpers/msal.js';

let pw: TestPgwarden;

before(async () => {
  pw = await startTestPgwarden();
});
after(async () => {
  await pw?.destroy();
});

function auth(clientId: string) {
  const idp = pw.idp!;
  return { clientId, authority: `${idp.authority}/${idp.tenantId}`, knownAuthorities: [new URL(idp.authority).host] };
}

test('a confidential client (client credentials) signs in as its service principal', async () => {
  const idp = pw.idp!;
  const sp = await idp.directory.addServicePrincipal({ displayName: 'Reporting Service' });
  await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, {
    roleName: 'Reporting Service',
    type: 'servicePrincipal',
    objectId: sp.servicePrincipal.objectId,
    appId: sp.servicePrincipal.appId,
    tenantId: idp.tenantId,
    isAdmin: false,
  });
  const cca = new ConfidentialClientApplication({
    auth: { ...auth(sp.servicePrincipal.appId), clientSecret: sp.secret },
    system: { networkClient: new LocalCaNetworkClient(pw.tls.caPem!) },
  });
  const result = await cca.acquireTokenByClientCredential({ scopes: [`${RESOURCE}/.default`] });
  const r = await psql(pw.conn('Reporting Service'), 'select current_user', result!.accessToken);
  assert.equal(r.stdout.trim(), 'Reporting Service', r.stderr);
});

test('a public client (username and password) signs in as the user', async () => {
  const idp = pw.idp!;
  const upn = `msal.user@${idp.tenantDomain}`;
  const { user } = await idp.directory.addUser({ userPrincipalName: upn, displayName: 'MSAL User', password: 'Msal-User-Passw0rd' });
  await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, { roleName: upn, type: 'user', objectId: user.objectId, tenantId: idp.tenantId, isAdmin: false });
  const pca = new PublicClientApplication({ auth: auth(AZ_CLI), system: { networkClient: new LocalCaNetworkClient(pw.tls.caPem!) } });
  const result = await pca.acquireTokenByUsernamePassword({ scopes: [`${RESOURCE}/.default`], username: upn, password: 'Msal-User-Passw0rd' });
  const r = await psql(pw.conn(upn), 'select current_user', result!.accessToken);
  assert.equal(r.stdout.trim(), upn, r.stderr);
});
