// The reconciler's public surface.
export { Reconciler, DEFAULT_INTERVAL_MS, DEFAULT_PROBE_INTERVAL_MS, DEFAULT_REASSIGN_GRACE_MS, type ReconcilerOptions } from './reconciler.js';
export { installReconcileSchema, RECONCILE_CHANNEL } from './schema.js';
export type { NodeSyncState, SyncState } from './state.js';
export type { PassReport, NodeReport, Mode } from './pass.js';
export type { DriftItem } from './worker-pass.js';
