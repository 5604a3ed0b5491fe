// `pgwarden idp ...`: the embedded identity provider's directory and keys, edited through
// its files in <data-dir>/idp/, so they work whether or not `pgwarden up` runs (a running
// provider re-reads the files at its next request). Secrets (a generated password, a
// client secret) are printed once, when made; listings never show secrets or hashes.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { readEndpoint } from '../idp/endpoint-file.js';
import { GRAPH_APP_ROLES } from '../idp/graph/permissions.js';
import { issuersFor } from '../idp/issuers.js';
// The provider's files (keys need crypto and certificate code) load on use, so that
// every other command starts faster.
const seedModule = () => import('../idp/seed.js');
import { PgwardenError } from '../util/errors.js';
import { print, readStdinSecret } from './api-client.js';
import { DEFAULTS } from '../util/defaults.js';

interface IdpOptions {
  dataDir: string;
  output: 'table' | 'json';
}

const out = (text: string): void => void process.stdout.write(`${text}\n`);
const json = (value: unknown): void => print('json', value);

function withIdpOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'the data directory whose identity provider to change (its idp/ folder)', DEFAULTS.dataDir)
    .addOption(cmd.createOption('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table'));
}

async function files(o: IdpOptions) {
  return (await seedModule()).openIdpFiles(resolve(o.dataDir));
}

export function registerIdpCommands(program: Command): void {
  const idp = program.command('idp').description("the embedded identity provider's tenant: users, service principals, groups, signing keys");

  withIdpOptions(idp.command('init').description('create the tenant and its first user (pgwarden up does this on its first start)')).action(
    async (o: IdpOptions) => {
      const { directory, keys } = await files(o);
      const admin = await (await seedModule()).seedIfEmpty(directory, keys);
      if (!admin) throw new PgwardenError('ALREADY_EXISTS', `${resolve(o.dataDir)} has an identity provider tenant already`);
      if (o.output === 'json') return json(admin);
      out(`created tenant ${admin.tenantId} (${admin.tenantDomain})`);
      out(`user ${admin.username} has the password ${admin.password}`);
      out('(shown only now; it is stored only as a hash)');
    },
  );

  withIdpOptions(idp.command('show').description('the tenant, and where the provider listens when it runs')).action(async (o: IdpOptions) => {
    const { directory } = await files(o);
    const data = await directory.require();
    const endpoint = await readEndpoint(resolve(o.dataDir));
    const info = {
      tenantId: data.tenant.id,
      tenantDomain: data.tenant.domain,
      authority: endpoint?.authority ?? null,
      issuers: endpoint ? issuersFor(endpoint.authority, data.tenant.id) : null,
      users: data.users.length,
      servicePrincipals: data.servicePrincipals.length,
      groups: data.groups.length,
    };
    if (o.output === 'json') return json(info);
    out(`tenant     ${info.tenantId} (${info.tenantDomain})`);
    out(`authority  ${info.authority ?? 'not running'}`);
    if (info.issuers) out(`issuers    ${info.issuers.v1}  ${info.issuers.v2}`);
    out(`directory  ${info.users} users, ${info.servicePrincipals} service principals, ${info.groups} groups`);
  });

  registerUserCommands(idp.command('user').description('users'));
  registerServicePrincipalCommands(idp.command('sp').description('service principals (applications that sign in with a client secret)'));
  registerGroupCommands(idp.command('group').description('groups of users and service principals'));

  withIdpOptions(idp.command('rotate-keys').description('rotate the token-signing keys: the published next key starts signing')).action(
    async (o: IdpOptions) => {
      const { keys } = await files(o);
      const r = await keys.rotate();
      if (o.output === 'json') return json(r);
      out(`signing with ${r.active}; next key ${r.next} is published; ${r.retired} is retired (published until its tokens expire)`);
    },
  );
}

function registerUserCommands(user: Command): void {
  withIdpOptions(
    user
      .command('add')
      .argument('<upn>', 'user principal name (name@domain; a bare name gets the tenant domain)')
      .requiredOption('--display-name <name>', 'the name people see')
      .option('--password <password>', 'the password (default: a generated one, printed once)')
      .option('--password-stdin', 'read the password from standard input')
      .description('add a user'),
  ).action(async (upn: string, o: IdpOptions & { displayName: string; password?: string; passwordStdin?: boolean }) => {
    if (o.password !== undefined && o.passwordStdin) throw new PgwardenError('INVALID_INPUT', '--password and --password-stdin cannot be used together');
    const password = o.passwordStdin ? await readStdinSecret() : o.password;
    const { directory } = await files(o);
    const r = await directory.addUser({ userPrincipalName: upn, displayName: o.displayName, ...(password !== undefined ? { password } : {}) });
    if (o.output === 'json') return json({ ...r.user, ...(r.password ? { password: r.password } : {}) });
    out(`added user ${r.user.userPrincipalName} (object id ${r.user.objectId})`);
    if (r.password) out(`password: ${r.password}  (shown only now)`);
  });

  withIdpOptions(user.command('list').description('list the users')).action(async (o: IdpOptions) => {
    const users = await (await files(o)).directory.listUsers();
    print(o.output, users, users as unknown as Array<Record<string, unknown>>, ['userPrincipalName', 'displayName', 'objectId']);
  });

  withIdpOptions(user.command('remove').argument('<upn>', 'user principal name or object id').description('remove a user (its sessions end)')).action(
    async (upn: string, o: IdpOptions) => {
      const r = await (await files(o)).directory.removeUser(upn);
      if (o.output === 'json') return json(r);
      out(`removed user ${r.userPrincipalName}`);
    },
  );
}

function registerServicePrincipalCommands(sp: Command): void {
  withIdpOptions(
    sp
      .command('add')
      .argument('<display-name>', 'the name people see (and the PostgreSQL role name)')
      .option('--years <n>', 'the client secret expires after this many years', (v: string) => Number(v), 1)
      .option('--redirect-uri <uri...>', 'redirect URIs for the authorization code flow (loopback URIs need none)')
      .description('add a service principal with a new application id and a client secret'),
  ).action(async (displayName: string, o: IdpOptions & { years: number; redirectUri?: string[] }) => {
    const r = await (
      await files(o)
    ).directory.addServicePrincipal({ displayName, secretYears: o.years, ...(o.redirectUri ? { redirectUris: o.redirectUri } : {}) });
    // The JSON has the fields of `az ad sp create-for-rbac`, plus the object id.
    if (o.output === 'json') {
      return json({
        appId: r.servicePrincipal.appId,
        displayName: r.servicePrincipal.displayName,
        objectId: r.servicePrincipal.objectId,
        password: r.secret,
        tenant: r.tenantId,
      });
    }
    out(`added service principal "${r.servicePrincipal.displayName}"`);
    out(`  appId      ${r.servicePrincipal.appId}`);
    out(`  objectId   ${r.servicePrincipal.objectId}`);
    out(`  tenant     ${r.tenantId}`);
    out(`  secret     ${r.secret}  (shown only now; expires ${r.secretExpiresAt.slice(0, 10)})`);
  });

  withIdpOptions(sp.command('list').description('list the service principals (secret hints and expiry only) and their Microsoft Graph permissions')).action(
    async (o: IdpOptions) => {
      const sps = await (await files(o)).directory.listServicePrincipals();
      const rows = sps.map((s) => ({ ...s, secrets: s.secrets.map((x) => `${x.hint}*** until ${x.expiresAt.slice(0, 10)}`) }));
      print(o.output, sps, rows, ['displayName', 'appId', 'objectId', 'secrets', 'graphPermissions']);
    },
  );

  // Microsoft Graph application permissions, as an admin grants them in Entra (an app role
  // assignment with admin consent): the provider's Graph subset reads only with them.
  const known = GRAPH_APP_ROLES.map((r) => r.value).join(', ');
  for (const verb of ['grant', 'revoke'] as const) {
    withIdpOptions(
      sp
        .command(verb)
        .argument('<name-or-app-id>', 'display name, application id or object id')
        .requiredOption('--graph <permission...>', `Microsoft Graph application permissions (${known})`)
        .description(
          verb === 'grant'
            ? 'grant Microsoft Graph application permissions: Graph tokens issued from now on carry them in roles'
            : 'revoke Microsoft Graph application permissions: Graph calls with them stop at once',
        ),
    ).action(async (name: string, o: IdpOptions & { graph: string[] }) => {
      const { directory } = await files(o);
      const r = verb === 'grant' ? await directory.grantGraphPermission(name, o.graph) : await directory.revokeGraphPermission(name, o.graph);
      if (o.output === 'json') return json({ ...r.servicePrincipal, graphPermissions: r.graphPermissions });
      const now = r.graphPermissions.length > 0 ? r.graphPermissions.join(', ') : 'none';
      out(
        `${verb === 'grant' ? 'granted' : 'revoked'} Microsoft Graph ${o.graph.join(', ')} ` +
          `${verb === 'grant' ? 'to' : 'from'} service principal "${r.servicePrincipal.displayName}"`,
      );
      out(`  Graph permissions now: ${now}`);
      if (verb === 'grant') out('  (in Graph tokens issued from now on)');
    });
  }

  withIdpOptions(
    sp.command('remove').argument('<name-or-app-id>', 'display name, application id or object id').description('remove a service principal'),
  ).action(async (name: string, o: IdpOptions) => {
    const r = await (await files(o)).directory.removeServicePrincipal(name);
    if (o.output === 'json') return json(r);
    out(`removed service principal "${r.displayName}" (${r.appId})`);
  });
}

function registerGroupCommands(group: Command): void {
  withIdpOptions(group.command('add').argument('<name>', 'the display name (and the PostgreSQL role name)').description('add a group')).action(
    async (name: string, o: IdpOptions) => {
      const r = await (await files(o)).directory.addGroup({ displayName: name });
      if (o.output === 'json') return json(r);
      out(`added group "${r.displayName}" (object id ${r.objectId})`);
    },
  );

  withIdpOptions(group.command('remove').argument('<name>', 'display name or object id').description('remove a group')).action(
    async (name: string, o: IdpOptions) => {
      const r = await (await files(o)).directory.removeGroup(name);
      if (o.output === 'json') return json(r);
      out(`removed group "${r.displayName}"`);
    },
  );

  withIdpOptions(
    group
      .command('member-add')
      .argument('<group>', 'display name or object id')
      .argument('<member>', "a user's UPN, or a service principal's display name or application id")
      .description('add a member to a group'),
  ).action(async (name: string, member: string, o: IdpOptions) => {
    const r = await (await files(o)).directory.addMember(name, member);
    if (o.output === 'json') return json(r);
    out(`${r.member.userPrincipalName ?? r.member.displayName} is a member of "${r.group.displayName}"`);
  });

  withIdpOptions(group.command('member-remove').argument('<group>').argument('<member>').description('remove a member from a group')).action(
    async (name: string, member: string, o: IdpOptions) => {
      const r = await (await files(o)).directory.removeMember(name, member);
      if (o.output === 'json') return json(r);
      out(`${r.member.userPrincipalName ?? r.member.displayName} is no longer a member of "${r.group.displayName}"`);
    },
  );

  withIdpOptions(group.command('list').description('list the groups and their members')).action(async (o: IdpOptions) => {
    const groups = await (await files(o)).directory.listGroups();
    const rows = groups.map((g) => ({ ...g, members: g.members.map((m) => m.userPrincipalName ?? m.displayName) }));
    print(o.output, groups, rows, ['displayName', 'objectId', 'members']);
  });
}
