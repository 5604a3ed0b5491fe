// `pgwarden account get-access-token`, `account show` and `account list`, printing what
// `az account ...` prints, so that scripts like
//   PGPASSWORD=$(pgwarden account get-access-token --query "[accessToken]" -o tsv) psql ...
// work with either tool. Tokens come from the stored refresh token (v1 token endpoint
// with resource=, or v2 with --scope) or the service principal's secret.
// https://learn.microsoft.com/cli/azure/account#az-account-get-access-token
//
// One account list for every cluster on the machine, with a default, as az keeps it.
// Which account get-access-token uses: the one of `-t TENANT`; else the one of the
// tenant of `--data-dir DIR`'s embedded provider; else, when a pgwarden runs on
// `./.pgwarden` (the working directory of a cluster started with the default data
// directory) and an account is signed in to its tenant, that one; else the default.
import type { Command } from 'commander';
import { readEndpoint } from '../idp/endpoint-file.js';
import { idpPaths } from '../idp/paths.js';
import { PgwardenError } from '../util/errors.js';
import { readOptional } from '../util/files.js';
import { join, resolve } from 'node:path';
import { applyQuery, AZ_OUTPUTS, formatAz, type AzOutput } from './az-output.js';
import { accountOfTenant, currentAccount, describeAccount, loadAccounts, subscriptionIdFor, updateAccount, type StoredAccount } from './account-store.js';
import { postForm, ProviderUnreachable, runningHint, tokenUrl, type Provider, type TokenAnswer } from './provider-client.js';
import { shellWord } from './shell.js';
import { DEFAULTS } from '../util/defaults.js';

/** `pgwarden up`'s and `pgwarden login`'s default data directory. */
const DEFAULT_DATA_DIR = DEFAULTS.dataDir;

/** The managed PostgreSQL service's audience: pgwarden's default, where az's default is
 * Azure management (https://management.core.windows.net/). */
export const DEFAULT_RESOURCE = 'https://token.postgres.cosmos.azure.com';
/** `--resource-type` values, as az names them. */
export const RESOURCE_TYPES: Readonly<Record<string, string>> = {
  'oss-rdbms': 'https://ossrdbms-aad.database.windows.net',
  arm: 'https://management.core.windows.net/',
};

interface TokenOptions {
  resource?: string;
  resourceType?: string;
  scope?: string;
  tenant?: string;
  dataDir?: string;
  output: AzOutput;
  query?: string;
}

export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('the signed-in account, and access tokens for it (like az account)');
  const outputOptions = (cmd: Command): Command =>
    cmd
      .addOption(cmd.createOption('-o, --output <format>', 'json, tsv or none').choices(AZ_OUTPUTS).default('json'))
      .option('--query <jmespath>', 'JMESPath query of the output');

  outputOptions(
    account
      .command('get-access-token')
      .description(`print an access token (default resource: ${DEFAULT_RESOURCE})`)
      .option('--resource <url>', 'the resource (audience) of the token')
      .addOption(
        account.createOption('--resource-type <type>', 'oss-rdbms (https://ossrdbms-aad.database.windows.net) or arm').choices(Object.keys(RESOURCE_TYPES)),
      )
      .option('--scope <scope>', 'a v2.0 scope, e.g. https://ossrdbms-aad.database.windows.net/.default')
      .option('-t, --tenant <tenant>', 'use the account signed in to this tenant')
      .option(
        '--data-dir <dir>',
        "use the account signed in to the tenant of this local pgwarden's embedded provider " +
          `(default: ${DEFAULT_DATA_DIR} when a pgwarden runs there and an account is signed in to it, else the default account)`,
      ),
  ).action(getAccessToken);

  outputOptions(account.command('show').description('show the current account')).action(async (o: { output: AzOutput; query?: string }) => {
    print(describeAccount(await currentAccount(undefined)), o);
  });
  outputOptions(account.command('list').description('list the signed-in accounts')).action(async (o: { output: AzOutput; query?: string }) => {
    print((await loadAccounts()).map(describeAccount), o);
  });
}

function print(value: unknown, o: { output: AzOutput; query?: string }): void {
  process.stdout.write(formatAz(applyQuery(value, o.query), o.output));
}

async function getAccessToken(o: TokenOptions): Promise<void> {
  if ([o.resource, o.resourceType, o.scope].filter((x) => x !== undefined).length > 1) {
    throw new PgwardenError('INVALID_INPUT', '--resource, --resource-type and --scope cannot be used together');
  }
  const choice = await chooseAccount(o);
  const { account } = choice;
  const provider = await providerOf(choice);
  const v2 = o.scope !== undefined;
  const target: Record<string, string> = v2
    ? { scope: o.scope! }
    : { resource: o.resource ?? (o.resourceType ? RESOURCE_TYPES[o.resourceType]! : DEFAULT_RESOURCE) };
  const form: Record<string, string> =
    account.type === 'user'
      ? { grant_type: 'refresh_token', client_id: account.clientId, refresh_token: account.refreshToken ?? '', ...target }
      : { grant_type: 'client_credentials', client_id: account.clientId, client_secret: account.clientSecret ?? '', ...target };
  const nowSeconds = Math.floor(Date.now() / 1000);
  const answer = await postForm<TokenAnswer>(provider, tokenUrl(provider, v2 ? '2.0' : '1.0'), form).catch((e: unknown) => {
    if (e instanceof PgwardenError && e.code === 'OAUTH_INVALID_GRANT' && account.type === 'user') {
      throw new PgwardenError('NOT_LOGGED_IN', `${e.message.split(': ').slice(1).join(': ')} Please run 'pgwarden login' to setup account.`);
    }
    if (e instanceof ProviderUnreachable) {
      throw cannotGetToken(choice, `cannot reach its identity provider at ${provider.authority}: ${e.reason}${runningHint(provider)}`, 'Start it');
    }
    throw e;
  });
  // Each use returns a new refresh token; keep it so the session slides as Entra's does.
  if (account.type === 'user' && typeof answer.refresh_token === 'string' && answer.refresh_token !== account.refreshToken) {
    await updateAccount(account, { refreshToken: answer.refresh_token });
  }
  const expiresOn = answer.expires_on !== undefined ? Number(answer.expires_on) : nowSeconds + Number(answer.expires_in);
  print(
    {
      accessToken: answer.access_token,
      expiresOn: localTimestamp(expiresOn),
      expires_on: expiresOn,
      subscription: subscriptionIdFor(account.tenantId),
      tenant: account.tenantId,
      tokenType: typeof answer.token_type === 'string' ? answer.token_type : 'Bearer',
    },
    o,
  );
}

/** The account a token is asked for, why it was chosen (for errors), the other signed-in
 * accounts (to suggest), and the data directory it was chosen through. */
interface Choice {
  readonly account: StoredAccount;
  readonly reason: string;
  readonly others: readonly StoredAccount[];
  readonly dataDir?: string;
}

async function chooseAccount(o: TokenOptions): Promise<Choice> {
  // As az refuses --subscription with --tenant: both choose the account.
  if (o.tenant !== undefined && o.dataDir !== undefined) throw new PgwardenError('INVALID_INPUT', '--tenant and --data-dir cannot be used together');
  const accounts = await loadAccounts();
  const choice = (account: StoredAccount, reason: string, dataDir?: string): Choice => ({
    account,
    reason,
    others: accounts.filter((a) => a.tenantId !== account.tenantId),
    ...(dataDir ? { dataDir } : {}),
  });
  // A data directory chooses only among the accounts signed in through it: its files
  // (the provider's address and CA) are trusted for those accounts and no others, so
  // that a data directory someone else left in the working directory cannot draw
  // another account's refresh token or client secret to a server of its choosing.
  const signedInThrough = (dataDir: string) => accounts.filter((a) => a.dataDir !== undefined && resolve(a.dataDir) === dataDir);
  if (o.dataDir !== undefined) {
    const dataDir = resolve(o.dataDir);
    const tenant = await tenantOf(dataDir);
    const account = accountOfTenant(signedInThrough(dataDir), tenant);
    if (!account) {
      throw new PgwardenError(
        'NOT_LOGGED_IN',
        `No account is signed in to tenant ${tenant} (the identity provider of ${dataDir}). ` +
          `Please run 'pgwarden login --data-dir ${shellWord(o.dataDir)}' to setup account.`,
      );
    }
    return choice(account, 'the account of --data-dir', dataDir);
  }
  if (o.tenant !== undefined) {
    const account = accountOfTenant(accounts, o.tenant);
    if (!account) throw new PgwardenError('NOT_LOGGED_IN', `No account is signed in to tenant ${o.tenant}. Please run 'pgwarden login' to setup account.`);
    return choice(account, 'chosen by -t');
  }
  const byDefault = accounts.find((a) => a.isDefault);
  if (!byDefault) throw new PgwardenError('NOT_LOGGED_IN', "Please run 'pgwarden login' to setup account.");
  // In the working directory of a running cluster (its default data directory), its tenant.
  const here = resolve(DEFAULT_DATA_DIR);
  const endpoint = await readEndpoint(here).catch(() => undefined);
  if (endpoint) {
    const account = accountOfTenant(signedInThrough(here), endpoint.tenantId);
    if (account) return choice(account, `the account of ${DEFAULT_DATA_DIR}`, here);
    process.stderr.write(
      `pgwarden: warning: no account is signed in to tenant ${endpoint.tenantId} of ${DEFAULT_DATA_DIR}; ` +
        `using the default account ${byDefault.name} (tenant ${byDefault.tenantId}). Sign in to it with 'pgwarden login'.\n`,
    );
  }
  return choice(byDefault, 'the default account');
}

/** The tenant of a data directory's embedded provider: from its endpoint file while it
 * runs, else from its directory. */
async function tenantOf(dataDir: string): Promise<string> {
  const endpoint = await readEndpoint(dataDir);
  if (endpoint) return endpoint.tenantId.toLowerCase();
  const path = idpPaths(dataDir).directory;
  const text = await readOptional(path);
  if (text === undefined) {
    throw new PgwardenError(
      'INVALID_INPUT',
      `${dataDir} has no embedded identity provider (no idp/directory.json): ` +
        'give the data directory of a pgwarden started without --entra-tenant, or choose the account with -t TENANT',
    );
  }
  let id: unknown;
  try {
    id = (JSON.parse(text) as { tenant?: { id?: unknown } }).tenant?.id;
  } catch {
    // reported below
  }
  if (typeof id !== 'string') throw new PgwardenError('CONFIG_INVALID', `${path} is damaged: it names no tenant`);
  return id.toLowerCase();
}

/** Where to reach the chosen account's provider now. An embedded provider's port and CA
 * may have changed since the sign-in (a new `pgwarden up`), so they are read from its
 * data directory; when none runs there, nothing is sent anywhere (another cluster's
 * provider may listen on the port it had). */
async function providerOf(c: Choice): Promise<Provider> {
  const a = c.account;
  // Only the data directory the account was signed in through may say where its provider is now.
  const dataDir = a.dataDir === undefined ? undefined : resolve(a.dataDir);
  if (!dataDir) return { authority: a.authority, tenant: a.tenantId, ...(a.ca ? { ca: a.ca } : {}) };
  const endpoint = await readEndpoint(dataDir).catch(() => undefined);
  if (!endpoint) throw cannotGetToken(c, `its identity provider is not running (no 'pgwarden up' on ${dataDir})`, 'Start it');
  if (new URL(endpoint.authority).protocol !== 'https:') {
    throw cannotGetToken(c, `${dataDir} names a provider that is not HTTPS (${endpoint.authority})`, 'Start pgwarden there again');
  }
  if (endpoint.tenantId.toLowerCase() !== a.tenantId) {
    throw cannotGetToken(
      c,
      `${dataDir} holds another tenant now (${endpoint.tenantId})`,
      `Sign in to it with 'pgwarden login --data-dir ${shellWord(dataDir)}'`,
    );
  }
  const ca = (await readOptional(join(dataDir, 'tls', 'ca.crt'))) ?? a.ca;
  return { authority: endpoint.authority, tenant: a.tenantId, dataDir, ...(ca ? { ca } : {}) };
}

/** The account, its tenant and why it was used; what went wrong; what to do, and which
 * other accounts -t or --data-dir could choose. */
function cannotGetToken(c: Choice, what: string, todo: string): PgwardenError {
  const { account: a, others } = c;
  const listed = others.slice(0, 3).map((o) => `${o.name} in tenant ${o.tenantId}`);
  if (others.length > 3) listed.push(`${others.length - 3} more`);
  const choose =
    others.length > 0
      ? `, or choose another account with -t TENANT or --data-dir DIR (also signed in: ${listed.join(', ')}; pgwarden account list shows all)`
      : `, or sign in to another provider with 'pgwarden login'`;
  return new PgwardenError('BACKEND_UNAVAILABLE', `cannot get a token for account ${a.name} (tenant ${a.tenantId}, ${c.reason}): ${what}. ${todo}${choose}.`);
}

/** Python's `datetime.fromtimestamp(t).strftime('%Y-%m-%d %H:%M:%S.%f')`: local time. */
export function localTimestamp(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const date = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
  return `${date} ${time}`;
}
