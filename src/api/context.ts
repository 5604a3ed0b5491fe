import type { AuditWriter } from '../catalog/audit.js';
import type { Reconciler } from '../reconcile/index.js';
import type { ClusterAdmin } from '../cluster/admin.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Directory } from '../identity/directory.js';
import type { TokenVerifier } from '../identity/verify-token.js';
import type { Logger } from '../util/log.js';

/** What the API's routes work with. */
export interface ApiDeps {
  readonly admin: ClusterAdmin;
  /** The same cluster, for statements run as the caller (cluster exec). */
  readonly cluster?: Cluster;
  /** Derives Entra roles' passwords. */
  readonly gatewaySecret: Buffer;
  /** The tenant of the cluster's Entra principals; undefined without Entra ID. */
  readonly tenantId: string | undefined;
  /** Verifies Entra admins' bearer tokens; undefined without Entra ID. */
  readonly verifier: TokenVerifier | undefined;
  /** The other OpenID Connect issuers whose principals may be added (--oidc-issuer). */
  readonly oidcIssuers?: readonly string[];
  /** Directory lookups for admins and principals, where one is available. */
  readonly directory: Directory | undefined;
  readonly audit: AuditWriter;
  /** Catches up workers after changes; its state is reported per node. */
  readonly reconciler?: Reconciler;
  /** Kept in step when citus's password is reset through the API. */
  readonly citusPasswordFile: string | undefined;
  readonly log: Logger;
}
