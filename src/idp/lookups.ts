// Read-only questions about one snapshot of the directory: who is this, which groups,
// which client. Pure functions, shared by the token endpoint and the directory's editor.
import type { DirectoryData, Group, PrincipalSummary, PrincipalType, PublicClient, ServicePrincipal, User } from './model.js';

/** Searches return at most this many entries unless asked for fewer. */
export const SEARCH_LIMIT = 50;

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** A user by user principal name (case-insensitive, as Entra matches sign-in names) or object id. */
export function findUser(data: DirectoryData, upnOrObjectId: string): User | undefined {
  return data.users.find((u) => u.objectId === upnOrObjectId.toLowerCase() || same(u.userPrincipalName, upnOrObjectId));
}

/** For editing the directory: also a bare name, meaning one in the tenant's domain (as
 * `idp user add` takes it). Sign-ins use findUser: a sign-in name is a whole UPN. */
export function findUserToEdit(data: DirectoryData, name: string): User | undefined {
  return findUser(data, name) ?? (name.includes('@') ? undefined : findUser(data, `${name}@${data.tenant.domain}`));
}

export function findUserByObjectId(data: DirectoryData, objectId: string): User | undefined {
  return data.users.find((u) => u.objectId === objectId);
}

/** A service principal by display name (case-insensitive), app id or object id. */
export function findServicePrincipal(data: DirectoryData, nameOrId: string): ServicePrincipal | undefined {
  const id = nameOrId.toLowerCase();
  return data.servicePrincipals.find((s) => s.appId === id || s.objectId === id) ?? data.servicePrincipals.find((s) => same(s.displayName, nameOrId));
}

export function findGroup(data: DirectoryData, nameOrId: string): Group | undefined {
  const id = nameOrId.toLowerCase();
  return data.groups.find((g) => g.objectId === id) ?? data.groups.find((g) => same(g.displayName, nameOrId));
}

/** The client an OAuth request names by `client_id`: a public client, or a service
 * principal (a confidential client: it must prove itself with a secret). */
export type Client = { kind: 'public'; app: PublicClient } | { kind: 'confidential'; sp: ServicePrincipal };

export function findClient(data: DirectoryData, clientId: string): Client | undefined {
  const id = clientId.toLowerCase();
  const app = data.publicClients.find((c) => c.appId === id);
  if (app) return { kind: 'public', app };
  const sp = data.servicePrincipals.find((s) => s.appId === id);
  return sp ? { kind: 'confidential', sp } : undefined;
}

export function clientId(client: Client): string {
  return client.kind === 'public' ? client.app.appId : client.sp.appId;
}

export function clientName(client: Client): string {
  return client.kind === 'public' ? client.app.displayName : client.sp.displayName;
}

/** Object ids of the groups that `objectId` is a direct member of (the `groups` claim). */
export function groupsOf(data: DirectoryData, objectId: string): string[] {
  return data.groups.filter((g) => g.members.includes(objectId)).map((g) => g.objectId);
}

export function summarizeUser(u: User): PrincipalSummary {
  return { type: 'user', objectId: u.objectId, displayName: u.displayName, userPrincipalName: u.userPrincipalName };
}

export function summarizeServicePrincipal(s: ServicePrincipal): PrincipalSummary {
  return { type: 'servicePrincipal', objectId: s.objectId, displayName: s.displayName, appId: s.appId };
}

export function summarizeGroup(g: Group): PrincipalSummary {
  return { type: 'group', objectId: g.objectId, displayName: g.displayName };
}

/** Any member, by object id (for listing a group's members). */
export function summarizeObject(data: DirectoryData, objectId: string): PrincipalSummary | undefined {
  const u = findUserByObjectId(data, objectId);
  if (u) return summarizeUser(u);
  const s = data.servicePrincipals.find((x) => x.objectId === objectId);
  if (s) return summarizeServicePrincipal(s);
  const g = data.groups.find((x) => x.objectId === objectId);
  return g ? summarizeGroup(g) : undefined;
}

/**
 * Principals whose display name (or any word of it), user principal name or app id starts
 * with `query`, case-insensitively; sorted by display name. What a people picker needs
 * ("Select Microsoft Entra Admins"). An empty query matches everything.
 */
export function searchPrincipals(
  data: DirectoryData,
  query: string,
  types: readonly PrincipalType[] = ['user', 'servicePrincipal', 'group'],
  limit = SEARCH_LIMIT,
): PrincipalSummary[] {
  const q = query.trim().toLowerCase();
  const starts = (s: string | undefined): boolean => s !== undefined && s.toLowerCase().startsWith(q);
  const nameMatches = (name: string): boolean => starts(name) || name.split(/\s+/).some(starts);
  const all: PrincipalSummary[] = [
    ...(types.includes('user') ? data.users.map(summarizeUser) : []),
    ...(types.includes('servicePrincipal') ? data.servicePrincipals.map(summarizeServicePrincipal) : []),
    ...(types.includes('group') ? data.groups.map(summarizeGroup) : []),
  ];
  return all
    .filter((p) => q === '' || nameMatches(p.displayName) || starts(p.userPrincipalName) || starts(p.appId))
    .sort((a, b) => a.displayName.localeCompare(b.displayName) || a.objectId.localeCompare(b.objectId))
    .slice(0, Math.max(0, limit));
}
