// The CLI of the control plane: every command is one API call (api-client.ts), so the
// CLI, the portal and any other client see the same rules and errors.
import type { Command } from 'commander';
import { defined } from '../util/defaults.js';
import { ApiSession, print, printNodes, promptSecret, readStdinSecret, withApiOptions, type ApiOptions } from './api-client.js';

type Nodes = { nodes?: Array<{ node: string; ok: boolean; error?: string }> };

async function session(opts: ApiOptions): Promise<ApiSession> {
  return ApiSession.open(opts);
}

async function password(opts: { passwordStdin?: boolean }, question: string): Promise<string> {
  return opts.passwordStdin ? readStdinSecret() : promptSecret(question);
}

const path = (name: string): string => encodeURIComponent(name);

export function registerManageCommands(program: Command): void {
  // pgwarden auth
  const auth = program.command('auth').description("the cluster's authentication methods");
  withApiOptions(auth.command('show').description('show the authentication methods')).action(async (o: ApiOptions) => {
    const r = await (await session(o)).call<{ methods: string; label: string; sessionExpiry: string }>('GET', '/authentication');
    if (o.output === 'json') print('json', r);
    else process.stdout.write(`${r.methods}  (${r.label})\nsession expiry: ${r.sessionExpiry}\n`);
  });
  withApiOptions(
    auth
      .command('set-session-expiry')
      .argument('<expiry>', 'token (a session signed in with an access token ends when the token expires) or never (the default)')
      .description('whether sessions signed in with an access token end with it; applies within a second'),
  ).action(async (expiry: string, o: ApiOptions) => {
    const r = await (await session(o)).call<{ sessionExpiry: string; previous: string }>('PUT', '/authentication/session-expiry', { sessionExpiry: expiry });
    if (o.output === 'json') return print('json', r);
    process.stdout.write(`session expiry: ${r.sessionExpiry} (was ${r.previous})\n`);
  });
  withApiOptions(
    auth
      .command('set-method')
      .argument('<method>', 'postgres, entra or both')
      .description('choose the authentication methods; applies to new sign-ins within a second'),
  ).action(async (method: string, o: ApiOptions) => {
    const r = await (await session(o)).call<{ methods: string; label: string } & Nodes>('PUT', '/authentication', { methods: method });
    if (o.output === 'json') return print('json', r);
    process.stdout.write(`authentication methods: ${r.methods} (${r.label})\n`);
    printNodes(r.nodes);
  });

  // pgwarden admin / pgwarden principal
  for (const admins of [true, false]) {
    const resource = admins ? '/entra-admins' : '/entra-principals';
    const group = program
      .command(admins ? 'admin' : 'principal')
      .description(admins ? 'Microsoft Entra admins (same privileges as citus)' : 'Microsoft Entra principals: users, service principals, groups');
    const add = group
      .command('add')
      .argument('<name>', 'UPN for a user; display name for a service principal or group')
      .option('--object-id <id>', 'the Entra object id (looked up in the directory when omitted, where there is one)')
      .option('--type <type>', admins ? 'user or servicePrincipal' : 'user, servicePrincipal or group', 'user')
      .option('--app-id <id>', "a service principal's application (client) id")
      .option('--issuer <url>', 'a principal of this OpenID Connect issuer (--oidc-issuer of pgwarden up) instead of the Entra tenant')
      .option('--subject <value>', "with --issuer: a user's subject claim; a group's value in the groups claim (default: the name)")
      .description(admins ? 'add a Microsoft Entra admin' : 'add a Microsoft Entra principal');
    if (!admins) add.option('--admin', 'make it an admin (same as pgwarden admin add)', false);
    type AddOptions = ApiOptions & { objectId?: string; type: string; appId?: string; issuer?: string; subject?: string; admin?: boolean };
    withApiOptions(add).action(async (name: string, o: AddOptions) => {
      const body = { name, type: o.type, ...defined({ objectId: o.objectId, appId: o.appId, issuer: o.issuer, subject: o.subject }) };
      const r = await (await session(o)).call<Record<string, unknown> & Nodes>('POST', admins || o.admin ? '/entra-admins' : resource, body);
      if (o.output === 'json') return print('json', r);
      const key = r.issuer
        ? `issuer ${String(r.issuer)}, ${r.type === 'group' ? 'group' : 'subject'} ${String(r.objectId)}`
        : `object id ${String(r.objectId)}`;
      process.stdout.write(
        `added ${String(r.type)} "${String(r.name)}" (${key})${r.isAdmin ? (r.issuer ? ' as an admin' : ' as a Microsoft Entra admin') : ''}\n`,
      );
      printNodes(r.nodes);
    });
    withApiOptions(group.command('list').description(admins ? 'list the Microsoft Entra admins' : 'list the Microsoft Entra principals')).action(
      async (o: ApiOptions) => {
        const r = await (await session(o)).call<{ items: Array<Record<string, unknown>> }>('GET', resource);
        print(o.output, r, r.items, ['name', 'type', 'objectId', 'appId', 'issuer', 'isAdmin']);
      },
    );
    withApiOptions(group.command('remove').argument('<name>').description('remove it, and its role on every node')).action(
      async (name: string, o: ApiOptions) => {
        const r = await (await session(o)).call<{ name: string } & Nodes>('DELETE', `${resource}/${path(name)}`);
        if (o.output === 'json') return print('json', r);
        process.stdout.write(`removed "${r.name}"\n`);
        printNodes(r.nodes);
      },
    );
  }

  // pgwarden role
  const role = program.command('role').description('native PostgreSQL roles');
  withApiOptions(
    role
      .command('add')
      .argument('<name>')
      .option('--password-stdin', 'read the password from standard input')
      .description('add a role with LOGIN on every node'),
  ).action(async (name: string, o: ApiOptions & { passwordStdin?: boolean }) => {
    const pw = await password(o, `Password for "${name}": `);
    const r = await (await session(o)).call<{ name: string } & Nodes>('POST', '/roles', { name, password: pw });
    if (o.output === 'json') return print('json', r);
    process.stdout.write(`added role "${r.name}"\n`);
    printNodes(r.nodes);
  });
  withApiOptions(role.command('list').description('list the native roles')).action(async (o: ApiOptions) => {
    const r = await (await session(o)).call<{ items: Array<Record<string, unknown>> }>('GET', '/roles');
    print(o.output, r, r.items, ['name', 'builtIn', 'canLogin', 'memberOf']);
  });
  withApiOptions(
    role
      .command('delete')
      .argument('<name>')
      .option('--reassign-to <role>', 'give what the role owns to this role, and drop its privileges')
      .description('delete a role on every node'),
  ).action(async (name: string, o: ApiOptions & { reassignTo?: string }) => {
    const q = o.reassignTo ? `?reassignTo=${encodeURIComponent(o.reassignTo)}` : '';
    const r = await (await session(o)).call<{ name: string } & Nodes>('DELETE', `/roles/${path(name)}${q}`);
    if (o.output === 'json') return print('json', r);
    process.stdout.write(`deleted role "${r.name}"\n`);
    printNodes(r.nodes);
  });
  withApiOptions(
    role
      .command('reset-password')
      .argument('<name>')
      .option('--password-stdin', 'read the password from standard input')
      .description("reset a role's password on every node"),
  ).action(async (name: string, o: ApiOptions & { passwordStdin?: boolean }) => {
    const pw = await password(o, `New password for "${name}": `);
    const r = await (await session(o)).call<{ name: string } & Nodes>('POST', `/roles/${path(name)}/reset-password`, { password: pw });
    if (o.output === 'json') return print('json', r);
    process.stdout.write(`reset the password of "${r.name}"\n`);
    printNodes(r.nodes);
  });

  // pgwarden status
  withApiOptions(program.command('status').description('the nodes, whether each matches the coordinator, and the authentication methods')).action(
    async (o: ApiOptions) => {
      type Node = {
        name: string;
        kind: string;
        state: string;
        error?: string;
        sync?: { state: string; pending?: string; unreachableSince?: string; drift: Array<{ kind: string; subject: string }>; errors: string[] };
      };
      const r = await (await session(o)).call<{ authentication: string; mode?: string; nodes: Node[] }>('GET', '/cluster');
      if (o.output === 'json') return print('json', r);
      process.stdout.write(
        `authentication: ${r.authentication}${r.mode ? `; propagation: ${r.mode === 'citus' ? 'Citus (checked by pgwarden)' : 'by pgwarden'}` : ''}\n`,
      );
      const rows = r.nodes.map((n) => ({
        node: n.name,
        kind: n.kind,
        state: n.state,
        sync: n.sync?.state ?? '',
        detail:
          n.sync?.state === 'pending'
            ? n.sync.pending
            : n.sync?.state === 'unreachable'
              ? `since ${n.sync.unreachableSince}`
              : [...(n.sync?.drift ?? []).map((d) => `drift: ${d.kind} ${d.subject}`), ...(n.sync?.errors ?? [])].join('; ') || (n.error ?? ''),
      }));
      print('table', r, rows, ['node', 'kind', 'state', 'sync', 'detail']);
    },
  );

  // pgwarden cluster exec
  const cluster = program.command('cluster').description('the nodes of the cluster');
  withApiOptions(
    cluster
      .command('exec')
      .argument('<sql>', 'the statement (or a script of statements)')
      .addOption(program.createOption('--nodes <which>', 'all, coordinator or workers').choices(['all', 'coordinator', 'workers']).default('all'))
      .description("run a statement as yourself on the chosen nodes (like Citus's run_command_on_workers)"),
  ).action(async (sql: string, o: ApiOptions & { nodes: string }) => {
    const r = await (
      await session(o)
    ).call<{ results: Array<{ node: string; ok: boolean; command?: string; rowCount?: number; rows?: unknown[]; error?: string }> }>('POST', '/cluster/exec', {
      sql,
      nodes: o.nodes,
    });
    if (o.output === 'json') return print('json', r);
    for (const x of r.results) {
      process.stdout.write(x.ok ? `${x.node}: ${x.command} ${x.rowCount}\n` : `${x.node}: failed: ${x.error}\n`);
      for (const row of x.rows ?? []) process.stdout.write(`  ${JSON.stringify(row)}\n`);
    }
    if (r.results.some((x) => !x.ok)) process.exitCode = 4;
  });

  // pgwarden audit
  withApiOptions(
    program
      .command('audit')
      .option('--limit <n>', 'how many entries', '50')
      .addOption(program.createOption('--kind <kind>', 'sign-in or change').choices(['sign-in', 'change']))
      .description('sign-ins and changes, newest first'),
  ).action(async (o: ApiOptions & { limit: string; kind?: string }) => {
    const q = new URLSearchParams({ limit: o.limit, ...(o.kind ? { kind: o.kind } : {}) });
    const r = await (await session(o)).call<{ items: Array<Record<string, unknown>> }>('GET', `/audit?${q.toString()}`);
    print(o.output, r, r.items, ['at', 'kind', 'actor', 'action', 'target', 'method', 'clientAddr', 'result', 'reason']);
  });
}
