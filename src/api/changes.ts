// What follows every change made through the API: an audit entry (who, what, on what),
// and a reconciler pass that checks the workers (and catches up those the change could
// not reach).
import type { FastifyRequest } from 'fastify';
import type { NodeOutcome } from '../cluster/admin.js';
import type { ApiDeps } from './context.js';

export function changed(
  deps: ApiDeps,
  req: FastifyRequest,
  change: { action: string; target: string; details?: Record<string, unknown> | undefined },
  workers: readonly NodeOutcome[] = [],
): void {
  const failed = workers.filter((w) => !w.ok).map((w) => w.node);
  deps.audit.record({
    kind: 'change',
    actor: req.caller.name,
    action: change.action,
    target: change.target,
    result: 'ok',
    details: failed.length ? { ...change.details, notAppliedOn: failed } : change.details,
  });
  deps.reconciler?.trigger(change.action);
}
