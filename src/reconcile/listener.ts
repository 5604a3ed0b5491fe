// LISTEN pgwarden_reconcile on the coordinator: the event trigger (schema.ts) sends a
// NOTIFY after each GRANT, REVOKE, ALTER DEFAULT PRIVILEGES or object creation, which
// PostgreSQL delivers when the transaction commits. A lost connection is re-opened; as
// notifications may have been missed meanwhile, a reconnection asks for a pass too.
// https://www.postgresql.org/docs/current/sql-notify.html
import type pg from 'pg';
import { coordinatorOf, type ClusterAdmin } from '../control/cluster-admin.js';
import { describeError } from '../util/errors.js';
import { quoteIdent } from '../util/sql.js';
import { pause } from './probe.js';
import { RECONCILE_CHANNEL } from './schema.js';

const RECONNECT_DELAY_MS = 1_000;

export interface ListenerEvents {
  notified(payload: string): void;
  /** Listening (again) after a lost connection. */
  reconnected(): void;
  lost(error: string): void;
}

export class CoordinatorListener {
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly admin: ClusterAdmin,
    private readonly events: ListenerEvents,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    let first = true;
    while (!signal.aborted) {
      try {
        await this.admin.withAdmin(coordinatorOf(this.admin), async (c) => {
          c.on('notification', (n) => this.events.notified(n.payload ?? ''));
          await c.query(`LISTEN ${quoteIdent(RECONCILE_CHANNEL)}`);
          if (!first) this.events.reconnected();
          first = false;
          await untilClosed(c, signal);
        });
        if (!signal.aborted) this.events.lost('the connection closed');
      } catch (e) {
        if (!signal.aborted) this.events.lost(describeError(e));
      }
      first = false;
      await pause(RECONNECT_DELAY_MS, signal);
    }
  }
}

/** Resolves when the connection ends or `signal` aborts. */
function untilClosed(c: pg.Client, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    c.once('end', done);
    c.once('error', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
