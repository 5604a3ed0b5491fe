// The signed-in accounts of `pgwarden login`, like the Azure CLI's profile: in the
// user's configuration directory ($PGWARDEN_CONFIG_DIR, else $XDG_CONFIG_HOME/pgwarden,
// else ~/.config/pgwarden), `accounts.json`, 0600 in a 0700 directory. Users are kept as
// a refresh token, service principals as their secret (as `az login --service-principal`
// keeps it): whoever can read the file can act as them, so only its owner can.
import { createHash } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PgwardenError } from '../util/errors.js';
import { readOptional, writeSecretFile } from '../util/files.js';

const FILE_VERSION = 1;

export interface StoredAccount {
  readonly type: 'user' | 'servicePrincipal';
  /** The UPN of a user, the application id of a service principal. */
  readonly name: string;
  readonly tenantId: string;
  /** `https://login.microsoftonline.com`, or the embedded provider's `https://localhost:PORT`. */
  readonly authority: string;
  /** The embedded provider's data directory: its current port and CA are read from there. */
  readonly dataDir?: string;
  /** An extra CA to trust for the authority (PEM). */
  readonly ca?: string;
  /** The public client that users signed in through. */
  readonly clientId: string;
  readonly refreshToken?: string;
  readonly clientSecret?: string;
  readonly isDefault: boolean;
}

interface AccountsFile {
  readonly version: number;
  readonly accounts: readonly StoredAccount[];
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGWARDEN_CONFIG_DIR) return env.PGWARDEN_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'pgwarden');
  return join(homedir(), '.config', 'pgwarden');
}

function accountsPath(): string {
  return join(configDir(), 'accounts.json');
}

export async function loadAccounts(): Promise<StoredAccount[]> {
  const text = await readOptional(accountsPath());
  if (text === undefined) return [];
  try {
    const file = JSON.parse(text) as AccountsFile;
    if (file.version === FILE_VERSION && Array.isArray(file.accounts)) return [...file.accounts];
  } catch {
    // fall through
  }
  throw new PgwardenError('CONFIG_INVALID', `${accountsPath()} is damaged: remove it and run 'pgwarden login' again`);
}

export async function saveAccounts(accounts: readonly StoredAccount[]): Promise<void> {
  const dir = configDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writeSecretFile(accountsPath(), `${JSON.stringify({ version: FILE_VERSION, accounts }, null, 2)}\n`);
}

/** Adds or replaces an account (same type, name and tenant) and makes it the default. */
export async function rememberAccount(account: Omit<StoredAccount, 'isDefault'>): Promise<StoredAccount> {
  const others = (await loadAccounts())
    .filter((a) => !(a.type === account.type && a.name.toLowerCase() === account.name.toLowerCase() && a.tenantId === account.tenantId))
    .map((a) => ({ ...a, isDefault: false }));
  const stored = { ...account, isDefault: true };
  await saveAccounts([...others, stored]);
  return stored;
}

/** Replaces a stored account's fields in place (a rotated refresh token), keeping which is default. */
export async function updateAccount(account: StoredAccount, changes: Partial<Pick<StoredAccount, 'refreshToken'>>): Promise<void> {
  const accounts = await loadAccounts();
  const same = (a: StoredAccount): boolean => a.type === account.type && a.name === account.name && a.tenantId === account.tenantId;
  if (!accounts.some(same)) return; // signed out meanwhile
  await saveAccounts(accounts.map((a) => (same(a) ? { ...a, ...changes } : a)));
}

/** The account to use: the default one, or the one of `tenant` when given. */
export async function currentAccount(tenant: string | undefined): Promise<StoredAccount> {
  const accounts = await loadAccounts();
  const account = tenant ? accountOfTenant(accounts, tenant) : accounts.find((a) => a.isDefault);
  if (!account) throw new PgwardenError('NOT_LOGGED_IN', "Please run 'pgwarden login' to setup account.");
  return account;
}

/** The account of a tenant: the default account if it is in the tenant, else the one
 * signed in to it last (login appends). */
export function accountOfTenant(accounts: readonly StoredAccount[], tenant: string): StoredAccount | undefined {
  const inTenant = accounts.filter((a) => a.tenantId === tenant.toLowerCase());
  return inTenant.find((a) => a.isDefault) ?? inTenant.at(-1);
}

/** A made-up subscription id, stable per tenant: tenants here have no subscriptions, but
 * scripts expect the field to hold a GUID. */
export function subscriptionIdFor(tenantId: string): string {
  const h = createHash('sha256').update(`pgwarden subscription\0${tenantId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** An account as `az account list` shows it: no secret. */
export function describeAccount(a: StoredAccount): Record<string, unknown> {
  return {
    cloudName: new URL(a.authority).host === 'login.microsoftonline.com' ? 'AzureCloud' : 'pgwarden',
    homeTenantId: a.tenantId,
    id: subscriptionIdFor(a.tenantId),
    isDefault: a.isDefault,
    managedByTenants: [],
    name: 'N/A(tenant level account)',
    state: 'Enabled',
    tenantId: a.tenantId,
    user: { name: a.name, type: a.type },
  };
}
