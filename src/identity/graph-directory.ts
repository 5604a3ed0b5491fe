// A real tenant's users, service principals and groups, looked up in Microsoft Graph
// v1.0 by name, for adding admins and principals (the portal's picker, `pgwarden admin
// add NAME`); and group membership, for tokens too full to list their groups. pgwarden signs in to Graph as an application of the tenant (client
// credentials, app-only), which an administrator granted the application permission
// Directory.Read.All (or User.Read.All, Application.Read.All and Group.Read.All).
// https://learn.microsoft.com/graph/api/user-list
// https://learn.microsoft.com/graph/filter-query-parameter (startswith, eq, `or`;
// a quote inside a string literal is doubled)
//
// By hand rather than with a Graph SDK: four requests with one query each do not
// justify an SDK and its dependencies, and every answer must be bounded in time and size
// like the other identity traffic (src/util/http-client.ts).
import type { PrincipalType } from '../catalog/principals.js';
import type { Directory, DirectoryEntry } from './directory.js';
import type { GroupMembership } from './group-membership.js';
import { isGuid } from '../util/guid.js';
import { PgwardenError } from '../util/errors.js';
import { httpRequestJson, oauthErrorDescription, type HttpResponse } from '../util/http-client.js';
import { DEFAULTS } from '../util/defaults.js';

export const GRAPH_ENDPOINT = DEFAULTS.graphEndpoint;

export interface GraphDirectoryConfig {
  /** Where tokens come from: `https://login.microsoftonline.com`, or a compatible provider. */
  readonly authority: string;
  readonly tenantId: string;
  /** The application (client) id pgwarden signs in to Graph as. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Graph's base URL (default https://graph.microsoft.com; national clouds have their own). */
  readonly graphEndpoint?: string;
  /** The resource tokens are asked for (default: graphEndpoint). Only a provider that
   * serves Graph under another URL, like the embedded one, needs it. */
  readonly resource?: string;
  /** An extra CA to trust (a provider with a local CA), PEM. */
  readonly ca?: string;
  /** Each request, connect to last byte (default 10 s). */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/** Graph and the token endpoint answer in well under this (GraphDirectoryConfig.timeoutMs). */
const REQUEST_TIMEOUT_MS = 10_000;
/** A page of 50 objects with three properties each is a few KB. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Results per kind of object (the API shows at most 50 in all). */
const TOP = 50;
/** A token is used until this long before it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;

const ALL_TYPES: readonly PrincipalType[] = ['user', 'servicePrincipal', 'group'];

interface Collection {
  readonly path: string;
  readonly select: string;
  /** Properties that `startswith` is tried on. */
  readonly prefixOn: readonly string[];
  /** Properties that an exact GUID is tried on. */
  readonly guidOn: readonly string[];
}

const COLLECTIONS: Record<PrincipalType, Collection> = {
  user: { path: 'users', select: 'id,displayName,userPrincipalName', prefixOn: ['displayName', 'userPrincipalName'], guidOn: ['id'] },
  servicePrincipal: { path: 'servicePrincipals', select: 'id,displayName,appId', prefixOn: ['displayName'], guidOn: ['id', 'appId'] },
  group: { path: 'groups', select: 'id,displayName', prefixOn: ['displayName'], guidOn: ['id'] },
};

interface GraphObject {
  id?: unknown;
  displayName?: unknown;
  userPrincipalName?: unknown;
  appId?: unknown;
}

/** An OData string literal: in single quotes, a quote doubled. */
export function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The `$filter` that finds `query` in one collection, or undefined for everything. */
export function graphFilter(type: PrincipalType, query: string): string | undefined {
  if (query === '') return undefined;
  const c = COLLECTIONS[type];
  const terms = c.prefixOn.map((p) => `startswith(${p},${odataString(query)})`);
  if (isGuid(query)) terms.push(...c.guidOn.map((p) => `${p} eq ${odataString(query.toLowerCase())}`));
  return terms.join(' or ');
}

export class GraphDirectory implements Directory, GroupMembership {
  private readonly graph: string;
  private readonly now: () => number;
  private token: { value: string; expiresAt: number } | undefined;
  private pendingToken: Promise<string> | undefined;

  constructor(private readonly config: GraphDirectoryConfig) {
    this.graph = (config.graphEndpoint ?? GRAPH_ENDPOINT).replace(/\/+$/, '');
    this.now = config.now ?? Date.now;
  }

  async search(query: string, types: readonly PrincipalType[] = ALL_TYPES): Promise<DirectoryEntry[]> {
    const q = query.trim();
    const found = await Promise.all(types.map((t) => this.list(t, q)));
    return found.flat().sort((a, b) => a.displayName.localeCompare(b.displayName) || a.objectId.localeCompare(b.objectId));
  }

  private async list(type: PrincipalType, query: string): Promise<DirectoryEntry[]> {
    const c = COLLECTIONS[type];
    const url = new URL(`${this.graph}/v1.0/${c.path}`);
    const filter = graphFilter(type, query);
    if (filter) url.searchParams.set('$filter', filter);
    url.searchParams.set('$select', c.select);
    url.searchParams.set('$top', String(TOP));
    const res = await this.call(url);
    if (res.status !== 200) throw graphRefusal(res, 'the directory search');
    return (listOf(res) as GraphObject[]).flatMap((o) => entryOf(type, o));
  }

  /** The objects named exactly `name` (a user's UPN, else the display name), whatever
   * else starts with it: for adding a principal by name. */
  async named(name: string, type: PrincipalType): Promise<DirectoryEntry[]> {
    const c = COLLECTIONS[type];
    const url = new URL(`${this.graph}/v1.0/${c.path}`);
    url.searchParams.set('$filter', `${type === 'user' ? 'userPrincipalName' : 'displayName'} eq ${odataString(name)}`);
    url.searchParams.set('$select', c.select);
    url.searchParams.set('$top', String(TOP));
    const res = await this.call(url);
    if (res.status !== 200) throw graphRefusal(res, 'the directory lookup');
    return (listOf(res) as GraphObject[]).flatMap((o) => entryOf(type, o));
  }

  /** Graph's checkMemberGroups (transitive membership); an object that is gone is no member.
   * https://learn.microsoft.com/graph/api/directoryobject-checkmembergroups */
  async isMemberOf(objectId: string, groupObjectId: string): Promise<boolean> {
    if (!isGuid(objectId) || !isGuid(groupObjectId)) return false;
    const url = new URL(`${this.graph}/v1.0/directoryObjects/${objectId.toLowerCase()}/checkMemberGroups`);
    const res = await this.call(url, { groupIds: [groupObjectId.toLowerCase()] });
    if (res.status === 404) return false;
    if (res.status !== 200) throw graphRefusal(res, 'the group membership check');
    return listOf(res).some((id) => typeof id === 'string' && id.toLowerCase() === groupObjectId.toLowerCase());
  }

  /** A GET (or a POST of `json`) with the app's token; a token refused early is renewed once. */
  private async call(url: URL, json?: unknown): Promise<HttpResponse> {
    const token = await this.accessToken();
    let res = await this.send(url, token, json);
    if (res.status === 401) {
      // Forget it, unless another request already got a new one.
      if (this.token?.value === token) this.token = undefined;
      res = await this.send(url, await this.accessToken(), json);
    }
    return res;
  }

  private send(url: URL, token: string, json: unknown): Promise<HttpResponse> {
    return httpRequestJson(url.toString(), {
      headers: { authorization: `Bearer ${token}` },
      ...(json !== undefined ? { json } : {}),
      ca: this.config.ca,
      timeoutMs: this.config.timeoutMs ?? REQUEST_TIMEOUT_MS,
      maxBytes: MAX_ANSWER_BYTES,
    }).catch((e: unknown) => {
      throw new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', `Microsoft Graph cannot be reached at ${url.origin}: ${(e as Error).message}`);
    });
  }

  /** An app-only Graph token, kept until shortly before it expires; concurrent asks share one request. */
  private accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.expiresAt) return Promise.resolve(this.token.value);
    this.pendingToken ??= this.fetchToken().finally(() => {
      this.pendingToken = undefined;
    });
    return this.pendingToken;
  }

  private async fetchToken(): Promise<string> {
    const { authority, tenantId, clientId, clientSecret, ca } = this.config;
    const url = `${authority.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
    const res = await httpRequestJson(url, {
      form: {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: `${(this.config.resource ?? this.graph).replace(/\/+$/, '')}/.default`,
      },
      ca,
      timeoutMs: this.config.timeoutMs ?? REQUEST_TIMEOUT_MS,
      maxBytes: MAX_ANSWER_BYTES,
    }).catch((e: unknown) => {
      throw new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', `the identity provider cannot be reached at ${new URL(url).origin}: ${(e as Error).message}`);
    });
    let body: Record<string, unknown> = {};
    try {
      body = res.json<Record<string, unknown>>();
    } catch {
      // described below by the status
    }
    if (res.status !== 200 || typeof body.access_token !== 'string') {
      // The provider's own words, without its trace and correlation lines; never the secret.
      const why = oauthErrorDescription(body, res.status);
      throw new PgwardenError(
        'IDENTITY_PROVIDER_UNAVAILABLE',
        `pgwarden cannot sign in to Microsoft Graph as application ${clientId}: ${typeof body.error === 'string' ? `${body.error}: ` : ''}${why}`,
      );
    }
    const lifetimeS = Number(body.expires_in);
    const lifetimeMs = Number.isFinite(lifetimeS) && lifetimeS > 0 ? lifetimeS * 1000 : 3_600_000;
    this.token = { value: body.access_token, expiresAt: this.now() + Math.max(lifetimeMs - TOKEN_MARGIN_MS, lifetimeMs / 2) };
    return body.access_token;
  }
}

function entryOf(type: PrincipalType, o: GraphObject): DirectoryEntry[] {
  if (typeof o.id !== 'string' || typeof o.displayName !== 'string') return [];
  const entry: DirectoryEntry = {
    type,
    objectId: o.id.toLowerCase(),
    displayName: o.displayName,
    ...(type === 'user' && typeof o.userPrincipalName === 'string' ? { userPrincipalName: o.userPrincipalName } : {}),
    ...(type === 'servicePrincipal' && typeof o.appId === 'string' ? { appId: o.appId.toLowerCase() } : {}),
  };
  return [entry];
}

/** The `value` list of a Graph answer. */
function listOf(res: HttpResponse): unknown[] {
  const body = res.json<{ value?: unknown }>();
  if (!Array.isArray(body.value)) throw new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', 'Microsoft Graph answered without a list.');
  return body.value;
}

/** Graph's error answer as one clear line, with what to do about the usual one. */
function graphRefusal(res: HttpResponse, what: string): PgwardenError {
  let code = `HTTP ${res.status}`;
  let message = '';
  try {
    const e = res.json<{ error?: { code?: unknown; message?: unknown } }>().error;
    if (typeof e?.code === 'string') code = e.code;
    if (typeof e?.message === 'string') message = `: ${e.message}`;
  } catch {
    // not JSON: the status says enough
  }
  const hint = res.status === 403 ? ' Grant the application the Microsoft Graph application permission Directory.Read.All (admin consent).' : '';
  return new PgwardenError('IDENTITY_PROVIDER_UNAVAILABLE', `Microsoft Graph refused ${what} (${code}${message}).${hint}`);
}
