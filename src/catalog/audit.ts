// The audit log (pgwarden.audit_log on the coordinator): every sign-in, every change
// through pgwarden. Sign-ins are buffered and written in batches, so that a burst of
// connections costs one INSERT, not one per connection. Nothing secret goes in: names,
// methods, addresses, outcomes and reason codes only.
import type pg from 'pg';
import type { Logger } from 'pino';

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

export async function insertAudit(db: Pick<pg.Pool, 'query'>, events: readonly AuditEvent[]): Promise<void> {
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

export class AuditWriter {
  private buffer: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  dropped = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  record(event: AuditEvent): void {
    if (this.buffer.length >= MAX_BUFFERED) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(event);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Writes what is buffered (also called on stop). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, MAX_BATCH);
      this.flushing = insertAudit(this.pool, batch).catch((e: unknown) => {
        this.log.warn({ event: 'audit-write-failed', error: (e as Error).message, events: batch.length }, 'could not write the audit log');
      });
      await this.flushing;
    }
  }
}
