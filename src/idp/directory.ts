// The tenant's directory: users, service principals, groups and public clients, in
// `<data-dir>/idp/directory.json` (0600). Every change is a locked read-modify-write
// that replaces the file atomically, so that CLI commands in other processes and the
// running provider (which re-reads the file when it changes) always see a whole file.
import { randomBytes } from 'node:crypto';
import { randomPassword, writeSecretFile } from '../util/files.js';
import { PgwardenError } from '../util/errors.js';
import { checkPasswordRule, hashClientSecret, hashPassword, newClientSecret, newObjectId } from './credentials.js';
import { withFileLock } from './file-lock.js';
import {
  findGroup,
  findServicePrincipal,
  findUser,
  findUserToEdit,
  searchPrincipals,
  summarizeGroup,
  summarizeObject,
  summarizeServicePrincipal,
  summarizeUser,
} from './lookups.js';
import {
  AZURE_CLI_CLIENT_ID,
  DIRECTORY_FILE_VERSION,
  type DirectoryData,
  type Group,
  type PrincipalSummary,
  type PrincipalType,
  type PublicClient,
  type ServicePrincipal,
  type Tenant,
  type User,
} from './model.js';
import { WatchedJsonFile } from './watched-file.js';
import {
  UPN_PATTERN,
  checkDisplayName,
  checkNameIsFree,
  checkRedirectUri,
  graphPermissionValues,
  parseDirectory,
  sortPermissions,
  withoutObject,
} from './directory-rules.js';

/** Entra's portal suggests secrets that expire; `az ad sp create-for-rbac` gives one year. */
export const DEFAULT_SECRET_YEARS = 1;
const MAX_SECRET_YEARS = 10;
export interface GroupListing extends PrincipalSummary {
  readonly members: readonly PrincipalSummary[];
}

export interface GraphPermissionChange {
  readonly servicePrincipal: PrincipalSummary;
  /** All the service principal's Graph application permissions after the change. */
  readonly graphPermissions: readonly string[];
}

export interface NewServicePrincipal {
  readonly servicePrincipal: PrincipalSummary & { readonly appId: string };
  /** The client secret: shown once, stored only as a hash. */
  readonly secret: string;
  readonly secretExpiresAt: string;
  readonly tenantId: string;
}

export class Directory {
  private readonly file: WatchedJsonFile<DirectoryData>;

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    this.file = new WatchedJsonFile(path, parseDirectory);
  }

  /** The directory as it is on disk now, or undefined before the tenant exists. */
  snapshot(): Promise<DirectoryData | undefined> {
    return this.file.read();
  }

  /** The directory, or an error that says how to create it. */
  async require(): Promise<DirectoryData> {
    const data = await this.snapshot();
    if (!data) throw this.missing();
    return data;
  }

  private missing(): PgwardenError {
    return new PgwardenError('CONFIG_INVALID', `there is no identity provider directory at ${this.path}: run 'pgwarden up' or 'pgwarden idp init' first`);
  }

  /**
   * Creates the tenant, with the Azure CLI as its public client and, if asked, a first
   * user, in one write. Undefined if the tenant exists already.
   */
  async createTenant(firstUser?: { localPart: string; displayName: string; password: string }): Promise<{ tenant: Tenant; user?: User } | undefined> {
    const passwordHash = firstUser ? await hashPassword(firstUser.password) : undefined;
    return this.updateRaw((data) => {
      if (data) return { data, result: undefined };
      const createdAt = this.timestamp();
      const tenant: Tenant = { id: newObjectId(), domain: `pgwarden${randomBytes(3).toString('hex')}.onmicrosoft.com`, displayName: 'pgwarden', createdAt };
      const cli: PublicClient = { appId: AZURE_CLI_CLIENT_ID, displayName: 'Microsoft Azure CLI', redirectUris: [] };
      const user: User | undefined = firstUser && {
        objectId: newObjectId(),
        userPrincipalName: `${firstUser.localPart}@${tenant.domain}`,
        displayName: firstUser.displayName,
        passwordHash: passwordHash!,
        createdAt,
      };
      return {
        data: { version: DIRECTORY_FILE_VERSION, tenant, users: user ? [user] : [], servicePrincipals: [], groups: [], publicClients: [cli] },
        result: { tenant, ...(user ? { user } : {}) },
      };
    });
  }

  // Users

  /** Adds a user; a bare name gets the tenant's domain. Returns the generated password
   * when none was given. */
  async addUser(input: { userPrincipalName: string; displayName: string; password?: string }): Promise<{ user: PrincipalSummary; password?: string }> {
    const generated = input.password === undefined ? randomPassword() : undefined;
    const password = input.password ?? generated!;
    checkPasswordRule(password);
    const displayName = checkDisplayName(input.displayName);
    const passwordHash = await hashPassword(password);
    return this.update((data) => {
      const upn = input.userPrincipalName.includes('@') ? input.userPrincipalName : `${input.userPrincipalName}@${data.tenant.domain}`;
      if (!UPN_PATTERN.test(upn) || upn.length > 113) {
        throw new PgwardenError('INVALID_INPUT', `"${upn}" is not a user principal name (name@domain, letters, digits and ' . - _ ! # ^ ~)`);
      }
      if (findUser(data, upn)) throw new PgwardenError('ALREADY_EXISTS', `a user ${upn} already exists`);
      const user: User = { objectId: newObjectId(), userPrincipalName: upn, displayName, passwordHash, createdAt: this.timestamp() };
      return {
        data: { ...data, users: [...data.users, user] },
        result: { user: summarizeUser(user), ...(generated ? { password: generated } : {}) },
      };
    });
  }

  async listUsers(): Promise<PrincipalSummary[]> {
    const data = await this.require();
    return data.users.map(summarizeUser).sort((a, b) => a.userPrincipalName!.localeCompare(b.userPrincipalName!));
  }

  /** Removes a user (by UPN or object id) and its group memberships. */
  async removeUser(upnOrObjectId: string): Promise<PrincipalSummary> {
    return this.update((data) => {
      const user = findUserToEdit(data, upnOrObjectId);
      if (!user) throw new PgwardenError('NOT_FOUND', `no user ${upnOrObjectId} in the directory`);
      return { data: withoutObject({ ...data, users: data.users.filter((u) => u !== user) }, user.objectId), result: summarizeUser(user) };
    });
  }

  // Service principals

  async addServicePrincipal(input: { displayName: string; redirectUris?: readonly string[]; secretYears?: number }): Promise<NewServicePrincipal> {
    const displayName = checkDisplayName(input.displayName);
    const years = input.secretYears ?? DEFAULT_SECRET_YEARS;
    if (!Number.isInteger(years) || years < 1 || years > MAX_SECRET_YEARS) {
      throw new PgwardenError('INVALID_INPUT', `a client secret lives 1 to ${MAX_SECRET_YEARS} years`);
    }
    const redirectUris = (input.redirectUris ?? []).map(checkRedirectUri);
    const secret = newClientSecret();
    const createdAt = new Date(this.now());
    const expiresAt = new Date(createdAt);
    expiresAt.setUTCFullYear(expiresAt.getUTCFullYear() + years);
    return this.update((data) => {
      checkNameIsFree(data, displayName);
      const sp: ServicePrincipal = {
        objectId: newObjectId(),
        appId: newObjectId(),
        displayName,
        secrets: [
          {
            keyId: newObjectId(),
            hint: secret.slice(0, 3),
            hash: hashClientSecret(secret),
            createdAt: createdAt.toISOString(),
            expiresAt: expiresAt.toISOString(),
          },
        ],
        redirectUris,
        graphPermissions: [],
        createdAt: createdAt.toISOString(),
      };
      return {
        data: { ...data, servicePrincipals: [...data.servicePrincipals, sp] },
        result: {
          servicePrincipal: { ...summarizeServicePrincipal(sp), appId: sp.appId },
          secret,
          secretExpiresAt: expiresAt.toISOString(),
          tenantId: data.tenant.id,
        },
      };
    });
  }

  /** Service principals with their secrets' hints and expiry dates (never the secrets)
   * and their Microsoft Graph application permissions. */
  async listServicePrincipals(): Promise<
    Array<PrincipalSummary & { secrets: Array<{ keyId: string; hint: string; expiresAt: string }>; graphPermissions: string[] }>
  > {
    const data = await this.require();
    return data.servicePrincipals
      .map((s) => ({
        ...summarizeServicePrincipal(s),
        secrets: s.secrets.map(({ keyId, hint, expiresAt }) => ({ keyId, hint, expiresAt })),
        graphPermissions: [...s.graphPermissions],
      }))
      .sort((a, b) => a.displayName.localeCompare(b.displayName));
  }

  /**
   * Grants a service principal (display name, app id or object id) Microsoft Graph
   * application permissions, as the tenant's admin does in Entra (an app role assignment
   * with admin consent): each a known Graph app role's value (any case) or id, see
   * graph/permissions.ts. Graph tokens issued from now on carry them in `roles`. Granting
   * one twice is not an error. Returns all the service principal's Graph permissions.
   */
  async grantGraphPermission(spNameOrId: string, permissions: string | readonly string[]): Promise<GraphPermissionChange> {
    const values = graphPermissionValues(permissions);
    return this.update((data) => {
      const sp = findServicePrincipal(data, spNameOrId);
      if (!sp) throw new PgwardenError('NOT_FOUND', `no service principal ${spNameOrId} in the directory`);
      const granted = sortPermissions([...sp.graphPermissions, ...values.filter((v) => !sp.graphPermissions.includes(v))]);
      const same = granted.length === sp.graphPermissions.length;
      const updated: ServicePrincipal = { ...sp, graphPermissions: granted };
      return {
        data: same ? data : { ...data, servicePrincipals: data.servicePrincipals.map((s) => (s === sp ? updated : s)) },
        result: { servicePrincipal: summarizeServicePrincipal(sp), graphPermissions: granted },
      };
    });
  }

  /** Takes Graph application permissions back; the Graph subset refuses the service
   * principal's tokens that carry them at once (they are checked against the directory at
   * every call). A permission that is not granted is NOT_FOUND. */
  async revokeGraphPermission(spNameOrId: string, permissions: string | readonly string[]): Promise<GraphPermissionChange> {
    const values = graphPermissionValues(permissions);
    return this.update((data) => {
      const sp = findServicePrincipal(data, spNameOrId);
      if (!sp) throw new PgwardenError('NOT_FOUND', `no service principal ${spNameOrId} in the directory`);
      const missing = values.find((v) => !sp.graphPermissions.includes(v));
      if (missing) throw new PgwardenError('NOT_FOUND', `service principal "${sp.displayName}" has no Microsoft Graph permission ${missing}`);
      const granted = sp.graphPermissions.filter((v) => !values.includes(v));
      const updated: ServicePrincipal = { ...sp, graphPermissions: granted };
      return {
        data: { ...data, servicePrincipals: data.servicePrincipals.map((s) => (s === sp ? updated : s)) },
        result: { servicePrincipal: summarizeServicePrincipal(sp), graphPermissions: [...granted] },
      };
    });
  }

  async removeServicePrincipal(nameOrId: string): Promise<PrincipalSummary> {
    return this.update((data) => {
      const sp = findServicePrincipal(data, nameOrId);
      if (!sp) throw new PgwardenError('NOT_FOUND', `no service principal ${nameOrId} in the directory`);
      const rest = { ...data, servicePrincipals: data.servicePrincipals.filter((s) => s !== sp) };
      return { data: withoutObject(rest, sp.objectId), result: summarizeServicePrincipal(sp) };
    });
  }

  // Groups

  async addGroup(input: { displayName: string }): Promise<PrincipalSummary> {
    const displayName = checkDisplayName(input.displayName);
    return this.update((data) => {
      checkNameIsFree(data, displayName);
      const group: Group = { objectId: newObjectId(), displayName, members: [], createdAt: this.timestamp() };
      return { data: { ...data, groups: [...data.groups, group] }, result: summarizeGroup(group) };
    });
  }

  async removeGroup(nameOrId: string): Promise<PrincipalSummary> {
    return this.update((data) => {
      const group = findGroup(data, nameOrId);
      if (!group) throw new PgwardenError('NOT_FOUND', `no group ${nameOrId} in the directory`);
      return { data: { ...data, groups: data.groups.filter((g) => g !== group) }, result: summarizeGroup(group) };
    });
  }

  /** Adds a user (UPN or object id) or service principal (display name, app id or object
   * id) to a group. Adding a member twice is not an error. */
  async addMember(groupNameOrId: string, member: string): Promise<{ group: PrincipalSummary; member: PrincipalSummary }> {
    return this.update((data) => {
      const group = findGroup(data, groupNameOrId);
      if (!group) throw new PgwardenError('NOT_FOUND', `no group ${groupNameOrId} in the directory`);
      const user = findUser(data, member);
      const sp = user ? undefined : findServicePrincipal(data, member);
      const bare = user || sp ? undefined : findUserToEdit(data, member);
      const who = user ? summarizeUser(user) : sp ? summarizeServicePrincipal(sp) : bare ? summarizeUser(bare) : undefined;
      if (!who) throw new PgwardenError('NOT_FOUND', `no user or service principal ${member} in the directory`);
      const updated: Group = group.members.includes(who.objectId) ? group : { ...group, members: [...group.members, who.objectId] };
      return { data: { ...data, groups: data.groups.map((g) => (g === group ? updated : g)) }, result: { group: summarizeGroup(group), member: who } };
    });
  }

  async removeMember(groupNameOrId: string, member: string): Promise<{ group: PrincipalSummary; member: PrincipalSummary }> {
    return this.update((data) => {
      const group = findGroup(data, groupNameOrId);
      if (!group) throw new PgwardenError('NOT_FOUND', `no group ${groupNameOrId} in the directory`);
      const names = [member, `${member}@${data.tenant.domain}`].map((n) => n.toLowerCase());
      const matches = (p: PrincipalSummary): boolean =>
        [p.objectId, p.userPrincipalName, p.displayName, p.appId].some((n) => n !== undefined && names.includes(n.toLowerCase()));
      const who = group.members.map((id) => summarizeObject(data, id)).find((p): p is PrincipalSummary => p !== undefined && matches(p));
      if (!who) throw new PgwardenError('NOT_FOUND', `${member} is not a member of ${group.displayName}`);
      const updated: Group = { ...group, members: group.members.filter((id) => id !== who.objectId) };
      return { data: { ...data, groups: data.groups.map((g) => (g === group ? updated : g)) }, result: { group: summarizeGroup(group), member: who } };
    });
  }

  async listGroups(): Promise<GroupListing[]> {
    const data = await this.require();
    return data.groups
      .map((g) => ({ ...summarizeGroup(g), members: g.members.map((id) => summarizeObject(data, id)).filter((m): m is PrincipalSummary => m !== undefined) }))
      .sort((a, b) => a.displayName.localeCompare(b.displayName));
  }

  // Applications

  /** Registers (or updates) a public client: a CLI or browser application that signs users
   * in without a secret, e.g. a web portal with its redirect URIs. */
  async registerPublicClient(input: { appId?: string; displayName: string; redirectUris?: readonly string[] }): Promise<PublicClient> {
    const displayName = checkDisplayName(input.displayName);
    const appId = (input.appId ?? newObjectId()).toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(appId)) throw new PgwardenError('INVALID_INPUT', 'an application id is a GUID');
    const app: PublicClient = { appId, displayName, redirectUris: (input.redirectUris ?? []).map(checkRedirectUri) };
    return this.update((data) => {
      if (data.servicePrincipals.some((s) => s.appId === appId)) throw new PgwardenError('ALREADY_EXISTS', `${appId} is a service principal's application id`);
      return { data: { ...data, publicClients: [...data.publicClients.filter((c) => c.appId !== appId), app] }, result: app };
    });
  }

  /** People-picker search; see searchPrincipals. */
  async search(query: string, types?: readonly PrincipalType[], limit?: number): Promise<PrincipalSummary[]> {
    return searchPrincipals(await this.require(), query, types, limit);
  }

  private timestamp(): string {
    return new Date(this.now()).toISOString();
  }

  /** Locked read-modify-write of a directory that must exist. */
  private update<T>(change: (data: DirectoryData) => { data: DirectoryData; result: T }): Promise<T> {
    return this.updateRaw((data) => {
      if (!data) throw this.missing();
      return change(data);
    });
  }

  private updateRaw<T>(change: (data: DirectoryData | undefined) => { data: DirectoryData; result: T }): Promise<T> {
    return withFileLock(this.path, async () => {
      this.file.invalidate();
      const current = await this.snapshot();
      const { data, result } = change(current);
      if (data !== current) {
        await writeSecretFile(this.path, `${JSON.stringify(data, null, 2)}\n`);
        this.file.invalidate();
      }
      return result;
    });
  }
}
