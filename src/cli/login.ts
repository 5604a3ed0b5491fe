// `pgwarden login` and `pgwarden logout`, after `az login`/`az logout`: a user with a
// password or a device code, or a service principal with its secret, against the
// embedded identity provider (found through --data-dir) or any Entra-compatible one
// (--authority). Prints the signed-in account as `az login` prints it (no secret).
// https://learn.microsoft.com/cli/azure/reference-index#az-login
import type { Command } from 'commander';
import { AZURE_CLI_CLIENT_ID } from '../idp/model.js';
import { PgwardenError } from '../util/errors.js';
import { applyQuery, AZ_OUTPUTS, formatAz, type AzOutput } from './az-output.js';
import { describeAccount, loadAccounts, rememberAccount, saveAccounts, type StoredAccount } from './account-store.js';
import { deviceCodeFlow, locateProvider, postForm, tokenUrl, unverifiedClaims, type Provider, type TokenAnswer } from './provider-client.js';
import { DEFAULTS } from '../util/defaults.js';

/** What `az login` asks for: Azure management, with a refresh token and an ID token.
 * (The double slash is how the Azure CLI names the resource `https://management.core.windows.net/`.) */
const LOGIN_SCOPE = 'https://management.core.windows.net//.default offline_access openid profile';
const SERVICE_PRINCIPAL_SCOPE = 'https://management.core.windows.net//.default';

interface LoginOptions {
  username?: string;
  password?: string;
  useDeviceCode?: boolean;
  servicePrincipal?: boolean;
  tenant?: string;
  authority?: string;
  caFile?: string;
  dataDir: string;
  output: AzOutput;
  query?: string;
}

export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('sign in to the embedded identity provider or Microsoft Entra ID, as az login does')
    .option('-u, --username <name>', 'user principal name; with --service-principal, the application (client) id')
    .option('-p, --password <password>', 'the password; with --service-principal, the client secret')
    .option('--use-device-code', 'sign in in a web browser with a code (device code flow)')
    .option('--service-principal', 'sign in as a service principal')
    .option('-t, --tenant <tenant>', "tenant id or domain (default: the embedded provider's tenant; organizations for users elsewhere)")
    .option('--authority <url>', 'an Entra-compatible identity provider, e.g. https://login.microsoftonline.com (default: the embedded one of --data-dir)')
    .option('--ca-file <file>', "trust this CA certificate (PEM) for the provider (default: --data-dir's tls/ca.crt for the embedded one)")
    .option('--data-dir <dir>', 'the data directory of a local pgwarden', DEFAULTS.dataDir)
    .option('--allow-no-subscriptions', 'accepted for compatibility with az; tenants here have no subscriptions')
    .addOption(program.createOption('-o, --output <format>', 'json, tsv or none').choices(AZ_OUTPUTS).default('json'))
    .option('--query <jmespath>', 'JMESPath query of the output')
    .action(login);

  program
    .command('logout')
    .description('forget a signed-in account (default: the current one), as az logout does')
    .option('-u, --username <name>', 'the account to forget (UPN or application id)')
    .action(logout);
}

async function login(o: LoginOptions): Promise<void> {
  if (o.servicePrincipal && o.useDeviceCode) throw new PgwardenError('INVALID_INPUT', '--use-device-code signs in a user, not a service principal');
  if (o.servicePrincipal && o.authority && !o.tenant) throw new PgwardenError('INVALID_INPUT', '--tenant is required with --service-principal');
  const provider = await locateProvider(o);
  const account = o.servicePrincipal ? await servicePrincipalLogin(provider, o) : await userLogin(provider, o);
  const stored = await rememberAccount(account);
  process.stdout.write(formatAz(applyQuery([describeAccount(stored)], o.query), o.output));
}

async function userLogin(p: Provider, o: LoginOptions): Promise<Omit<StoredAccount, 'isDefault'>> {
  let answer: TokenAnswer;
  if (o.useDeviceCode) {
    answer = await deviceCodeFlow(p, AZURE_CLI_CLIENT_ID, LOGIN_SCOPE, (message) => process.stderr.write(`${message}\n`));
  } else {
    if (!o.username || o.password === undefined) throw new PgwardenError('INVALID_INPUT', 'give -u/--username and -p/--password, or use --use-device-code');
    answer = await postForm<TokenAnswer>(p, tokenUrl(p, '2.0'), {
      grant_type: 'password',
      client_id: AZURE_CLI_CLIENT_ID,
      username: o.username,
      password: o.password,
      scope: LOGIN_SCOPE,
      client_info: '1',
    });
  }
  if (typeof answer.refresh_token !== 'string') throw new PgwardenError('AUTH_FAILED', 'the identity provider gave no refresh token');
  const claims = { ...unverifiedClaims(answer.access_token), ...unverifiedClaims(typeof answer.id_token === 'string' ? answer.id_token : undefined) };
  const name = String(claims.preferred_username ?? claims.upn ?? claims.unique_name ?? o.username ?? '');
  return {
    type: 'user',
    name,
    tenantId: String(claims.tid ?? p.tenant).toLowerCase(),
    ...where(p),
    clientId: AZURE_CLI_CLIENT_ID,
    refreshToken: answer.refresh_token,
  };
}

async function servicePrincipalLogin(p: Provider, o: LoginOptions): Promise<Omit<StoredAccount, 'isDefault'>> {
  if (!o.username || !o.password) throw new PgwardenError('INVALID_INPUT', 'give the application id with -u and the client secret with -p');
  // Checked now, as az does, so that a wrong secret fails here rather than later.
  const answer = await postForm<TokenAnswer>(p, tokenUrl(p, '2.0'), {
    grant_type: 'client_credentials',
    client_id: o.username,
    client_secret: o.password,
    scope: SERVICE_PRINCIPAL_SCOPE,
  });
  const tid = unverifiedClaims(answer.access_token).tid;
  return {
    type: 'servicePrincipal',
    name: o.username.toLowerCase(),
    tenantId: String(tid ?? p.tenant).toLowerCase(),
    ...where(p),
    clientId: o.username.toLowerCase(),
    clientSecret: o.password,
  };
}

function where(p: Provider): Pick<StoredAccount, 'authority' | 'dataDir' | 'ca'> {
  return { authority: p.authority, ...(p.dataDir ? { dataDir: p.dataDir } : {}), ...(p.ca ? { ca: p.ca } : {}) };
}

async function logout(o: { username?: string }): Promise<void> {
  const accounts = await loadAccounts();
  const gone = o.username ? accounts.filter((a) => a.name.toLowerCase() === o.username!.toLowerCase()) : accounts.filter((a) => a.isDefault);
  if (gone.length === 0) throw new PgwardenError('NOT_LOGGED_IN', o.username ? `no signed-in account ${o.username}` : 'There are no active accounts.');
  const rest = accounts.filter((a) => !gone.includes(a));
  if (rest.length > 0 && !rest.some((a) => a.isDefault)) rest[0] = { ...rest[0]!, isDefault: true };
  await saveAccounts(rest);
}
