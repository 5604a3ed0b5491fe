// Microsoft Entra sign-in through the gateway with psql: tokens from the embedded
// identity provider as passwords, for users, service principals and group members;
// and every way a token must be refused, each with a message that helps its holder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { addPrincipal, removePrincipal } from '../../src/control/principals.js';
import { CITUS_PASSWORD, psql, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { appToken, forge, otherRsaKey, savedAdmin, userClaims, userToken, RESOURCE, type SavedAdmin } from '../helpers/entra.js';
import { collect, directTls, errorMessage, startupPacket } from '../helpers/raw-client.js';

let pw: TestPgwarden;
let admin: SavedAdmin;
const used: string[] = [];

before(async () => {
  // Many refusals in a row for one role: this file tests them, not the throttle.
  // Tokens list at most 3 groups here (Entra: 200), so that a groups-overage token is cheap to get.
  pw = await startTestPgwarden({
    throttle: { roleFreeFailures: 1_000, addressFreeFailures: 1_000 },
    identity: { kind: 'embedded', port: 0, groupsClaimLimit: 3 },
  });
  admin = await savedAdmin(pw);
});
after(async () => {
  await pw?.destroy();
});

async function asRole(role: string, token: string, sql = 'select current_user'): Promise<{ out: string; err: string }> {
  used.push(token);
  const r = await psql(pw.conn(role), sql, token);
  return { out: r.stdout.trim(), err: r.stderr };
}

async function addUser(upn: string, password: string): Promise<string> {
  const { user } = await pw.idp!.directory.addUser({ userPrincipalName: upn, displayName: upn.split('@')[0]!, password });
  return user.objectId;
}

describe('sign-in with tokens', () => {
  test('the seeded admin signs in with v1 and v2 tokens, for every accepted audience', async () => {
    for (const resource of [RESOURCE, 'https://postgres.cosmos.azure.com', 'https://ossrdbms-aad.database.windows.net']) {
      for (const version of [1, 2] as const) {
        const token = await userToken(pw, admin.username, admin.password, { version, resource });
        const r = await asRole(admin.username, token);
        assert.equal(r.out, admin.username, `${resource} v${version}: ${r.err}`);
      }
    }
  });

  test("an admin has citus's privileges; a plain user principal does not", async () => {
    const token = await userToken(pw, admin.username, admin.password);
    const r = await asRole(admin.username, token, "create table admin_table(id int); select pg_has_role(current_user, 'pgwarden_admin', 'member')");
    assert.equal(r.out, 'CREATE TABLE\nt', r.err);
    const upn = `plain.user@${pw.idp!.tenantDomain}`;
    const oid = await addUser(upn, 'Plain-User-Passw0rd');
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, { roleName: upn, type: 'user', objectId: oid, tenantId: pw.idp!.tenantId, isAdmin: false });
    const plain = await asRole(upn, await userToken(pw, upn, 'Plain-User-Passw0rd'), 'create table plain_table(id int)');
    assert.match(plain.err, /permission denied for schema public/);
  });

  test('a service principal signs in with a client_credentials token (v1 and v2)', async () => {
    const sp = await pw.idp!.directory.addServicePrincipal({ displayName: 'Billing App' });
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, {
      roleName: 'Billing App',
      type: 'servicePrincipal',
      objectId: sp.servicePrincipal.objectId,
      appId: sp.servicePrincipal.appId!,
      tenantId: pw.idp!.tenantId,
      isAdmin: false,
    });
    for (const version of [1, 2] as const) {
      const r = await asRole('Billing App', await appToken(pw, sp.servicePrincipal.appId!, sp.secret, { version }));
      assert.equal(r.out, 'Billing App', `v${version}: ${r.err}`);
    }
    // A user's token is not the application's.
    const userR = await asRole('Billing App', await userToken(pw, admin.username, admin.password));
    assert.match(userR.err, /password authentication failed for user "Billing App"\nDETAIL: {2}The access token was not issued to the application/);
  });

  test("a member of a group signs in as the group's role with the member's own token", async () => {
    const upn = `member@${pw.idp!.tenantDomain}`;
    await addUser(upn, 'Member-Passw0rd-1');
    const outsider = `outsider@${pw.idp!.tenantDomain}`;
    await addUser(outsider, 'Outsider-Passw0rd-1');
    const group = await pw.idp!.directory.addGroup({ displayName: 'Data Readers' });
    await pw.idp!.directory.addMember('Data Readers', upn);
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, {
      roleName: 'Data Readers',
      type: 'group',
      objectId: group.objectId,
      tenantId: pw.idp!.tenantId,
      isAdmin: false,
    });
    const r = await asRole('Data Readers', await userToken(pw, upn, 'Member-Passw0rd-1'));
    assert.equal(r.out, 'Data Readers', r.err);
    const no = await asRole('Data Readers', await userToken(pw, outsider, 'Outsider-Passw0rd-1'));
    assert.match(no.err, /DETAIL: {2}The access token's subject is not a member of group "Data Readers"/);
  });

  test("a member of too many groups for the token (groups overage) signs in as a group's role; the directory is asked", async () => {
    const upn = `many.groups@${pw.idp!.tenantDomain}`;
    const other = `other.groups@${pw.idp!.tenantDomain}`;
    await addUser(upn, 'Many-Groups-Passw0rd-1');
    await addUser(other, 'Other-Groups-Passw0rd-1');
    const names = ['Overage A', 'Overage B', 'Overage C', 'Overage D', 'Overage E'];
    const groups = [];
    for (const name of names) groups.push(await pw.idp!.directory.addGroup({ displayName: name }));
    for (const name of names.slice(0, 4)) await pw.idp!.directory.addMember(name, upn);
    for (const name of names.slice(1)) await pw.idp!.directory.addMember(name, other);
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, {
      roleName: 'Overage A',
      type: 'group',
      objectId: groups[0]!.objectId,
      tenantId: pw.idp!.tenantId,
      isAdmin: false,
    });
    const token = await userToken(pw, upn, 'Many-Groups-Passw0rd-1', { version: 2 });
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.groups, undefined, 'the token lists no groups');
    assert.deepEqual(claims._claim_names, { groups: 'src1' });
    const r = await asRole('Overage A', token);
    assert.equal(r.out, 'Overage A', r.err);
    const no = await asRole('Overage A', await userToken(pw, other, 'Other-Groups-Passw0rd-1'));
    assert.match(no.err, /DETAIL: {2}The access token's subject is not a member of group "Overage A"/);
  });

  test("members of one group do not get each other's kept server sessions; the same member does", async () => {
    const members = ['first.member', 'second.member'].map((n) => `${n}@${pw.idp!.tenantDomain}`);
    const group = await pw.idp!.directory.addGroup({ displayName: 'Shared Readers' });
    for (const upn of members) {
      await addUser(upn, 'Shared-Passw0rd-1');
      await pw.idp!.directory.addMember('Shared Readers', upn);
    }
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, {
      roleName: 'Shared Readers',
      type: 'group',
      objectId: group.objectId,
      tenantId: pw.idp!.tenantId,
      isAdmin: false,
    });
    const pidOf = async (upn: string): Promise<string> => {
      const r = await asRole('Shared Readers', await userToken(pw, upn, 'Shared-Passw0rd-1'), 'select pg_backend_pid()');
      assert.match(r.out, /^\d+$/, r.err);
      await waitFor(() => pw.gateway.serverPoolStats.idle > 0, 5_000, 'a kept session');
      return r.out;
    };
    const first = await pidOf(members[0]!);
    const second = await pidOf(members[1]!);
    assert.notEqual(second, first, 'another member gets a session of its own');
    assert.equal(await pidOf(members[0]!), first, 'the same member gets its kept session again');
  });
});

describe('refusals', () => {
  const cases: Array<[string, () => Promise<string>, RegExp, string?]> = [
    [
      'an expired token',
      async () => forge(pw, userClaims(pw, admin, { exp: Math.floor(Date.now() / 1000) - 3600, nbf: Math.floor(Date.now() / 1000) - 7200 })),
      /The access token has expired/,
    ],
    ['a token not yet valid', async () => forge(pw, userClaims(pw, admin, { nbf: Math.floor(Date.now() / 1000) + 3600 })), /is not yet valid/],
    [
      'a token for another audience',
      async () => userToken(pw, admin.username, admin.password, { resource: 'https://management.core.windows.net/' }),
      /does not have a valid audience claim\. Please acquire a new token for the resource "https:\/\/token\.postgres\.cosmos\.azure\.com"/,
    ],
    ['a token of another tenant', async () => forge(pw, userClaims(pw, admin, { tid: randomUUID() })), /belongs to another tenant/],
    [
      'a token from another issuer',
      async () => forge(pw, userClaims(pw, admin, { iss: `https://sts.windows.net/${pw.idp!.tenantId}/` })),
      /was not issued by Microsoft Entra tenant/,
    ],
    ['a signature by an unknown key', async () => forge(pw, userClaims(pw, admin), { key: otherRsaKey() }), /signature is invalid/],
    [
      'an unpublished kid',
      async () => forge(pw, userClaims(pw, admin), { key: otherRsaKey(), kid: 'not-published-kid' }),
      /key that the tenant does not publish/,
    ],
    ['no kid', async () => forge(pw, userClaims(pw, admin), { kid: null }), /no key id/],
    [
      'alg none',
      async () => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `${enc({ typ: 'JWT', alg: 'none', kid: (await pw.idp!.keys.signer()).kid })}.${enc(userClaims(pw, admin))}.`;
      },
      /not signed with RS256/,
    ],
    [
      'HS256 signed with the public key as the secret',
      async () => {
        const jwks = await pw.idp!.keys.publicKeys(5400);
        const pem = `-----BEGIN CERTIFICATE-----\n${jwks[0]!.x5c[0]}\n-----END CERTIFICATE-----\n`;
        return forge(pw, userClaims(pw, admin), { alg: 'HS256', key: new TextEncoder().encode(pem), kid: jwks[0]!.kid });
      },
      /not signed with RS256/,
    ],
    // No DETAIL for what is not even shaped like a token: the answer is the one any role gives.
    ['garbage', async () => 'not a token at all', /"\n$/],
    ['a JWT-looking string', async () => 'eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln', /no key id/],
    ["the admin's password instead of a token", async () => admin.password, /"\n$/],
  ];
  for (const [name, make, detail] of cases) {
    test(`refuses ${name}`, async () => {
      const r = await asRole(admin.username, await make());
      assert.match(r.err, new RegExp(`FATAL: {2}password authentication failed for user "${admin.username.replace(/\./g, '\\.')}"`), r.err);
      assert.match(r.err, detail);
    });
  }

  test('user names are case-sensitive: a token for alice@ does not sign in as Alice@', async () => {
    const lower = `alice@${pw.idp!.tenantDomain}`;
    const upper = `Alice@${pw.idp!.tenantDomain}`;
    const oid = await addUser(lower, 'Alice-Passw0rd-1');
    // The role Alice@ is bound to the same object: only the name differs.
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, { roleName: upper, type: 'user', objectId: oid, tenantId: pw.idp!.tenantId, isAdmin: false });
    const r = await asRole(upper, await userToken(pw, lower, 'Alice-Passw0rd-1'));
    assert.match(r.err, /DETAIL: {2}The access token was issued to a user name that differs from "Alice@.*" in case/);
  });

  test('a user deleted and created again (same UPN, new object id) does not inherit the role', async () => {
    const upn = `recreated@${pw.idp!.tenantDomain}`;
    const oid = await addUser(upn, 'Recreated-Passw0rd-1');
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, { roleName: upn, type: 'user', objectId: oid, tenantId: pw.idp!.tenantId, isAdmin: false });
    assert.equal((await asRole(upn, await userToken(pw, upn, 'Recreated-Passw0rd-1'))).out, upn);
    await pw.idp!.directory.removeUser(upn);
    await addUser(upn, 'Recreated-Passw0rd-2');
    const r = await asRole(upn, await userToken(pw, upn, 'Recreated-Passw0rd-2'));
    assert.match(r.err, /DETAIL: {2}The access token belongs to a different Microsoft Entra user object/);
  });

  test('a token for a native role, and a native password for an Entra principal, are refused', async () => {
    const token = await userToken(pw, admin.username, admin.password);
    const native = await asRole('citus', token);
    assert.match(native.err, /password authentication failed for user "citus"/);
    const r = await psql(pw.conn(admin.username), 'select 1', CITUS_PASSWORD);
    assert.match(r.stderr, /password authentication failed/);
  });

  test('a password message over 16 KB is refused', async () => {
    const socket = directTls(pw.port, pw.caPath, ['postgresql']);
    const big = Buffer.alloc(5 + 17_000, 0x41);
    big.write('p', 0);
    big.writeInt32BE(4 + 17_000, 1);
    const out = await collect(socket, Buffer.concat([startupPacket({ user: admin.username, database: 'postgres' }), big]), 3_000);
    assert.match(errorMessage(out.data) ?? '', /message too long/);
  });

  test('without TLS an Entra principal is refused before any token is sent', async () => {
    // allowPlainLoopback is off here: the transport check refuses first.
    const r = await psql(`host=127.0.0.1 port=${pw.port} user='${admin.username}' dbname=postgres sslmode=disable`, 'select 1', 'x');
    assert.match(r.stderr, /SSL connection is required/);
  });
});

describe('keys and logs', () => {
  test('after a key rotation old tokens keep working and new ones work at once, with no restart', async () => {
    const before = await userToken(pw, admin.username, admin.password);
    assert.equal((await asRole(admin.username, before)).out, admin.username);
    const rotation = await pw.idp!.rotateKeys();
    const after = await userToken(pw, admin.username, admin.password);
    const kid = (t: string) => (JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    assert.equal(kid(after), rotation.active);
    assert.notEqual(kid(after), kid(before));
    assert.equal((await asRole(admin.username, after)).out, admin.username);
    assert.equal((await asRole(admin.username, before)).out, admin.username);
  });

  test('an Entra principal removed from the cluster cannot sign in any more', async () => {
    const upn = `leaver@${pw.idp!.tenantDomain}`;
    const oid = await addUser(upn, 'Leaver-Passw0rd-1');
    await addPrincipal(pw.cluster, pw.cluster.gatewaySecret, { roleName: upn, type: 'user', objectId: oid, tenantId: pw.idp!.tenantId, isAdmin: false });
    const token = await userToken(pw, upn, 'Leaver-Passw0rd-1');
    // Only the leaver's session is kept, so that the gateway's reaction to the change can be seen.
    pw.gateway.closeIdleServerSessions();
    assert.equal((await asRole(upn, token)).out, upn);
    await waitFor(() => pw.gateway.serverPoolStats.idle === 1, 5_000, "the leaver's session kept");
    await removePrincipal(pw.cluster, upn);
    // The catalog watch drops the gateway's cached answers on the NOTIFY of the change, and
    // the kept sessions with them (nothing else closes an idle session this soon).
    await waitFor(() => pw.gateway.serverPoolStats.idle === 0, 5_000, 'the catalog watch to drop what the gateway kept');
    assert.match((await asRole(upn, token)).err, /password authentication failed/);
    const roles = await pw.cluster.withSuperuser(
      pw.cluster.coordinator,
      async (c) => (await c.query(`select 1 from pg_roles where rolname = $1`, [upn])).rowCount,
    );
    assert.equal(roles, 0);
  });

  test("no token or password appears in pgwarden's or PostgreSQL's logs", async () => {
    const logs = [await readFile(pw.logFile, 'utf8')];
    for (const f of await readdir(join(pw.dataDir, 'logs'))) logs.push(await readFile(join(pw.dataDir, 'logs', f), 'utf8'));
    const all = logs.join('\n');
    assert.ok(used.length > 20);
    for (const secret of [...used, admin.password, CITUS_PASSWORD]) {
      assert.ok(!all.includes(secret), `a secret (${secret.slice(0, 12)}...) is in the logs`);
      // A token's signature part alone must not be there either.
      const sig = secret.split('.')[2];
      if (sig && sig.length > 20) assert.ok(!all.includes(sig), 'a token signature is in the logs');
    }
  });
});
