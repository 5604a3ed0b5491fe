// One pass at a time. Requests that arrive while a pass runs are merged into exactly one
// more pass (their reasons and target workers united), so a burst of GRANTs costs two
// passes, not one per GRANT. Every requester gets the report of the pass that served it.

export interface PassRequest {
  readonly reasons: string[];
  /** Workers to reconcile; 'all' for every worker. */
  readonly targets: Set<string> | 'all';
}

interface Queued<R> {
  reasons: string[];
  targets: Set<string> | 'all';
  readonly waiters: Array<{ resolve: (r: R) => void; reject: (e: unknown) => void }>;
}

export class PassScheduler<R> {
  private running = false;
  private queued: Queued<R> | undefined;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;

  constructor(private readonly run: (request: PassRequest) => Promise<R>) {}

  /** Asks for a pass; resolves with the report of the pass that served the request. */
  request(reason: string, targets?: Iterable<string>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const q = (this.queued ??= { reasons: [], targets: new Set<string>(), waiters: [] });
      if (!q.reasons.includes(reason)) q.reasons.push(reason);
      if (targets === undefined) q.targets = 'all';
      else if (q.targets !== 'all') for (const t of targets) q.targets.add(t);
      q.waiters.push({ resolve, reject });
      if (!this.running) void this.loop();
    });
  }

  /** Resolves when no pass is running or queued. */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  get busy(): boolean {
    return this.running;
  }

  private async loop(): Promise<void> {
    this.running = true;
    this.idle = new Promise((r) => (this.markIdle = r));
    try {
      while (this.queued) {
        const job = this.queued;
        this.queued = undefined;
        try {
          const report = await this.run(job);
          for (const w of job.waiters) w.resolve(report);
        } catch (e) {
          for (const w of job.waiters) w.reject(e);
        }
      }
    } finally {
      this.running = false;
      this.markIdle();
    }
  }
}
