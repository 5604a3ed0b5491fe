// Directory searches of a real tenant through Microsoft Graph (src/identity/graph-directory.ts),
// against the embedded provider's Graph subset: real HTTPS, real app-only tokens from its
// token endpoint. Then the whole path: pgwarden started for "a real tenant" (the provider
// standing in for Entra ID), an admin added by name through the API, signing in with psql.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { GRAPH_ENDPOINT, GraphDirectory, graphFilter, odataString } from '../../src/identity/graph-directory.js';
import { DEFAULT_AUDIENCES, MAX_CLOCK_SKEW_SECONDS } from '../../src/identity/config.js';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { httpRequestJson } from '../../src/util/http-client.js';
import { isPgwardenError } from '../../src/util/errors.js';
import { startIdp, type TestIdp } from '../idp/helpers.js';
import { CITUS_PASSWORD, psql, runCli, startTestPgwarden, type TestPgwarden, makeDataDir } from '../helpers/pgwarden.js';
import { apiClient, basic } from '../helpers/api.js';

const GRAPH = GRAPH_ENDPOINT;
let t: TestIdp;
let reader: { appId: string; secret: string };
let ids: { alice: string; sean: string; billing: string; billingApp: string; readers: string };
let domain: string;

function directory(overrides: Partial<ConstructorParameters<typeof GraphDirectory>[0]> = {}): GraphDirectory {
  return new GraphDirectory({
    authority: t.authority,
    tenantId: t.tenantId,
    clientId: reader.appId,
    clientSecret: reader.secret,
    graphEndpoint: `${t.authority}/graph`,
    resource: GRAPH,
    ca: t.ca,
    ...overrides,
  });
}

before(async () => {
  // Tokens list at most 2 groups (Entra: 200): bob, in 3, gets a groups-overage token.
  t = await startIdp({ groupsClaimLimit: 2 });
  domain = t.idp.tenantDomain;
  const d = t.idp.directory;
  const made = await d.addServicePrincipal({ displayName: 'pgwarden-directory-reader' });
  reader = { appId: made.servicePrincipal.appId, secret: made.secret };
  // As an admin grants it in Entra (admin consent to the application permission).
  await d.grantGraphPermission('pgwarden-directory-reader', 'Directory.Read.All');
  const alice = await d.addUser({ userPrincipalName: `alice@${domain}`, displayName: 'Alice Smith', password: 'Alice-Passw0rd-1' });
  const sean = await d.addUser({ userPrincipalName: `sean.obrien@${domain}`, displayName: "Sean O'Brien" });
  const billing = await d.addServicePrincipal({ displayName: 'Billing App' });
  const readers = await d.addGroup({ displayName: 'Data Readers' });
  await d.addUser({ userPrincipalName: `bob@${domain}`, displayName: 'Bob Many-Groups', password: 'Bob-Passw0rd-1' });
  await d.addUser({ userPrincipalName: `carol@${domain}`, displayName: 'Carol Other-Groups', password: 'Carol-Passw0rd-1' });
  for (const name of ['Analysts', 'Auditors', 'Admins Of Nothing']) await d.addGroup({ displayName: name });
  for (const name of ['Data Readers', 'Analysts', 'Auditors']) await d.addMember(name, `bob@${domain}`);
  for (const name of ['Analysts', 'Auditors', 'Admins Of Nothing']) await d.addMember(name, `carol@${domain}`);
  ids = {
    alice: alice.user.objectId,
    sean: sean.user.objectId,
    billing: billing.servicePrincipal.objectId,
    billingApp: billing.servicePrincipal.appId,
    readers: readers.objectId,
  };
});
after(() => t?.destroy());

describe('the queries', () => {
  test('OData string literals double their quotes', () => {
    assert.equal(odataString("O'Brien"), "'O''Brien'");
    assert.equal(odataString("''"), "''''''");
  });

  test('a name is looked for at the start of display names (and UPNs); a GUID also as an id (and app id)', () => {
    assert.equal(graphFilter('user', 'al'), "startswith(displayName,'al') or startswith(userPrincipalName,'al')");
    assert.equal(graphFilter('group', "O'B"), "startswith(displayName,'O''B')");
    const guid = '0A1B2C3D-0000-4000-8000-000000000001';
    assert.equal(
      graphFilter('servicePrincipal', guid),
      `startswith(displayName,'${guid}') or id eq '${guid.toLowerCase()}' or appId eq '${guid.toLowerCase()}'`,
    );
    assert.equal(graphFilter('user', ''), undefined);
  });
});

describe('searching the tenant through Microsoft Graph', () => {
  test('users by the start of the display name or the UPN, any case', async () => {
    const g = directory();
    const byName = await g.search('ALI', ['user']);
    assert.deepEqual(byName, [{ type: 'user', objectId: ids.alice, displayName: 'Alice Smith', userPrincipalName: `alice@${domain}` }]);
    assert.deepEqual(await g.search(`alice@${domain}`, ['user']), byName);
  });

  test('service principals with their app id, found by name, app id or object id; groups by name or id', async () => {
    const g = directory();
    const billing = { type: 'servicePrincipal', objectId: ids.billing, displayName: 'Billing App', appId: ids.billingApp };
    assert.deepEqual(await g.search('billing', ['servicePrincipal']), [billing]);
    assert.deepEqual(await g.search(ids.billingApp, ['servicePrincipal']), [billing]);
    assert.deepEqual(await g.search(ids.billing.toUpperCase(), ['servicePrincipal']), [billing]);
    assert.deepEqual(await g.search(ids.readers, ['group']), [{ type: 'group', objectId: ids.readers, displayName: 'Data Readers' }]);
  });

  test('every kind at once, sorted by display name; a quote in the name; nothing found is an empty list', async () => {
    const g = directory();
    const all = await g.search('');
    assert.ok(all.length >= 6, JSON.stringify(all));
    assert.deepEqual(
      all.map((e) => e.displayName),
      [...all.map((e) => e.displayName)].sort((a, b) => a.localeCompare(b)),
    );
    assert.deepEqual(
      (await g.search("Sean O'B")).map((e) => e.objectId),
      [ids.sean],
    );
    assert.deepEqual(await g.search('nobody-by-this-name'), []);
  });

  test('an exact lookup by name (for adding a principal): the one object of that name, not those that start with it', async () => {
    const g = directory();
    await t.idp.directory.addGroup({ displayName: 'Data Readers EU' });
    assert.deepEqual(
      (await g.named('Data Readers', 'group')).map((e) => e.objectId),
      [ids.readers],
    );
    assert.deepEqual(
      (await g.named(`alice@${domain}`, 'user')).map((e) => e.objectId),
      [ids.alice],
    );
    assert.deepEqual(await g.named('Billing', 'servicePrincipal'), []);
  });

  test('group membership through checkMemberGroups: a member, not a member, an object that does not exist', async () => {
    const g = directory();
    const [bob] = await g.search(`bob@${domain}`, ['user']);
    assert.equal(await g.isMemberOf(bob!.objectId, ids.readers), true);
    assert.equal(await g.isMemberOf(bob!.objectId.toUpperCase(), ids.readers.toUpperCase()), true);
    assert.equal(await g.isMemberOf(ids.alice, ids.readers), false);
    assert.equal(await g.isMemberOf('00000000-0000-4000-8000-00000000abcd', ids.readers), false);
  });

  test('a wrong client secret: a clear error that names the application, never the secret', async () => {
    const wrong = 'Wrong-Secret-123456789';
    const e = await directory({ clientSecret: wrong })
      .search('alice')
      .then(
        () => assert.fail('the search succeeded'),
        (err: unknown) => err,
      );
    assert.ok(isPgwardenError(e, 'IDENTITY_PROVIDER_UNAVAILABLE'), String(e));
    assert.match((e as Error).message, new RegExp(`cannot sign in to Microsoft Graph as application ${reader.appId}: invalid_client`));
    assert.ok(!(e as Error).message.includes(wrong));
  });

  test('Graph refusing connections, or taking them and never answering: a clear error, no hang', async () => {
    const failure = (g: GraphDirectory) =>
      g.search('alice').then(
        () => assert.fail('the search succeeded'),
        (err: unknown) => err as Error,
      );
    const refused = await failure(directory({ graphEndpoint: `https://127.0.0.1:${await closedPort()}` }));
    assert.ok(isPgwardenError(refused, 'IDENTITY_PROVIDER_UNAVAILABLE'), String(refused));
    assert.match(refused.message, /Microsoft Graph cannot be reached at https:\/\/127\.0\.0\.1:\d+/);

    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const e = await failure(directory({ graphEndpoint: `https://127.0.0.1:${port}`, timeoutMs: 300 }));
      assert.ok(isPgwardenError(e, 'IDENTITY_PROVIDER_UNAVAILABLE'), String(e));
      assert.match(e.message, /Microsoft Graph cannot be reached at https:\/\/127\.0\.0\.1:\d+/);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('pgwarden for a real tenant, with Microsoft Graph', () => {
  let pw: TestPgwarden;
  before(async () => {
    pw = await startTestPgwarden({
      workers: 0,
      identity: {
        kind: 'entra',
        config: { authority: t.authority, tenantId: t.tenantId, audiences: DEFAULT_AUDIENCES, clockSkewSeconds: MAX_CLOCK_SKEW_SECONDS, ca: t.ca },
        graph: { clientId: reader.appId, clientSecret: reader.secret, endpoint: `${t.authority}/graph`, resource: GRAPH },
      },
    });
  });
  after(() => pw?.destroy());

  test('the API searches the tenant, adds an admin by name alone, and the admin signs in with psql', async () => {
    const api = apiClient(pw.apiUrl, pw.caPath, basic('citus', CITUS_PASSWORD));
    const found = await api.call('GET', '/api/v1/directory?type=admin-candidates&q=alice');
    assert.equal(found.status, 200, JSON.stringify(found.data));
    assert.deepEqual(found.data.items, [
      { type: 'user', objectId: ids.alice, displayName: 'Alice Smith', roleName: `alice@${domain}`, userPrincipalName: `alice@${domain}` },
    ]);
    const add = await api.call('POST', '/api/v1/entra-admins', { name: `alice@${domain}` });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.equal(add.data.objectId, ids.alice);

    const token = await httpRequestJson(`${t.authority}/${t.tenantId}/oauth2/token`, {
      ca: t.ca,
      form: {
        grant_type: 'password',
        client_id: AZURE_CLI_CLIENT_ID,
        username: `alice@${domain}`,
        password: 'Alice-Passw0rd-1',
        resource: 'https://ossrdbms-aad.database.windows.net',
      },
    });
    assert.equal(token.status, 200, token.text());
    const r = await psql(pw.conn(`alice@${domain}`), 'select current_user', token.json<{ access_token: string }>().access_token);
    assert.equal(r.stdout.trim(), `alice@${domain}`, r.stderr);
  });

  test("a member of too many groups for the token signs in as a group's role: pgwarden asks Graph", async () => {
    const api = apiClient(pw.apiUrl, pw.caPath, basic('citus', CITUS_PASSWORD));
    const add = await api.call('POST', '/api/v1/entra-principals', { name: 'Data Readers', type: 'group' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    const tokenOf = async (user: string, password: string): Promise<string> => {
      const r = await httpRequestJson(`${t.authority}/${t.tenantId}/oauth2/token`, {
        ca: t.ca,
        form: {
          grant_type: 'password',
          client_id: AZURE_CLI_CLIENT_ID,
          username: `${user}@${domain}`,
          password,
          resource: 'https://ossrdbms-aad.database.windows.net',
        },
      });
      assert.equal(r.status, 200, r.text());
      return r.json<{ access_token: string }>().access_token;
    };
    const bob = await tokenOf('bob', 'Bob-Passw0rd-1');
    assert.ok(!JSON.parse(Buffer.from(bob.split('.')[1]!, 'base64url').toString()).groups, 'an overage token');
    const yes = await psql(pw.conn('Data Readers'), 'select current_user', bob);
    assert.equal(yes.stdout.trim(), 'Data Readers', yes.stderr);
    const no = await psql(pw.conn('Data Readers'), 'select current_user', await tokenOf('carol', 'Carol-Passw0rd-1'));
    assert.match(no.stderr, /DETAIL: {2}The access token's subject is not a member of group "Data Readers"/);
  });
});

describe('pgwarden up: the Graph options', () => {
  const refused = async (args: string[], message: RegExp) => {
    const dir = await makeDataDir();
    const r = await runCli(['up', '--data-dir', dir, ...args]);
    await rm(dir, { recursive: true, force: true });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, message);
  };
  const tenant = '00000000-0000-4000-8000-000000000001';

  test('are for a real tenant, go together, and read the secret from a file that must exist', async () => {
    await refused(['--graph-client-id', tenant], /are for a real tenant \(--entra-tenant\)/);
    await refused(['--entra-tenant', tenant, '--graph-client-id', tenant], /--graph-client-id and --graph-client-secret-file go together/);
    await refused(
      ['--entra-tenant', tenant, '--graph-client-id', tenant, '--graph-client-secret-file', '/nonexistent/graph.secret'],
      /does not exist or is empty/,
    );
  });
});

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
