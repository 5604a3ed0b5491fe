// One pass: read the coordinator, then reconcile each targeted worker with that snapshot
// (with Citus, with the coordinator read again after each worker's own read), in
// parallel and independently (one worker down must not stop the others).
import type { Logger } from 'pino';
import { coordinatorOf, detectCitus, exclusively, type AdminNode, type ClusterAdmin } from '../cluster/admin.js';
import { describeError } from '../util/errors.js';
import { emptyCounts, total, type Counts } from './changes.js';
import type { DatabaseCatalog } from './model.js';
import { readDatabase } from './read-database.js';
import { readShared } from './read-shared.js';
import { forgetRoles, updateRecord } from './records.js';
import { UnreachableError, withSession } from './session.js';
import type { SyncStates } from './state.js';
import { isManagedRole } from './universe.js';
import { reconcileWorker, type CoordinatorReader, type CoordinatorSnapshot, type DriftItem } from './worker-pass.js';

/** SQLSTATE of a lock wait that ran out (the cluster change lock, `exclusively()`). */
const LOCK_NOT_AVAILABLE = '55P03';
/** SQLSTATE of a missing table (pgwarden.propagated_roles before installReconcileSchema()). */
const UNDEFINED_TABLE = '42P01';

/** Workers reconciled at the same time. */
const MAX_PARALLEL_WORKERS = 8;

export type Mode = 'plain' | 'citus';

export interface NodeReport {
  readonly node: string;
  readonly reachable: boolean;
  /** What the pass found to do (statements), and did. */
  readonly found: Counts;
  readonly applied: number;
  /** What is left ('' when the worker is in sync). */
  readonly remaining: string;
  readonly drift: readonly DriftItem[];
  readonly driftCount: number;
  readonly skippedObjects: number;
  readonly errors: readonly string[];
  readonly notes: readonly string[];
}

export interface PassReport {
  readonly reasons: readonly string[];
  readonly mode: Mode | undefined;
  readonly startedAt: string;
  readonly durationMs: number;
  /** Set when the coordinator could not be read: nothing was done. */
  readonly error?: string;
  readonly nodes: readonly NodeReport[];
}

export interface PassContext {
  readonly admin: ClusterAdmin;
  readonly log: Logger;
  readonly states: SyncStates;
  readonly reassignGraceMs: number;
}

export async function runPass(ctx: PassContext, targets: ReadonlySet<string> | 'all', reasons: readonly string[]): Promise<PassReport> {
  const started = new Date();
  // Never between a control-plane change's coordinator part and its workers part.
  try {
    return await exclusively(ctx.admin, () => passUnderLock(ctx, targets, reasons, started));
  } catch (e) {
    const error =
      (e as { code?: string }).code === LOCK_NOT_AVAILABLE
        ? 'another change to the cluster has held its lock for 60 s; the pass will run later'
        : `cannot read the coordinator: ${describeError(e)}`;
    ctx.log.warn({ event: 'reconcile-failed', error }, 'reconciliation pass failed');
    return { reasons, startedAt: started.toISOString(), mode: undefined, durationMs: Date.now() - started.getTime(), error, nodes: [] };
  }
}

async function passUnderLock(ctx: PassContext, targets: ReadonlySet<string> | 'all', reasons: readonly string[], started: Date): Promise<PassReport> {
  const workers = ctx.admin.adminNodes.filter((n) => n.kind === 'worker' && (targets === 'all' || targets.has(n.name)));
  const base = { reasons, startedAt: started.toISOString() };
  let snapshot: CoordinatorSnapshot;
  try {
    snapshot = await readCoordinator(ctx.admin);
  } catch (e) {
    const missing = (e as { code?: string }).code === UNDEFINED_TABLE;
    const error = missing
      ? "the reconciler's tables are missing on the coordinator: installReconcileSchema() has not run there"
      : `cannot read the coordinator: ${describeError(e)}`;
    ctx.log.warn({ event: 'reconcile-failed', error }, 'reconciliation pass failed');
    return { ...base, mode: undefined, durationMs: Date.now() - started.getTime(), error, nodes: [] };
  }

  const results: Array<{ report: NodeReport; vanishedLeft: readonly string[] | undefined }> = [];
  await eachLimited(workers, MAX_PARALLEL_WORKERS, async (node) => {
    results.push(await reconcileOne(ctx, node, snapshot));
  });
  const nodes = results.map((r) => r.report).sort((a, b) => a.node.localeCompare(b.node));

  // A vanished role is forgotten once no worker has it: only a pass over every worker,
  // each reached and each read to the end, can tell.
  const allChecked = targets === 'all' && results.every((r) => r.vanishedLeft !== undefined);
  const left = new Set(results.flatMap((r) => r.vanishedLeft ?? []));
  const forget = [...snapshot.recorded.values()].filter((r) => r.vanishedForMs !== null && !left.has(r.name)).map((r) => r.name);
  try {
    if (allChecked) await withSession(ctx.admin, coordinatorOf(ctx.admin), (c) => forgetRoles(c, forget));
  } catch (e) {
    ctx.log.warn({ event: 'reconcile-record-failed', error: describeError(e) }, 'could not update the reconciler records on the coordinator');
  }

  const report: PassReport = {
    ...base,
    mode: snapshot.citus ? 'citus' : 'plain',
    durationMs: Date.now() - started.getTime(),
    nodes,
  };
  logReport(ctx.log, report);
  return report;
}

/** One worker's report, and the vanished roles still on it (undefined: not known). */
async function reconcileOne(
  ctx: PassContext,
  node: AdminNode,
  snapshot: CoordinatorSnapshot,
): Promise<{ report: NodeReport; vanishedLeft: readonly string[] | undefined }> {
  const down = (error: string): NodeReport => ({
    node: node.name,
    reachable: false,
    found: emptyCounts(),
    applied: 0,
    remaining: '',
    drift: [],
    driftCount: 0,
    skippedObjects: 0,
    errors: [error],
    notes: [],
  });
  try {
    const r = await reconcileWorker({
      admin: ctx.admin,
      node,
      coordinator: snapshot,
      reassignGraceMs: ctx.reassignGraceMs,
      onPending: (summary) => ctx.states.pending(node.name, summary),
    });
    ctx.states.finished(r);
    const report: NodeReport = {
      node: r.node,
      reachable: true,
      found: r.found,
      applied: r.applied,
      remaining: r.remaining,
      drift: r.drift,
      driftCount: r.driftCount,
      skippedObjects: r.skippedObjects,
      errors: r.errors,
      notes: r.notes,
    };
    return { report, vanishedLeft: r.vanishedLeft };
  } catch (e) {
    // The worker itself, not the coordinator read again after it (Citus mode).
    if (e instanceof UnreachableError && e.node === node.name) {
      ctx.states.unreachable(node.name, e.message);
      return { report: down(e.message), vanishedLeft: undefined };
    }
    // Reached, but the pass broke off: pending, with the reason.
    const error = describeError(e);
    ctx.states.finished({
      node: node.name,
      found: emptyCounts(),
      applied: 0,
      remaining: 'unknown (the pass broke off)',
      remainingCounts: emptyCounts(),
      drift: [],
      driftCount: 0,
      errors: [error],
      notes: [],
      skippedObjects: 0,
      vanishedLeft: [],
    });
    return { report: { ...down(error), reachable: true, remaining: 'unknown (the pass broke off)' }, vanishedLeft: undefined };
  }
}

async function readCoordinator(admin: ClusterAdmin): Promise<CoordinatorSnapshot> {
  const coordinator = coordinatorOf(admin);
  const first = await withSession(admin, coordinator, async (c) => {
    const db = (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    const shared = await readShared(c);
    const citus = await detectCitus(c);
    const managed = new Set([...shared.catalog.roles.values()].filter(isManagedRole).map((r) => r.name));
    const recorded = await updateRecord(c, managed, new Set(shared.catalog.roles.keys()));
    // With Citus every worker reads the coordinator's databases again after its own
    // (reread): reading them here too would be work done twice.
    const defaultCatalog =
      !citus && shared.catalog.connectable.includes(db) ? await readDatabase(c, db, shared.names, shared.context, shared.catalog.builtInAcl) : undefined;
    return { db, shared, citus, recorded, defaultCatalog };
  });
  const databases = new Map<string, DatabaseCatalog>();
  if (first.defaultCatalog) databases.set(first.db, first.defaultCatalog);
  for (const db of first.citus ? [] : first.shared.catalog.connectable) {
    if (db === first.db) continue;
    databases.set(
      db,
      await withSession(admin, coordinator, (c) => readDatabase(c, db, first.shared.names, first.shared.context, first.shared.catalog.builtInAcl), db),
    );
  }
  return {
    shared: first.shared.catalog,
    databases,
    recorded: first.recorded,
    citus: first.citus,
    ...(first.citus ? { reread: rereader(admin) } : {}),
  };
}

/** Citus: the coordinator read again, after a worker (CoordinatorSnapshot.reread). */
function rereader(admin: ClusterAdmin): CoordinatorReader {
  const coordinator = coordinatorOf(admin);
  return {
    shared: () =>
      withSession(admin, coordinator, async (c) => {
        const read = await readShared(c);
        const managed = new Set([...read.catalog.roles.values()].filter(isManagedRole).map((r) => r.name));
        return { read, recorded: await updateRecord(c, managed, new Set(read.catalog.roles.keys())) };
      }),
    database: async (db, shared) => {
      if (!shared.catalog.connectable.includes(db)) return undefined;
      return withSession(admin, coordinator, (c) => readDatabase(c, db, shared.names, shared.context, shared.catalog.builtInAcl), db);
    },
  };
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

function logReport(log: Logger, r: PassReport): void {
  const nodes = r.nodes.map((n) => ({
    node: n.node,
    reachable: n.reachable,
    found: total(n.found),
    applied: n.applied,
    remaining: n.remaining || undefined,
    drift: n.driftCount || undefined,
    errors: n.errors.length || undefined,
  }));
  const changed = r.nodes.some((n) => n.applied > 0 || n.errors.length > 0 || !n.reachable || n.remaining !== '');
  log[changed ? 'info' : 'debug']({ event: 'reconcile-pass', reasons: r.reasons, mode: r.mode, durationMs: r.durationMs, nodes }, 'reconciliation pass');
  for (const n of r.nodes) for (const e of n.errors) log.warn({ event: 'reconcile-error', node: n.node, error: e }, 'reconciliation error');
}
