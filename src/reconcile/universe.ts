// Which roles take part in reconciling one worker, and how a role is named there.
//
//   managed   roles of the coordinator the reconciler keeps on every worker: all but
//             superusers, PostgreSQL's pg_* roles, the bootstrap superuser and the
//             gateway's own role (it exists on the coordinator only);
//   vanished  roles the reconciler propagated earlier that the coordinator no longer
//             has: dropped on the worker;
//   foreign   roles that exist on the worker only and were never propagated: reported
//             as drift and left alone, with their memberships and privileges.
import { GATEWAY_ROLE } from '../catalog/roles.js';
import { quoteIdent } from '../util/sql.js';
import { BOOTSTRAP, OWNER, PUBLIC, type RoleRow, type SharedCatalog } from './model.js';

export function isManagedRole(r: RoleRow): boolean {
  return !r.superuser && !r.bootstrap && !r.name.startsWith('pg_') && r.name !== GATEWAY_ROLE;
}

export class RoleUniverse {
  readonly managed: ReadonlySet<string>;
  readonly vanished: ReadonlySet<string>;
  readonly foreign: ReadonlySet<string>;

  constructor(
    readonly coordinatorShared: SharedCatalog,
    private readonly worker: SharedCatalog,
    /** Roles the reconciler has propagated (pgwarden.propagated_roles). */
    recorded: ReadonlySet<string>,
  ) {
    this.managed = new Set([...coordinatorShared.roles.values()].filter(isManagedRole).map((r) => r.name));
    const vanished = new Set<string>();
    const foreign = new Set<string>();
    for (const r of worker.roles.values()) {
      if (coordinatorShared.roles.has(r.name) || r.bootstrap || r.name.startsWith('pg_')) continue;
      // A superuser is never dropped by the reconciler, even one it once propagated.
      if (recorded.has(r.name) && !r.superuser) vanished.add(r.name);
      else foreign.add(r.name);
    }
    this.vanished = vanished;
    this.foreign = foreign;
  }

  /**
   * True if entries naming `ref` are compared on this worker: the placeholders; roles
   * the coordinator has that the worker has or will have; vanished roles (their entries
   * go). Foreign roles are not, and neither are the coordinator's unmanaged roles the
   * worker lacks (the gateway's role, superusers that exist only there).
   */
  comparable(ref: string): boolean {
    if (ref === PUBLIC || ref === OWNER || ref === BOOTSTRAP) return true;
    if (this.vanished.has(ref)) return true;
    return this.coordinatorShared.roles.has(ref) && (this.worker.roles.has(ref) || this.managed.has(ref));
  }

  /** The quoted name of `ref` on the worker; `owner` is the owner's name there (for OWNER). */
  sql(ref: string, owner?: string): string {
    if (ref === PUBLIC) return 'PUBLIC';
    if (ref === BOOTSTRAP) return quoteIdent(this.worker.bootstrapName);
    if (ref === OWNER) {
      if (owner === undefined) throw new Error('the owner of the object is needed here');
      return this.sql(owner);
    }
    return quoteIdent(ref);
  }

  /** For descriptions. */
  label(ref: string, owner?: string): string {
    if (ref === PUBLIC) return 'PUBLIC';
    if (ref === BOOTSTRAP) return this.worker.bootstrapName;
    if (ref === OWNER) return owner === undefined ? 'the owner' : this.label(owner);
    return ref;
  }
}
