// The directory's editor against real files: what it stores, what it shows, its rules,
// and concurrent writers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Directory } from '../../src/idp/directory.js';
import { idpPaths } from '../../src/idp/paths.js';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { isPgwardenError } from '../../src/util/errors.js';
import { makeDataDir } from '../helpers/pgwarden.js';

async function withDirectory(fn: (d: Directory, path: string) => Promise<void>): Promise<void> {
  const dir = await makeDataDir();
  try {
    const path = idpPaths(dir).directory;
    const d = new Directory(path);
    await d.createTenant();
    await fn(d, path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a new tenant: random id, pgwarden<6 hex>.onmicrosoft.com, the Azure CLI as public client, file 0600', async () => {
  await withDirectory(async (d, path) => {
    const data = (await d.snapshot())!;
    assert.match(data.tenant.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(data.tenant.domain, /^pgwarden[0-9a-f]{6}\.onmicrosoft\.com$/);
    assert.deepEqual(
      data.publicClients.map((c) => c.appId),
      [AZURE_CLI_CLIENT_ID],
    );
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await d.createTenant(), undefined, 'a second createTenant changes nothing');
  });
});

test('users: a bare name gets the domain, a generated password is returned once, the file holds only a scrypt hash', async () => {
  await withDirectory(async (d, path) => {
    const domain = (await d.snapshot())!.tenant.domain;
    const a = await d.addUser({ userPrincipalName: 'alice', displayName: 'Alice Smith' });
    assert.equal(a.user.userPrincipalName, `alice@${domain}`);
    assert.ok(a.password && a.password.length >= 20);
    const b = await d.addUser({ userPrincipalName: 'Bob@Example.com', displayName: 'Bob', password: 'Bob-passw0rd' });
    assert.equal(b.password, undefined);
    const text = await readFile(path, 'utf8');
    assert.ok(!text.includes(a.password!) && !text.includes('Bob-passw0rd'));
    assert.match(text, /"passwordHash": "scrypt\$32768\$8\$1\$/);
    const list = await d.listUsers();
    assert.deepEqual(
      list.map((u) => u.userPrincipalName),
      [`alice@${domain}`, 'Bob@Example.com'],
    );
    assert.ok(!JSON.stringify(list).includes('scrypt'), 'listing shows no hash');
    await assert.rejects(d.addUser({ userPrincipalName: 'bob@example.com', displayName: 'x', password: 'whatever-1' }), (e) =>
      isPgwardenError(e, 'ALREADY_EXISTS'),
    );
    await assert.rejects(d.addUser({ userPrincipalName: 'no spaces@x.com', displayName: 'x', password: 'whatever-1' }), (e) =>
      isPgwardenError(e, 'INVALID_INPUT'),
    );
    await assert.rejects(d.addUser({ userPrincipalName: 'carol', displayName: 'x', password: 'short' }), (e) => isPgwardenError(e, 'INVALID_INPUT'));
    await assert.rejects(d.addUser({ userPrincipalName: 'carol', displayName: '', password: 'long-enough' }), (e) => isPgwardenError(e, 'INVALID_INPUT'));
  });
});

test('service principals: app id, object id, a secret shown once and stored as a hash with hint and expiry', async () => {
  await withDirectory(async (d, path) => {
    const sp = await d.addServicePrincipal({ displayName: 'reporting-app' });
    assert.match(sp.secret, /^[A-Za-z0-9]{3}8Q~[A-Za-z0-9_.~-]{34}$/);
    assert.notEqual(sp.servicePrincipal.appId, sp.servicePrincipal.objectId);
    const text = await readFile(path, 'utf8');
    assert.ok(!text.includes(sp.secret));
    const [listed] = await d.listServicePrincipals();
    assert.equal(listed!.secrets[0]!.hint, sp.secret.slice(0, 3));
    assert.ok(Date.parse(listed!.secrets[0]!.expiresAt) > Date.now() + 364 * 86_400_000);
    assert.ok(!JSON.stringify(listed).includes('sha256'), 'listing shows no hash');
    await assert.rejects(d.addServicePrincipal({ displayName: 'Reporting-App' }), (e) => isPgwardenError(e, 'ALREADY_EXISTS'));
    await assert.rejects(d.addGroup({ displayName: 'reporting-app' }), (e) => isPgwardenError(e, 'ALREADY_EXISTS'), 'a group may not take an SP name');
    const removed = await d.removeServicePrincipal(sp.servicePrincipal.appId);
    assert.equal(removed.displayName, 'reporting-app');
    await assert.rejects(d.removeServicePrincipal('reporting-app'), (e) => isPgwardenError(e, 'NOT_FOUND'));
  });
});

test('Graph application permissions: granted and revoked by value (any case) or app role id, known ones only, stored on the service principal', async () => {
  await withDirectory(async (d, path) => {
    const sp = await d.addServicePrincipal({ displayName: 'directory-reader' });
    assert.deepEqual((await d.listServicePrincipals())[0]!.graphPermissions, [], 'a new service principal has none');
    const granted = await d.grantGraphPermission('Directory-Reader', 'groupmember.read.all');
    assert.equal(granted.servicePrincipal.objectId, sp.servicePrincipal.objectId);
    assert.deepEqual(granted.graphPermissions, ['GroupMember.Read.All']);
    // By app role id, several at once, and again: known order, no duplicates.
    const both = await d.grantGraphPermission(sp.servicePrincipal.appId, ['7AB1D382-F21E-4ACD-A863-BA3E13F7DA61', 'GroupMember.Read.All']);
    assert.deepEqual(both.graphPermissions, ['Directory.Read.All', 'GroupMember.Read.All']);
    assert.deepEqual((await d.grantGraphPermission(sp.servicePrincipal.objectId, 'Directory.Read.All')).graphPermissions, [
      'Directory.Read.All',
      'GroupMember.Read.All',
    ]);
    assert.deepEqual((await d.snapshot())!.servicePrincipals[0]!.graphPermissions, ['Directory.Read.All', 'GroupMember.Read.All']);
    assert.match(await readFile(path, 'utf8'), /"graphPermissions": \[\n\s+"Directory.Read.All",\n\s+"GroupMember.Read.All"\n\s+\]/);
    assert.deepEqual((await d.listServicePrincipals())[0]!.graphPermissions, ['Directory.Read.All', 'GroupMember.Read.All']);

    const unknown = (e: unknown) =>
      isPgwardenError(e, 'INVALID_INPUT') &&
      /"User.ReadWrite.All" is not a Microsoft Graph application permission pgwarden knows \(Directory.Read.All, GroupMember.Read.All\)/.test(
        (e as Error).message,
      );
    await assert.rejects(d.grantGraphPermission('directory-reader', 'User.ReadWrite.All'), unknown);
    await assert.rejects(d.grantGraphPermission('directory-reader', ['Directory.Read.All', 'User.ReadWrite.All']), unknown, 'all or nothing');
    await assert.rejects(d.grantGraphPermission('directory-reader', []), (e) => isPgwardenError(e, 'INVALID_INPUT'));
    await assert.rejects(
      d.grantGraphPermission('nobody', 'Directory.Read.All'),
      (e) => isPgwardenError(e, 'NOT_FOUND') && /no service principal nobody/.test((e as Error).message),
    );

    assert.deepEqual((await d.revokeGraphPermission('directory-reader', 'directory.read.all')).graphPermissions, ['GroupMember.Read.All']);
    await assert.rejects(
      d.revokeGraphPermission('directory-reader', 'Directory.Read.All'),
      (e) =>
        isPgwardenError(e, 'NOT_FOUND') && (e as Error).message === 'service principal "directory-reader" has no Microsoft Graph permission Directory.Read.All',
    );
    assert.deepEqual((await d.revokeGraphPermission('directory-reader', '98830695-27a2-44f7-8c18-0c3ebc9698f6')).graphPermissions, []);
    await assert.rejects(d.revokeGraphPermission('directory-reader', 'Nope.Read'), (e) => isPgwardenError(e, 'INVALID_INPUT'));
  });
});

test('a directory file written before Graph permissions (no graphPermissions, no redirectUris) loads, with none', async () => {
  await withDirectory(async (d, path) => {
    await d.addServicePrincipal({ displayName: 'old-app' });
    const raw = JSON.parse(await readFile(path, 'utf8')) as { version: number; servicePrincipals: Array<Record<string, unknown>> };
    assert.equal(raw.version, 1);
    for (const s of raw.servicePrincipals) {
      delete s.graphPermissions;
      delete s.redirectUris;
    }
    await writeFile(path, JSON.stringify(raw));
    const old = new Directory(path);
    const [sp] = (await old.snapshot())!.servicePrincipals;
    assert.deepEqual(sp!.graphPermissions, []);
    assert.deepEqual(sp!.redirectUris, []);
    assert.deepEqual((await old.grantGraphPermission('old-app', 'Directory.Read.All')).graphPermissions, ['Directory.Read.All']);
  });
});

test('groups: members by UPN, SP name or app id; removing a user or SP removes its memberships', async () => {
  await withDirectory(async (d) => {
    const { user } = await d.addUser({ userPrincipalName: 'dora', displayName: 'Dora', password: 'Dora-passw0rd' });
    const sp = await d.addServicePrincipal({ displayName: 'etl' });
    const g = await d.addGroup({ displayName: 'analysts' });
    await d.addMember('Analysts', user.userPrincipalName!.toUpperCase());
    await d.addMember('analysts', 'ETL');
    await d.addMember(g.objectId, sp.servicePrincipal.appId); // twice: no duplicate
    let [listed] = await d.listGroups();
    assert.deepEqual(listed!.members.map((m) => m.objectId).sort(), [user.objectId, sp.servicePrincipal.objectId].sort());
    await assert.rejects(d.addMember('analysts', 'nobody'), (e) => isPgwardenError(e, 'NOT_FOUND'));
    await d.removeMember('analysts', 'etl');
    await d.removeUser(user.userPrincipalName!);
    [listed] = await d.listGroups();
    assert.deepEqual(listed!.members, []);
  });
});

test('search: prefix of display name or any word of it, UPN or app id, case-insensitive, by type', async () => {
  await withDirectory(async (d) => {
    await d.addUser({ userPrincipalName: 'alice', displayName: 'Alice Smith', password: 'Alice-passw0rd' });
    await d.addUser({ userPrincipalName: 'smithers', displayName: 'Waylon', password: 'Waylo-passw0rd' });
    const sp = await d.addServicePrincipal({ displayName: 'Smith Reporting' });
    await d.addGroup({ displayName: 'Admins' });
    assert.deepEqual(
      (await d.search('smi')).map((p) => p.displayName),
      ['Alice Smith', 'Smith Reporting', 'Waylon'],
    );
    assert.deepEqual(
      (await d.search('SMI', ['user'])).map((p) => p.displayName),
      ['Alice Smith', 'Waylon'],
    );
    assert.deepEqual(
      (await d.search(sp.servicePrincipal.appId.slice(0, 6))).map((p) => p.type),
      ['servicePrincipal'],
    );
    assert.deepEqual(
      (await d.search('adm', ['group'])).map((p) => p.type),
      ['group'],
    );
    assert.equal((await d.search('')).length, 4);
    assert.equal((await d.search('', undefined, 2)).length, 2);
  });
});

test('concurrent writers from separate editors (as separate processes would be) lose no change', async () => {
  await withDirectory(async (_d, path) => {
    const editors = Array.from({ length: 8 }, () => new Directory(path));
    await Promise.all(editors.map((e, i) => e.addGroup({ displayName: `group-${i}` })));
    assert.equal((await new Directory(path).listGroups()).length, 8);
  });
});

test('a directory that does not exist yet says how to make one', async () => {
  const dir = await makeDataDir();
  try {
    const d = new Directory(idpPaths(dir).directory);
    await assert.rejects(d.listUsers(), (e) => isPgwardenError(e, 'CONFIG_INVALID') && /pgwarden idp init/.test((e as Error).message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
