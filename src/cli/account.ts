// `pgwarden account get-access-token`, `account show` and `account list`, printing what
// `az account ...` prints, so that scripts like
//   PGPASSWORD=$(pgwarden account get-access-token --query "[accessToken]" -o tsv) psql ...
// work with either tool. Tokens come from the stored refresh token (v1 token endpoint
// with resource=, or v2 with --scope) or the service principal's secret.
// https://learn.microsoft.com/cli/azure/account#az-account-get-access-token
import type { Command } from 'commander';
import { readEndpoint } from '../idp/endpoint-file.js';
import { PgwardenError } from '../util/errors.js';
import { readOptional } from '../util/files.js';
import { join } from 'node:path';
import { applyQuery, AZ_OUTPUTS, formatAz, type AzOutput } from './az-output.js';
import { currentAccount, describeAccount, loadAccounts, subscriptionIdFor, updateAccount, type StoredAccount } from './account-store.js';
import { postForm, tokenUrl, type Provider, type TokenAnswer } from './provider-client.js';

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
  output: AzOutput;
  query?: string;
}

export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('the signed-in account, and access tokens for it (like az account)');
  const outputOptions = (cmd: Command): Command =>
    cmd.addOption(cmd.createOption('-o, --output <format>', 'json, tsv or none').choices(AZ_OUTPUTS).default('json')).option('--query <jmespath>', 'JMESPath query of the output');

  outputOptions(
    account
      .command('get-access-token')
      .description(`print an access token (default resource: ${DEFAULT_RESOURCE})`)
      .option('--resource <url>', 'the resource (audience) of the token')
      .addOption(account.createOption('--resource-type <type>', 'oss-rdbms (https://ossrdbms-aad.database.windows.net) or arm').choices(Object.keys(RESOURCE_TYPES)))
      .option('--scope <scope>', 'a v2.0 scope, e.g. https://ossrdbms-aad.database.windows.net/.default')
      .option('-t, --tenant <tenant>', 'use the account signed in to this tenant'),
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
  const account = await currentAccount(o.tenant);
  const provider = await providerOf(account);
  const v2 = o.scope !== undefined;
  const target: Record<string, string> = v2 ? { scope: o.scope! } : { resource: o.resource ?? (o.resourceType ? RESOURCE_TYPES[o.resourceType]! : DEFAULT_RESOURCE) };
  const form: Record<string, string> =
    account.type === 'user'
      ? { grant_type: 'refresh_token', client_id: account.clientId, refresh_token: account.refreshToken ?? '', ...target }
      : { grant_type: 'client_credentials', client_id: account.clientId, client_secret: account.clientSecret ?? '', ...target };
  const nowSeconds = Math.floor(Date.now() / 1000);
  const answer = await postForm<TokenAnswer>(provider, tokenUrl(provider, v2 ? '2.0' : '1.0'), form).catch((e: unknown) => {
    if (e instanceof PgwardenError && e.code === 'OAUTH_INVALID_GRANT' && account.type === 'user') {
      throw new PgwardenError('NOT_LOGGED_IN', `${e.message.split(': ').slice(1).join(': ')} Please run 'pgwarden login' to setup account.`);
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

/** Where to reach an account's provider now: an embedded provider's port and CA may have
 * changed since the sign-in (a new `pgwarden up`), so they are read from its data directory. */
async function providerOf(a: StoredAccount): Promise<Provider> {
  if (a.dataDir) {
    const endpoint = await readEndpoint(a.dataDir).catch(() => undefined);
    if (endpoint && endpoint.tenantId === a.tenantId) {
      const ca = (await readOptional(join(a.dataDir, 'tls', 'ca.crt'))) ?? a.ca;
      return { authority: endpoint.authority, tenant: a.tenantId, dataDir: a.dataDir, ...(ca ? { ca } : {}) };
    }
  }
  return { authority: a.authority, tenant: a.tenantId, ...(a.dataDir ? { dataDir: a.dataDir } : {}), ...(a.ca ? { ca: a.ca } : {}) };
}

/** Python's `datetime.fromtimestamp(t).strftime('%Y-%m-%d %H:%M:%S.%f')`: local time. */
export function localTimestamp(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
}
