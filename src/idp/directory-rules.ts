// The directory's rules, apart from its file: what a display name, a user principal name
// and a redirect URI may be, two principals never sharing a name, Graph permissions in
// their canonical form and order, and how a directory file is read (directory.ts).
import { PgwardenError } from '../util/errors.js';
import { graphAppRole, GRAPH_APP_ROLES } from './graph/permissions.js';
import { DIRECTORY_FILE_VERSION, type DirectoryData } from './model.js';

const MAX_DISPLAY_NAME = 256;
/** Entra: the part before @ has at most 64 characters of letters, digits and ' . - _ ! # ^ ~. */
const UPN_LOCAL_PART = /[A-Za-z0-9'_!#^~-](?:[A-Za-z0-9'._!#^~-]{0,62}[A-Za-z0-9'_!#^~-])?/.source;
/** One label of the domain: letters, digits and inner hyphens. */
const UPN_DOMAIN_LABEL = /[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/.source;
/** `local@label(.label)+`, built from the parts above to keep the lines short. */
export const UPN_PATTERN = new RegExp(`^${UPN_LOCAL_PART}@${UPN_DOMAIN_LABEL}(?:\\.${UPN_DOMAIN_LABEL})+$`);

export function parseDirectory(raw: unknown): DirectoryData {
  const d = raw as Partial<DirectoryData> | null;
  if (!d || typeof d !== 'object' || !d.tenant || typeof d.tenant.id !== 'string') {
    throw new PgwardenError('CONFIG_INVALID', 'the identity provider directory file is damaged (no tenant)');
  }
  if (d.version !== DIRECTORY_FILE_VERSION) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      `the identity provider directory file has version ${String(d.version)}; this pgwarden reads version ${DIRECTORY_FILE_VERSION}`,
    );
  }
  return {
    version: d.version,
    tenant: d.tenant,
    users: d.users ?? [],
    // Fields added after version 1 are absent from older files: read as empty.
    servicePrincipals: (d.servicePrincipals ?? []).map((s) => ({
      ...s,
      redirectUris: s.redirectUris ?? [],
      graphPermissions: Array.isArray(s.graphPermissions) ? s.graphPermissions.filter((p): p is string => typeof p === 'string') : [],
    })),
    groups: d.groups ?? [],
    publicClients: d.publicClients ?? [],
  };
}

/** Graph permission values from what a caller gave (values in any case, or app role ids):
 * the known ones' canonical values, at least one. */
export function graphPermissionValues(permissions: string | readonly string[]): string[] {
  const given = typeof permissions === 'string' ? [permissions] : permissions;
  if (given.length === 0) throw new PgwardenError('INVALID_INPUT', 'name at least one Microsoft Graph application permission');
  return [...new Set(given.map((p) => graphAppRole(p).value))];
}

/** Known permissions in GRAPH_APP_ROLES order, then any others (kept as they were). */
export function sortPermissions(values: readonly string[]): string[] {
  const rank = (v: string): number => {
    const i = GRAPH_APP_ROLES.findIndex((r) => r.value === v);
    return i < 0 ? GRAPH_APP_ROLES.length : i;
  };
  return [...values].sort((a, b) => rank(a) - rank(b));
}

/** The directory without an object: removed from every group too. */
export function withoutObject(data: DirectoryData, objectId: string): DirectoryData {
  return { ...data, groups: data.groups.map((g) => (g.members.includes(objectId) ? { ...g, members: g.members.filter((m) => m !== objectId) } : g)) };
}

export function checkDisplayName(name: string): string {
  const trimmed = name.trim();
  // eslint-disable-next-line no-control-regex
  if (trimmed === '' || trimmed.length > MAX_DISPLAY_NAME || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new PgwardenError('INVALID_INPUT', `a display name has 1 to ${MAX_DISPLAY_NAME} characters and no control characters`);
  }
  return trimmed;
}

/** Service principals and groups become PostgreSQL roles named after their display name,
 * so two of them may not share one (case-insensitively, to spare people confusion). */
export function checkNameIsFree(data: DirectoryData, displayName: string): void {
  const taken = [...data.servicePrincipals, ...data.groups].find((p) => p.displayName.toLowerCase() === displayName.toLowerCase());
  if (taken) throw new PgwardenError('ALREADY_EXISTS', `a service principal or group named "${taken.displayName}" already exists`);
}

/** Redirect URIs: https anywhere, http only on loopback (as Entra allows). */
export function checkRedirectUri(uri: string): string {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new PgwardenError('INVALID_INPUT', `"${uri}" is not a URL`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.hash || !(u.protocol === 'https:' || (u.protocol === 'http:' && loopback))) {
    throw new PgwardenError('INVALID_INPUT', `a redirect URI is https (http only on localhost) without a fragment: ${uri}`);
  }
  return uri;
}
