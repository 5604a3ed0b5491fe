// The identity side of a start: a real Microsoft Entra tenant (with Graph for its
// directory, when configured), the embedded identity provider, or none; and on the
// provider's first start, its first user made an Entra admin of the cluster.
import type { Cluster } from './cluster/cluster.js';
import type { Directory } from './identity/directory.js';
import { GraphDirectory } from './identity/graph-directory.js';
import { CachedMembership, type GroupMembership } from './identity/group-membership.js';
import { DEFAULT_AUDIENCES, MAX_CLOCK_SKEW_SECONDS, type EntraConfig } from './identity/config.js';
import { checkMemberGroups } from './idp/graph/membership.js';
import { EmbeddedIdp, type SeededAdmin } from './idp/embedded-idp.js';
import { addPrincipal, listPrincipals } from './control/principals.js';
import { PORTAL_APPLICATION } from './portal/index.js';
import type { TlsMaterial } from './tls/certificates.js';
import { dataDirPaths } from './util/data-dir-paths.js';
import { DEFAULTS, defined } from './util/defaults.js';
import { readOptional, writeSecretFile } from './util/files.js';
import type { Logger } from './util/log.js';

/** Microsoft Graph, for directory searches of a real tenant (src/identity/graph-directory.ts). */
export interface GraphOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default https://graph.microsoft.com. */
  readonly endpoint?: string;
  /** The resource its tokens are for (default: the endpoint). */
  readonly resource?: string;
}

/**
 * Whose access tokens are accepted: a real Microsoft Entra tenant (`entra`), or the
 * embedded identity provider started here (`embedded`, the default, on `port`, 0 for
 * any), or nobody (`none`: Entra sign-in is off).
 */
export type IdentityOptions =
  | {
      kind: 'embedded';
      host?: string;
      port: number;
      /** Groups a token lists at most (Entra: 200). */
      groupsClaimLimit?: number;
      /** The device flow's poll interval (default 5 s, as Entra). */
      deviceCodeIntervalSeconds?: number;
    }
  | { kind: 'entra'; config: EntraConfig; graph?: GraphOptions }
  | { kind: 'none' };

export interface Identity {
  config: EntraConfig | undefined;
  idp: EmbeddedIdp | undefined;
  directory: Directory | undefined;
  /** Group membership for tokens too full to list their groups, where the directory can tell. */
  membership?: GroupMembership;
  seededAdmin: SeededAdmin | undefined;
}

/**
 * The identity side: a real tenant as configured, or the embedded provider, started on
 * the data directory's CA. On the provider's first start its first user becomes an Entra
 * admin of the cluster, and its credentials are saved 0600 in entra-admin.json.
 */
export async function startIdentity(options: IdentityOptions | undefined, cluster: Cluster, tls: TlsMaterial, log: Logger): Promise<Identity> {
  const identity = options ?? { kind: 'embedded', port: DEFAULTS.idpPort };
  if (identity.kind === 'none') return { config: undefined, idp: undefined, directory: undefined, seededAdmin: undefined };
  if (identity.kind === 'entra') {
    const { config, graph } = identity;
    // Without Graph, principals of a real tenant are added by object id.
    if (!graph) return { config, idp: undefined, directory: undefined, seededAdmin: undefined };
    const directory = new GraphDirectory({
      authority: config.authority,
      tenantId: config.tenantId,
      clientId: graph.clientId,
      clientSecret: graph.clientSecret,
      graphEndpoint: graph.endpoint,
      ...(graph.resource ? { resource: graph.resource } : {}),
      ...(config.ca ? { ca: config.ca } : {}),
    });
    // Graph's answers are kept a while: a sign-in must not wait on Graph each time.
    return { config, idp: undefined, directory, membership: new CachedMembership(directory), seededAdmin: undefined };
  }
  const idp = await EmbeddedIdp.open({
    dataDir: cluster.dataDir,
    tls,
    log,
    ...defined({ groupsClaimLimit: identity.groupsClaimLimit, deviceCodeIntervalSeconds: identity.deviceCodeIntervalSeconds }),
  });
  try {
    const seededAdmin = await idp.seedIfEmpty();
    await idp.listen({ host: identity.host ?? DEFAULTS.idpHost, port: identity.port });
    // The portal signs people in with the provider: its application must be registered.
    if (!(await idp.directory.snapshot())?.publicClients.some((c) => c.appId === PORTAL_APPLICATION.appId)) {
      await idp.directory.registerPublicClient(PORTAL_APPLICATION);
    }
    const config: EntraConfig = {
      authority: idp.authority,
      tenantId: idp.tenantId,
      audiences: DEFAULT_AUDIENCES,
      clockSkewSeconds: MAX_CLOCK_SKEW_SECONDS,
      ...(tls.caPem ? { ca: tls.caPem } : {}),
    };
    const adminFile = dataDirPaths(cluster.dataDir).entraAdmin;
    if (seededAdmin) {
      const { username, password, objectId, tenantId } = seededAdmin;
      await writeSecretFile(adminFile, JSON.stringify({ username, password, objectId, tenantId }, null, 2) + '\n');
    }
    // The first user is an admin of the cluster (also after a crash between the two steps).
    const saved = await readOptional(adminFile);
    if (saved) {
      const admin = JSON.parse(saved) as { username: string; objectId: string; tenantId: string };
      const known = await listPrincipals(cluster);
      if (!known.some((p) => p.roleName === admin.username)) {
        await addPrincipal(cluster, cluster.gatewaySecret, {
          roleName: admin.username,
          type: 'user',
          objectId: admin.objectId,
          tenantId: admin.tenantId,
          isAdmin: true,
        });
      }
    }
    const directory: Directory = { search: (q, types) => idp.directory.search(q, types) };
    // The provider's directory is at hand: asked at each sign-in, a change counts at once.
    const membership: GroupMembership = {
      isMemberOf: async (objectId, groupObjectId) => {
        const data = await idp.directory.snapshot();
        return data !== undefined && checkMemberGroups(data, objectId.toLowerCase(), [groupObjectId.toLowerCase()]).length > 0;
      },
    };
    return { config, idp, directory, membership, seededAdmin };
  } catch (e) {
    await idp.close();
    throw e;
  }
}
