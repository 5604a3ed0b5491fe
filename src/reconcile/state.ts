// Each worker's synchronisation state, as status() reports it and as listeners see it
// change: in-sync, pending (with what is pending), unreachable (since when).
import type { DriftItem, WorkerResult } from './worker-pass.js';

export type SyncState = 'in-sync' | 'pending' | 'unreachable';

export interface NodeSyncState {
  readonly node: string;
  readonly state: SyncState;
  /** pending: what is left to do, e.g. "3 roles, 12 privileges". */
  readonly pending?: string;
  /** unreachable: since when (ISO 8601). */
  readonly unreachableSince?: string;
  /** When a pass last finished on this worker (ISO 8601). */
  readonly lastPassAt?: string;
  /** When the worker was last found in sync (ISO 8601). */
  readonly lastInSyncAt?: string;
  /** What the last pass found that the reconciler leaves alone (roles only on the worker, ...). */
  readonly drift: readonly DriftItem[];
  /** Statements that failed in the last pass (secret-free). */
  readonly errors: readonly string[];
}

export type StateListener = (state: NodeSyncState) => void;

/** Pending until the first pass has looked. */
const NOT_CHECKED = 'not checked yet';
const BACK = 'not checked since it came back';

export class SyncStates {
  private readonly states = new Map<string, NodeSyncState>();
  private readonly listeners = new Set<StateListener>();

  constructor(workers: readonly string[]) {
    for (const node of workers) this.states.set(node, { node, state: 'pending', pending: NOT_CHECKED, drift: [], errors: [] });
  }

  all(): NodeSyncState[] {
    return [...this.states.values()];
  }

  get(node: string): NodeSyncState | undefined {
    return this.states.get(node);
  }

  isUnreachable(node: string): boolean {
    return this.states.get(node)?.state === 'unreachable';
  }

  subscribe(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  unreachable(node: string, error: string, at = new Date()): void {
    const s = this.states.get(node);
    if (!s || s.state === 'unreachable') return;
    this.set({ node, state: 'unreachable', unreachableSince: at.toISOString(), ...this.history(s), drift: s.drift, errors: [error] });
  }

  /** The worker answers again: pending until a pass has looked at it. */
  reachable(node: string): void {
    const s = this.states.get(node);
    if (!s || s.state !== 'unreachable') return;
    this.set({ node, state: 'pending', pending: BACK, ...this.history(s), drift: s.drift, errors: [] });
  }

  /** A pass found work to do on the worker and is about to do it. */
  pending(node: string, summary: string): void {
    const s = this.states.get(node);
    if (!s) return;
    this.set({ node, state: 'pending', pending: summary, ...this.history(s), drift: s.drift, errors: s.errors });
  }

  /** A pass finished on the worker. */
  finished(result: WorkerResult): void {
    const s = this.states.get(result.node);
    if (!s) return;
    const at = new Date().toISOString();
    const inSync = result.remaining === '';
    this.set({
      node: result.node,
      state: inSync ? 'in-sync' : 'pending',
      ...(inSync ? {} : { pending: result.remaining }),
      lastPassAt: at,
      ...(inSync ? { lastInSyncAt: at } : s.lastInSyncAt ? { lastInSyncAt: s.lastInSyncAt } : {}),
      drift: result.drift,
      errors: result.errors,
    });
  }

  private history(s: NodeSyncState): Pick<NodeSyncState, 'lastPassAt' | 'lastInSyncAt'> {
    return { ...(s.lastPassAt ? { lastPassAt: s.lastPassAt } : {}), ...(s.lastInSyncAt ? { lastInSyncAt: s.lastInSyncAt } : {}) };
  }

  private set(s: NodeSyncState): void {
    this.states.set(s.node, s);
    for (const l of this.listeners) {
      try {
        l(s);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
