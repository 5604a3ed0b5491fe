// What the embedded identity provider keeps in `<data-dir>/idp/directory.json`: one
// tenant with its users, service principals, groups and public client applications.
// Shapes follow Microsoft Graph's names (userPrincipalName, appId, displayName) so that
// what the CLI prints reads like `az ad ...`.
// https://learn.microsoft.com/graph/api/resources/user
// https://learn.microsoft.com/graph/api/resources/serviceprincipal

/** Azure CLI's well-known public client id: what `az login` signs in as. */
export const AZURE_CLI_CLIENT_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

/** Bumped when the file's shape changes incompatibly. Fields added since version 1 are
 * optional in the file and read as empty when absent (servicePrincipals[].redirectUris,
 * servicePrincipals[].graphPermissions), so older files load as they are. */
export const DIRECTORY_FILE_VERSION = 1;

export interface Tenant {
  /** The tenant (directory) id: a random GUID, `tid` in tokens. */
  readonly id: string;
  /** The initial domain, `pgwarden<6 hex>.onmicrosoft.com`. */
  readonly domain: string;
  readonly displayName: string;
  readonly createdAt: string;
}

export interface User {
  readonly objectId: string;
  readonly userPrincipalName: string;
  readonly displayName: string;
  /** scrypt, see credentials.ts. */
  readonly passwordHash: string;
  readonly createdAt: string;
}

export interface ClientSecret {
  readonly keyId: string;
  /** The first three characters of the secret, as Entra shows them. */
  readonly hint: string;
  /** Salted SHA-256, see credentials.ts. */
  readonly hash: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export interface ServicePrincipal {
  readonly objectId: string;
  /** The application (client) id: what `client_id` names and `appid`/`azp` carry. */
  readonly appId: string;
  readonly displayName: string;
  readonly secrets: readonly ClientSecret[];
  /** Redirect URIs for the authorization code flow (loopback URIs are always allowed). */
  readonly redirectUris: readonly string[];
  /** Microsoft Graph application permissions the admin granted (app role values, e.g.
   * Directory.Read.All; see graph/permissions.ts): app-only Graph tokens carry them in
   * `roles`, and the Graph subset reads the directory only with them. */
  readonly graphPermissions: readonly string[];
  readonly createdAt: string;
}

export interface Group {
  readonly objectId: string;
  readonly displayName: string;
  /** Object ids of the direct members: users and service principals. */
  readonly members: readonly string[];
  readonly createdAt: string;
}

/** An application that signs users in without a secret (a CLI, a browser app). */
export interface PublicClient {
  readonly appId: string;
  readonly displayName: string;
  readonly redirectUris: readonly string[];
}

export interface DirectoryData {
  readonly version: number;
  readonly tenant: Tenant;
  readonly users: readonly User[];
  readonly servicePrincipals: readonly ServicePrincipal[];
  readonly groups: readonly Group[];
  readonly publicClients: readonly PublicClient[];
}

export type PrincipalType = 'user' | 'servicePrincipal' | 'group';

/** What listings and searches show of a principal: never a hash or a secret. */
export interface PrincipalSummary {
  readonly type: PrincipalType;
  readonly objectId: string;
  readonly displayName: string;
  readonly userPrincipalName?: string;
  readonly appId?: string;
}
