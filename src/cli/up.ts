// `pgwarden up`: start everything, say what runs where, run until Ctrl-C or SIGTERM,
// then stop the gateway and every PostgreSQL server and wait for them.
import { isAbsolute, relative, resolve } from 'node:path';
import { startPgwarden } from '../pgwarden.js';
import { createLogger } from '../util/log.js';
import { checkGuid } from '../util/guid.js';
import { DEFAULT_AUDIENCES } from '../identity/config.js';
import { readOptional } from '../util/files.js';
import { PgwardenError } from '../util/errors.js';
import { commandName, shellWord } from './shell.js';
import { conninfoValue } from '../cluster/conninfo.js';
import { dataDirPaths } from '../util/data-dir-paths.js';
import { defined } from '../util/defaults.js';
import { AZURE_CLI_CLIENT_ID } from '../idp/model.js';
import { checkUpOptions, graphSecretFromEnv, type UpOptions, type UpSettings } from './up-settings.js';
import { reloadOnSignal } from './reload.js';
import { oidcIssuerSpecs, oidcIssuersOf } from './oidc-options.js';

export async function up(settings: UpSettings): Promise<void> {
  const opts = settings.options;
  checkUpOptions(opts);
  const dataDir = resolve(opts.dataDir);
  const log = createLogger({ file: dataDirPaths(dataDir).pgwardenLog, level: opts.logLevel });
  // From here on SIGHUP reloads (it would end the process otherwise).
  const reloads = reloadOnSignal(settings, dataDir, log);
  process.stdout.write(`pgwarden: starting in ${shown(dataDir)} ...\n`);
  const running = await startPgwarden({
    dataDir,
    host: opts.host,
    port: opts.port,
    log,
    allowPlainLoopback: opts.allowPlainLoopback,
    authTimeoutMs: opts.authTimeout * 1000,
    authMethod: opts.authMethod,
    maxPendingAuth: opts.maxPendingAuth,
    maxConnections: opts.maxConnections,
    throttle: { roleFreeFailures: opts.throttleRoleFailures, addressFreeFailures: opts.throttleAddressFailures },
    serverPool: { maxIdle: opts.serverPool, idleTimeoutMs: opts.serverIdleTimeout * 1000 },
    serverWaitTimeoutMs: opts.serverWaitTimeout * 1000,
    ...(opts.poolPort !== undefined ? { transactionPool: { port: opts.poolPort, size: opts.poolSize, waitTimeoutMs: opts.poolWaitTimeout * 1000 } } : {}),
    ...(opts.oauthPort !== undefined ? { oauth: { port: opts.oauthPort, ...defined({ scope: opts.oauthScope }) } } : {}),
    apiHost: opts.apiHost,
    apiPort: opts.apiPort,
    identity: opts.entraTenant
      ? {
          kind: 'entra',
          config: {
            authority: opts.entraAuthority,
            tenantId: checkGuid(opts.entraTenant, '--entra-tenant'),
            audiences: opts.entraAudience ?? DEFAULT_AUDIENCES,
            clockSkewSeconds: opts.clockSkew,
          },
          ...(await graphOptions(opts)),
        }
      : { kind: 'embedded', port: opts.idpPort },
    oidc: { issuers: await oidcIssuersOf(opts), clockSkewSeconds: opts.clockSkew },
    ...(opts.portalClientId || opts.portalUrl ? { portal: { entra: defined({ clientId: opts.portalClientId, publicUrl: opts.portalUrl }) } } : {}),
    ...defined({
      workers: opts.workers,
      citus: opts.citus,
      postgresBin: opts.postgresBin,
      external: opts.coordinator ? { coordinator: opts.coordinator, workers: opts.worker ?? [] } : undefined,
      citusPassword: opts.citusPassword,
      tlsCert: opts.tlsCert,
      tlsKey: opts.tlsKey,
    }),
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`pgwarden: ${signal} again, exiting now (the next start cleans up)\n`);
      process.exit(1);
    }
    stopping = true;
    // SIGTERM (a service manager) lets sessions finish; Ctrl-C stops at once.
    const drainMs = signal === 'SIGTERM' ? opts.drainTimeout * 1000 : 0;
    process.stdout.write(
      `\npgwarden: ${signal}: stopping the gateway${drainMs ? ` (sessions get ${opts.drainTimeout} s to finish)` : ''} and the cluster ...\n`,
    );
    running.stop(drainMs).then(
      () => {
        process.stdout.write('pgwarden: stopped.\n');
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`pgwarden: stop failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('uncaughtException', (e) => {
    log.fatal({ error: e.message, stack: e.stack }, 'uncaught exception');
    process.stderr.write(`pgwarden: internal error: ${e.message}\n`);
    stop('internal error');
  });

  const { address, cluster, tls, idp, seededAdmin } = running;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const citusFile = shown(cluster.citusPasswordFile);
  const lines = [
    '',
    'pgwarden is running.',
    `  gateway       ${address.address}:${address.port}  (PostgreSQL protocol, TLS required)`,
    ...(running.gateway.poolAddress
      ? [
          `  pool          ${running.gateway.poolAddress.address}:${running.gateway.poolAddress.port}  ` +
            `(the same sign-in; server sessions shared one transaction at a time, ${opts.poolSize} per role and database)`,
        ]
      : []),
    ...(running.oauth
      ? [
          `  oauth         ${running.oauth.address.address}:${running.oauth.address.port}  ` +
            `(PostgreSQL 18's OAuth sign-in, OAUTHBEARER, for Microsoft Entra principals; issuer ${running.oauth.issuer}, scope ${running.oauth.scope})`,
        ]
      : []),
    ...(tls.caPath ? [`  TLS CA        ${shown(tls.caPath)}  (for sslmode=verify-full)`] : []),
    `  API, portal   ${running.apiUrl}  (OpenAPI: ${running.apiUrl}/api/v1/openapi.json)`,
    ...(idp ? [`  identity      ${idp.authority}  (embedded Entra-compatible provider, tenant ${idp.tenantDomain}, ${idp.tenantId})`] : []),
    ...(opts.entraTenant ? [`  identity      ${opts.entraAuthority}  (Microsoft Entra tenant ${opts.entraTenant})`] : []),
    ...oidcIssuerSpecs(opts).map(
      (i) => `  identity      ${i.issuer}  (OpenID Connect issuer; audiences ${i.audiences.join(', ')}; role name from ${i.nameClaim})`,
    ),
    ...cluster.describe().map((n) => `  ${n.name.padEnd(12)}  ${n.where.replace(cluster.dataDir, shown(cluster.dataDir))}`),
    `  data          ${shown(cluster.dataDir)}`,
    `  logs          ${shown(dataDirPaths(cluster.dataDir).logs)}`,
    '',
  ];
  if (running.generatedCitusPassword) {
    lines.push(`The built-in role citus has the password ${running.generatedCitusPassword}`);
    lines.push(`(shown only now; it is saved, readable only by you, in ${citusFile}).`, '');
  }
  if (seededAdmin) {
    lines.push(`The embedded provider's first user, a Microsoft Entra admin of this cluster, is ${seededAdmin.username}`);
    lines.push(`with the password ${seededAdmin.password}`);
    lines.push(`(shown only now; saved, readable only by you, in ${shown(dataDirPaths(cluster.dataDir).entraAdmin)}).`, '');
  }
  // Each command line below runs as printed in this working directory (test/cli/up.test.ts
  // runs them). Without --data-dir, get-access-token uses the tenant of ./.pgwarden.
  const dataDirFlag = shown(cluster.dataDir) === '.pgwarden' ? '' : ` --data-dir ${shellWord(shown(cluster.dataDir))}`;
  lines.push(
    'Sign in through the gateway as citus:',
    `  PGPASSWORD=$(cat ${shellWord(citusFile)}) psql ` +
      `"host=${host} port=${address.port} user=citus dbname=${conninfoValue(cluster.clientDatabase)} sslmode=require"`,
    '',
  );
  const adminFile = dataDirPaths(cluster.dataDir).entraAdmin;
  if (idp && (await readOptional(adminFile))) {
    const admin = JSON.parse((await readOptional(adminFile))!) as { username: string };
    const adminRef = isAbsolute(shown(adminFile)) ? shown(adminFile) : `./${shown(adminFile)}`;
    // A JavaScript string in single quotes, inside the shell's double quotes.
    const adminModule = `'${adminRef.replace(/[\\']/g, '\\$&')}'`.replace(/[\\"$`]/g, '\\$&');
    const pgwarden = commandName();
    lines.push(
      'Or with a Microsoft Entra token as the admin:',
      `  ${pgwarden} login${dataDirFlag} -u ${admin.username} -p "$(node -p "require(${adminModule}).password")"`,
      `  export PGPASSWORD=$(${pgwarden} account get-access-token${dataDirFlag} --resource https://postgres.cosmos.azure.com --query "[accessToken]" -o tsv)`,
      `  psql "host=${host} port=${address.port} user=${admin.username} dbname=${conninfoValue(cluster.clientDatabase)} sslmode=require" ` +
        "-c 'select current_user'",
      '',
    );
  }
  if (running.oauth) {
    const { address: oauthAddress, issuer } = running.oauth;
    const user = idp && (await readOptional(adminFile)) ? (JSON.parse((await readOptional(adminFile))!) as { username: string }).username : 'PRINCIPAL';
    // libpq fetches from the issuer over HTTPS with the system's CAs; the embedded
    // provider's local CA is trusted only in libpq's unsafe debug mode (or once installed).
    const trust = idp && tls.caPath ? `PGOAUTHDEBUG=UNSAFE PGOAUTHCAFILE=${shellWord(shown(tls.caPath))} ` : '';
    lines.push(
      `Or with psql 18 by OAuth (it prints where to enter a code, and signs in)${trust ? '; PGOAUTHDEBUG=UNSAFE, for testing only, trusts the local CA' : ''}:`,
      `  ${trust}psql "host=${host} port=${oauthAddress.port} user=${conninfoValue(user)} dbname=${conninfoValue(cluster.clientDatabase)} sslmode=require ` +
        `oauth_issuer=${issuer} oauth_client_id=${idp ? AZURE_CLI_CLIENT_ID : 'APPLICATION_ID'}"`,
      '',
    );
  }
  lines.push('Press Ctrl-C to stop.', '');
  process.stdout.write(lines.join('\n'));
  reloads.started(running);
}

/** A path as short as it can be shown: relative to the working directory when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Microsoft Graph for directory searches of a real tenant: an application id and its
 * secret, read from a file (a secret on the command line would show in `ps`). */
async function graphOptions(opts: UpOptions): Promise<{ graph?: { clientId: string; clientSecret: string; endpoint: string } }> {
  const fromEnv = graphSecretFromEnv();
  if (!opts.graphClientId && !opts.graphClientSecretFile && !fromEnv) return {};
  if (!opts.graphClientId || (!opts.graphClientSecretFile && !fromEnv)) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      '--graph-client-id and --graph-client-secret-file go together (or the secret itself in PGWARDEN_GRAPH_CLIENT_SECRET)',
    );
  }
  const clientSecret = fromEnv ?? (await readOptional(resolve(opts.graphClientSecretFile!)))?.trim();
  if (!clientSecret) throw new PgwardenError('CONFIG_INVALID', `--graph-client-secret-file ${opts.graphClientSecretFile} does not exist or is empty`);
  let endpoint: URL;
  try {
    endpoint = new URL(opts.graphEndpoint);
  } catch {
    throw new PgwardenError('CONFIG_INVALID', `--graph-endpoint ${opts.graphEndpoint} is not a URL`);
  }
  if (endpoint.protocol !== 'https:') throw new PgwardenError('CONFIG_INVALID', '--graph-endpoint must be an https URL');
  return { graph: { clientId: checkGuid(opts.graphClientId, '--graph-client-id'), clientSecret, endpoint: endpoint.toString().replace(/\/+$/, '') } };
}
