// Reconciles one worker with a snapshot of the coordinator: reads the worker's catalogs,
// plans the changes, applies them, and reads again until nothing is left to do or the
// rounds run out (a grant by a role that itself only just received the grant option
// needs a second round). Shared catalogs and the default database share a connection;
// every other database has its own; vanished roles are dropped last.
import type pg from 'pg';
import type { AdminNode, ClusterAdmin } from '../cluster/admin.js';
import { applyChanges, type ErrorLog } from './apply.js';
import { countChanges, emptyCounts, summarise, type Category, type Change, type Counts } from './changes.js';
import { dropVanishedRole } from './drop-role.js';
import type { DatabaseCatalog, SharedCatalog } from './model.js';
import { planDefaultPrivileges } from './plan-default-privileges.js';
import { planMemberships } from './plan-memberships.js';
import { planDatabaseObjects, planDatabasePrivileges } from './plan-privileges.js';
import { planRoles } from './plan-roles.js';
import { withShards } from './plan-shards.js';
import { planSettings } from './plan-settings.js';
import { readDatabase } from './read-database.js';
import { readShared, type SharedRead } from './read-shared.js';
import type { RecordedRole } from './records.js';
import { withSession } from './session.js';
import { RoleUniverse } from './universe.js';

/** Read-plan-apply rounds per connection before what is left is reported as pending. */
const MAX_ROUNDS = 4;
/** Drift items kept per worker (the count is always complete). */
const MAX_DRIFT_ITEMS = 50;

/** The coordinator as one pass saw it. */
export interface CoordinatorSnapshot {
  readonly shared: SharedCatalog;
  /** Connectable databases, by name (empty with Citus: each worker reads them again, `reread`). */
  readonly databases: ReadonlyMap<string, DatabaseCatalog>;
  readonly recorded: ReadonlyMap<string, RecordedRole>;
  readonly citus: boolean;
  /**
   * Citus: reads the coordinator again. Citus writes the workers itself, inside the
   * coordinator's transactions, so a snapshot older than a worker's state could undo on
   * that worker a GRANT that Citus has just made. So each worker's state is read first
   * and the coordinator's after it: whatever the plan then changes moves the worker
   * forward, to a state the coordinator had after the worker's.
   */
  readonly reread?: CoordinatorReader;
}

export interface CoordinatorReader {
  /** The shared catalogs, and the record of propagated roles brought up to date with
   * them: a role the plan creates on a worker is always recorded, so that it is dropped
   * there if it is gone from the coordinator by the next pass. */
  shared(): Promise<{ read: SharedRead; recorded: ReadonlyMap<string, RecordedRole> }>;
  database(database: string, shared: SharedRead): Promise<DatabaseCatalog | undefined>;
}

export interface DriftItem {
  readonly kind: 'role-only-on-worker' | 'owner-differs';
  /** Secret-free. */
  readonly subject: string;
}

export interface WorkerResult {
  readonly node: string;
  /** What the first look found to do. */
  readonly found: Counts;
  readonly applied: number;
  /** What is left to do (the worker is in sync when it is ''). */
  readonly remaining: string;
  readonly remainingCounts: Counts;
  readonly drift: DriftItem[];
  readonly driftCount: number;
  readonly errors: string[];
  readonly notes: string[];
  /** Objects the coordinator has and the worker lacks (skipped). */
  readonly skippedObjects: number;
  /** Propagated roles the coordinator no longer has that are still on the worker. */
  readonly vanishedLeft: string[];
}

export interface WorkerPassOptions {
  readonly admin: ClusterAdmin;
  readonly node: AdminNode;
  readonly coordinator: CoordinatorSnapshot;
  /** How long a role must have been gone from the coordinator before its objects are reassigned. */
  readonly reassignGraceMs: number;
  /** Called before changes are applied, with what was found so far. */
  readonly onPending: (summary: string) => void;
}

interface Planned {
  changes: Change[];
  skipped: number;
  ownerDiffers: string[];
}

class Tally {
  readonly found = emptyCounts();
  readonly remaining = emptyCounts();
  readonly errors: ErrorLog = new Map();
  readonly drift: DriftItem[] = [];
  readonly notes: string[] = [];
  driftCount = 0;
  applied = 0;
  skipped = 0;

  addDrift(kind: DriftItem['kind'], subject: string): void {
    this.driftCount++;
    if (this.drift.length < MAX_DRIFT_ITEMS) this.drift.push({ kind, subject });
  }
}

function add(into: Counts, from: Counts): void {
  for (const k of Object.keys(from) as Category[]) into[k] += from[k];
}

export async function reconcileWorker(o: WorkerPassOptions): Promise<WorkerResult> {
  const { admin, node, coordinator } = o;
  const t = new Tally();
  let recorded = coordinator.recorded;

  /** Read, plan, apply until settled, on one connection. A statement that failed is not
   * tried again in the same pass (a lock it waits for will not be gone a moment later). */
  const converge = async (c: pg.Client, plan: () => Promise<Planned>): Promise<void> => {
    for (let round = 0; ; round++) {
      const p = await plan();
      const todo = p.changes;
      if (round === 0) add(t.found, countChanges(todo));
      const apply = todo.filter((x) => !t.errors.has(x.describe));
      if (apply.length === 0 || round === MAX_ROUNDS) {
        add(t.remaining, countChanges(todo));
        t.skipped += p.skipped;
        for (const o of p.ownerDiffers) t.addDrift('owner-differs', o);
        return;
      }
      o.onPending(summarise(t.found));
      t.applied += await applyChanges(c, apply, t.errors);
    }
  };

  // The coordinator's side of each comparison: the pass's snapshot, or (Citus) a read
  // made after the worker's.
  const reread = coordinator.reread;
  let coordinatorShared: SharedRead | undefined;
  const wantShared = async (): Promise<SharedCatalog> => {
    if (!reread) return coordinator.shared;
    const fresh = await reread.shared();
    coordinatorShared = fresh.read;
    recorded = fresh.recorded;
    return fresh.read.catalog;
  };
  const wantDatabase = (db: string) => async (): Promise<DatabaseCatalog | undefined> =>
    reread && coordinatorShared ? reread.database(db, coordinatorShared) : coordinator.databases.get(db);

  let shared: SharedRead | undefined;
  let universe: RoleUniverse | undefined;
  let defaultDb = '';
  await withSession(admin, node, async (c) => {
    defaultDb = (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    await converge(c, async () => {
      shared = await readShared(c);
      const want = await wantShared();
      universe = new RoleUniverse(want, shared.catalog, new Set(recorded.keys()));
      const dbPrivileges = planDatabasePrivileges(want, shared.catalog, universe);
      const planned: Planned = {
        changes: [
          ...planRoles(want, shared.catalog, universe),
          ...planMemberships(want, shared.catalog, universe),
          ...planSettings(want, shared.catalog, universe),
          ...dbPrivileges.changes,
        ],
        skipped: dbPrivileges.skipped,
        ownerDiffers: dbPrivileges.ownerDiffers,
      };
      if (shared.catalog.connectable.includes(defaultDb)) {
        const p = await planDatabase(c, defaultDb, wantDatabase(defaultDb), shared, universe);
        planned.changes.push(...p.changes);
        planned.skipped += p.skipped;
        planned.ownerDiffers.push(...p.ownerDiffers);
      }
      return planned;
    });
  });
  const workerShared = shared!;
  const roles = universe!;

  for (const db of workerShared.catalog.connectable) {
    if (db === defaultDb || !coordinator.shared.connectable.includes(db)) continue;
    await withSession(admin, node, (c) => converge(c, () => planDatabase(c, db, wantDatabase(db), workerShared, roles)), db);
  }

  for (const name of roles.foreign) t.addDrift('role-only-on-worker', name);
  const vanishedLeft: string[] = [];
  for (const name of roles.vanished) {
    t.found.drop++;
    const vanishedForMs = recorded.get(name)?.vanishedForMs;
    const mayReassign = vanishedForMs != null && vanishedForMs >= o.reassignGraceMs;
    try {
      const outcome = await dropVanishedRole(admin, node, name, workerShared.catalog.connectable, mayReassign);
      if (outcome.note) t.notes.push(`role "${name}": ${outcome.note}`);
      if (outcome.dropped) {
        t.applied++;
        continue;
      }
      if (outcome.error) t.errors.set(`drop role "${name}"`, outcome.error);
    } catch (e) {
      t.errors.set(`drop role "${name}"`, (e as Error).message);
    }
    t.remaining.drop++;
    vanishedLeft.push(name);
  }

  return {
    node: node.name,
    found: t.found,
    applied: t.applied,
    remaining: summarise(t.remaining),
    remainingCounts: t.remaining,
    drift: t.drift,
    driftCount: t.driftCount,
    errors: [...t.errors].map(([what, why]) => `${what}: ${why}`),
    notes: t.notes,
    skippedObjects: t.skipped,
    vanishedLeft,
  };
}

/** Reads the worker's database, then what the coordinator wants there, and plans. */
async function planDatabase(
  c: pg.Client,
  database: string,
  wanted: () => Promise<DatabaseCatalog | undefined>,
  shared: SharedRead,
  universe: RoleUniverse,
): Promise<Planned> {
  // `universe` was built from the shared catalogs read on the first connection; they do
  // not change while databases are reconciled (nothing here touches roles).
  const have = await readDatabase(c, database, shared.names, shared.context, shared.catalog.builtInAcl);
  const want = await wanted();
  if (!want) return { changes: [], skipped: 0, ownerDiffers: [] };
  const objects = planDatabaseObjects(withShards(want, have), have, universe);
  return {
    changes: [...objects.changes, ...planDefaultPrivileges(universe.coordinatorShared, want, have, universe)],
    skipped: objects.skipped,
    ownerDiffers: objects.ownerDiffers,
  };
}
