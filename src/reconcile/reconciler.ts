// The propagation reconciler: converges every worker to the coordinator. Passes start
// on a NOTIFY from the coordinator's event trigger, when the digest of the shared
// catalogs (roles, memberships, role settings, database privileges) changes, on the
// control plane's trigger(), on
// a timer (every 30 s by default), and when a worker that was unreachable answers again
// (probed every second). One pass runs at a time; triggers during a pass ask for exactly
// one more. docs/propagation.md explains what is propagated and how.
import type { Logger } from 'pino';
import { coordinatorOf, type ClusterAdmin } from '../cluster/admin.js';
import { installNotifyTrigger, installReconcileSchema } from './schema.js';
import { managedDatabases } from '../catalog/databases.js';
import { withSession } from './session.js';
import { describeError } from '../util/errors.js';
import { CoordinatorListener } from './listener.js';
import { runPass, type Mode, type PassReport } from './pass.js';
import { WorkerProbes } from './probe.js';
import { PassScheduler } from './scheduler.js';
import { SyncStates, type NodeSyncState, type StateListener } from './state.js';

export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_PROBE_INTERVAL_MS = 1_000;
/** A propagated role gone from the coordinator keeps its objects on a worker this long
 * (the control plane reassigns them itself), then they go to the bootstrap superuser. */
export const DEFAULT_REASSIGN_GRACE_MS = 60_000;

export interface ReconcilerOptions {
  readonly admin: ClusterAdmin;
  readonly log: Logger;
  /** The periodic full pass (default 30 s). */
  readonly intervalMs?: number;
  /** How often workers are probed (default 1 s). */
  readonly probeIntervalMs?: number;
  /** See DEFAULT_REASSIGN_GRACE_MS. */
  readonly reassignGraceMs?: number;
}

export class Reconciler {
  private readonly states: SyncStates;
  private readonly scheduler: PassScheduler<PassReport>;
  private readonly probes: WorkerProbes;
  private readonly listeners: CoordinatorListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private last: PassReport | undefined;

  constructor(private readonly options: ReconcilerOptions) {
    const { admin, log } = options;
    this.states = new SyncStates(admin.adminNodes.filter((n) => n.kind === 'worker').map((n) => n.name));
    this.scheduler = new PassScheduler(async (request) => {
      const report = await runPass(
        { admin, log, states: this.states, reassignGraceMs: options.reassignGraceMs ?? DEFAULT_REASSIGN_GRACE_MS },
        request.targets,
        request.reasons,
      );
      this.last = report;
      return report;
    });
    this.probes = new WorkerProbes(admin, options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS, {
      down: (node, error) => {
        if (!this.states.isUnreachable(node)) log.warn({ event: 'worker-unreachable', node, error }, 'worker is unreachable');
        this.states.unreachable(node, error);
      },
      up: (node) => {
        if (!this.states.isUnreachable(node)) return;
        log.info({ event: 'worker-reachable', node }, 'worker is reachable again');
        this.states.reachable(node);
        this.trigger(`${node} is reachable again`, [node]);
      },
    });
  }

  /** Listens in `database` (default the admin connection's, which also watches the shared catalogs). */
  private listen(database?: string): void {
    const where = database ? ` in ${database}` : '';
    const listener = new CoordinatorListener(
      this.options.admin,
      {
        notified: (payload) => this.trigger(`coordinator${where}: ${payload || 'notification'}`),
        reconnected: () => this.trigger(`notification channel${where} reconnected`),
        lost: (error) =>
          this.options.log.warn({ event: 'reconcile-listen-lost', database, error }, `lost the reconciler notification connection${where}; reconnecting`),
      },
      database ? undefined : (this.options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS),
      database,
    );
    this.listeners.push(listener);
    listener.start();
  }

  /** Installs its schema, starts listening, probing and the periodic pass, and runs a first pass; resolves
   * when that pass has ended (pgwarden serves clients once the workers have caught up). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // Its tables and event trigger on the coordinator (idempotent), and the event trigger
    // in the other managed databases.
    const { admin, log } = this.options;
    const coordinator = coordinatorOf(admin);
    const others = await admin
      .withAdmin(coordinator, async (c) => {
        await installReconcileSchema(c);
        return (await managedDatabases(c)).slice(1);
      })
      .catch((e: unknown) => {
        log.error({ event: 'reconcile-schema-failed', error: describeError(e) }, "could not install the reconciler's schema on the coordinator");
        return [];
      });
    for (const db of others) {
      await withSession(admin, coordinator, installNotifyTrigger, db).catch((e: unknown) => {
        log.error({ event: 'reconcile-schema-failed', database: db, error: describeError(e) }, `could not install the reconciler's event trigger in ${db}`);
      });
    }
    this.listen();
    for (const db of others) this.listen(db);
    this.probes.start();
    this.timer = setInterval(() => this.trigger('periodic'), this.options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
    await this.scheduler.request('start').catch((e: unknown) => {
      this.options.log.error({ event: 'reconcile-crashed', error: describeError(e) }, 'reconciliation pass crashed');
    });
  }

  /** Stops everything and waits for a running pass to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.listeners.map((l) => l.close()), this.probes.close()]);
    await this.scheduler.whenIdle();
  }

  /**
   * Asks for a pass soon (the control plane calls this after changing roles; `nodes`
   * narrows it to some workers). Never throws; failures are logged and in status().
   */
  trigger(reason: string, nodes?: readonly string[]): void {
    if (this.stopped) return;
    this.scheduler.request(reason, nodes).catch((e: unknown) => {
      this.options.log.error({ event: 'reconcile-crashed', error: describeError(e) }, 'reconciliation pass crashed');
    });
  }

  /** Runs a full pass (after the one running, if any) and returns its report. */
  runPass(reason = 'requested'): Promise<PassReport> {
    return this.scheduler.request(reason);
  }

  /** Each worker's state, in the order of the cluster's nodes. */
  status(): NodeSyncState[] {
    return this.states.all();
  }

  /** Listens to state changes (unreachable, pending, in-sync); returns the unsubscribe. */
  onStateChange(listener: StateListener): () => void {
    return this.states.subscribe(listener);
  }

  /** The report of the last pass, if any. */
  get lastPass(): PassReport | undefined {
    return this.last;
  }

  /** 'citus' when the coordinator has the citus extension (known after the first pass). */
  get mode(): Mode | undefined {
    return this.last?.mode;
  }
}
