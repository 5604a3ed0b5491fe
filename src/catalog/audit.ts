// The audit log (pgwarden.audit_log on the coordinator): every sign-in, every change
// through pgwarden. Sign-ins are buffered and written in batches, so that a burst of
// connections costs one INSERT, not one per connection. Nothing secret goes in: names,
// methods, addresses, outcomes and reason codes only.
import type { CatalogDb } from './db.js';
import type { Logger } from 'pino';
import { isServerGoingAway } from '../util/errors.js';

export interface AuditEvent {
  kind: 'sign-in' | 'change';
  /** Who: the role signing in, or the API caller. */
  actor?: string | undefined;
  /** What: "sign-in", "role.add", "auth-method.set", ... */
  action: string;
  /** On what: a role name, a principal, a method. */
  target?: string | undefined;
  method?: string | undefined;
  clientAddr?: string | undefined;
  result: 'ok' | 'failed' | 'refused';
  /** A stable code (TOKEN_EXPIRED, wrong-password, ...). */
  reason?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export const FLUSH_INTERVAL_MS = 200;
/** After a failed write, the next try. */
const RETRY_MS = 1_000;
const MAX_BATCH = 500;
/** Bounds memory when the coordinator is unreachable: older events are dropped (and counted). */
const MAX_BUFFERED = 10_000;
/** Role names in startup packets may be up to 10 KB of anything: keep what is useful. */
const MAX_FIELD = 256;

const COLUMNS = ['kind', 'actor', 'action', 'target', 'method', 'client_addr', 'result', 'reason', 'details'] as const;

function clip(v: string | undefined): string | null {
  return v === undefined ? null : v.length > MAX_FIELD ? v.slice(0, MAX_FIELD) + '…' : v;
}

export function auditRow(e: AuditEvent): unknown[] {
  return [
    e.kind,
    clip(e.actor),
    e.action,
    clip(e.target),
    clip(e.method),
    clip(e.clientAddr),
    e.result,
    clip(e.reason),
    e.details ? JSON.stringify(e.details) : null,
  ];
}

export async function insertAudit(db: CatalogDb, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const values: unknown[] = [];
  const rows = events.map((e) => {
    const row = auditRow(e);
    const start = values.length;
    values.push(...row);
    return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`;
  });
  await db.query(`INSERT INTO pgwarden.audit_log (${COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`, values);
}

/** The coordinator could not take the write now (down, restarting, a standby during a
 * failover), as opposed to refusing this write (a PostgreSQL error of another class). */
function unreachable(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return isServerGoingAway(code) || code === '25006'; // 25006: read-only (a standby)
}

export class AuditWriter {
  private buffer: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  dropped = 0;

  constructor(
    private readonly pool: CatalogDb,
    private readonly log: Logger,
  ) {}

  record(event: AuditEvent): void {
    this.buffer.push(event);
    this.bound();
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Writes what is buffered. A batch that cannot be written (the coordinator down, or
   * failing over) is kept and tried again after RETRY_MS. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, MAX_BATCH);
      let failed = false;
      this.flushing = insertAudit(this.pool, batch).catch((e: unknown) => {
        if (!unreachable(e)) {
          this.log.warn({ event: 'audit-write-failed', error: (e as Error).message, events: batch.length }, 'could not write the audit log');
          return;
        }
        failed = true;
        this.buffer.unshift(...batch);
        this.bound();
        this.log.warn({ event: 'audit-write-failed', error: (e as Error).message, events: batch.length }, 'could not write the audit log; trying again');
      });
      await this.flushing;
      if (failed) {
        if (!this.closed) this.timer ??= setTimeout(() => void this.flush(), RETRY_MS).unref();
        return;
      }
    }
  }

  /** A last flush, at stop; no retries after it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Bounds memory while nothing can be written: the oldest events go (and are counted). */
  private bound(): void {
    const over = this.buffer.length - MAX_BUFFERED;
    if (over > 0) {
      this.buffer.splice(0, over);
      this.dropped += over;
    }
  }
}
