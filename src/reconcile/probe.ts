// Watches each worker's reachability: one administrative connection per worker that
// answers SELECT 1 every probe interval. When it fails, the worker is unreachable; when
// a new connection succeeds to a worker known to be unreachable, it has come back and
// is reconciled at once. Holding the connection open costs one backend per worker
// instead of a SCRAM sign-in per worker per second.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminNode, ClusterAdmin } from '../cluster/admin.js';
import { describeError } from '../util/errors.js';

/** A worker that does not answer within this time is unreachable. */
const PROBE_TIMEOUT_MS = 3_000;

export interface ProbeEvents {
  /** The probe could not reach the worker. */
  down(node: string, error: string): void;
  /** The probe reached the worker (on every new connection). */
  up(node: string): void;
}

export class WorkerProbes {
  private readonly stop = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly admin: ClusterAdmin,
    private readonly intervalMs: number,
    private readonly events: ProbeEvents,
  ) {}

  start(): void {
    for (const node of this.admin.adminNodes.filter((n) => n.kind === 'worker')) this.loops.push(this.watch(node));
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all(this.loops);
  }

  private async watch(node: AdminNode): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      let connected = false;
      try {
        // How long connecting may take is the ClusterAdmin's connection setting.
        await this.admin.withAdmin(node, async (c) => {
          connected = true;
          this.events.up(node.name);
          while (!signal.aborted) {
            await withTimeout(c.query('SELECT 1'), PROBE_TIMEOUT_MS);
            await pause(this.intervalMs, signal);
          }
        });
      } catch (e) {
        if (signal.aborted) return;
        // A lost connection is only news once a new one fails too: a worker that
        // restarted between two probes is back already, not down.
        if (connected) continue;
        this.events.down(node.name, describeError(e));
      }
      await pause(this.intervalMs, signal);
    }
  }
}

/** Waits `ms`, or less if `signal` aborts; never throws. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal, ref: false }).catch(() => undefined);
}

/** Rejects if `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
