// Sign-ins that need a new PostgreSQL session take turns, in the order they came
// (PgBouncer queues its clients the same way, up to query_wait_timeout):
// - at most `concurrency` sessions are being opened at once, so that a burst of sign-ins
//   does not make PostgreSQL accept, fork and start hundreds of backends at once on the
//   cores it shares with them (each start then takes seconds, and all of them finish late);
// - when PostgreSQL refuses a session for lack of room (53300: max_connections, a role's or
//   a database's CONNECTION LIMIT) or is not accepting sessions yet (57P03), the sign-ins of
//   that scope wait for room: the first of them tries again when a server session ends or
//   after a short back-off (doubling, at most 1 s), the others keep their places behind it.
//   Sign-ins of other scopes go on meanwhile.
// A turn that is still waiting at its deadline ends with an OverloadedError: 53300 when
// PostgreSQL was full, 57P03 when it was slow or not accepting sessions.
import { PgwardenError } from '../util/errors.js';

/** What a refusal was about: the whole cluster, one role or one database. */
export type RoomScope = string;

const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 1_000;

interface Blocked {
  readonly sqlstate: string;
  readonly reason: string;
  backoffMs: number;
  /** When the first waiter of the scope may try again. */
  dueAt: number;
  /** A waiter of the scope is trying now. */
  probing: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** One sign-in's place in line. */
export class Turn {
  granted = false;
  /** Set once the turn has left the queue for good. */
  done = false;
  probe: RoomScope | undefined;
  wake: (() => void) | undefined;

  constructor(
    readonly seq: number,
    readonly scopes: readonly RoomScope[],
    readonly deadline: number,
  ) {}
}

export class OpeningQueue {
  private opening = 0;
  private seq = 0;
  /** Turns waiting for a slot, in the order they came (a refused one keeps its place). */
  private readonly line: Turn[] = [];
  private readonly blocked = new Map<RoomScope, Blocked>();

  constructor(readonly concurrency: number) {}

  /** For a server session's 'close' event: room for another. */
  readonly onSessionClosed = (): void => this.roomFreed();

  /** Sign-ins waiting for their turn now. */
  get waiting(): number {
    return this.line.length;
  }

  /** Sessions being opened now. */
  get openingCount(): number {
    return this.opening;
  }

  enter(scopes: readonly RoomScope[], deadline: number): Turn {
    return new Turn(this.seq++, scopes, deadline);
  }

  /** Resolves once `turn` may open a session (or try a kept one); rejects at its deadline
   * with an OverloadedError (saying it waited `waitedMs`), or with `gone`'s reason once
   * the client has left. */
  async wait(turn: Turn, gone: AbortSignal, waitedMs: number): Promise<void> {
    if (turn.granted) throw new Error('a turn waits once before it is released');
    if (gone.aborted) throw gone.reason;
    this.insert(turn);
    this.dispatch();
    if (turn.granted) return;
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        gone.removeEventListener('abort', onGone);
        turn.wake = undefined;
      };
      const leave = (e: unknown): void => {
        cleanup();
        this.remove(turn);
        reject(e);
      };
      const onGone = (): void => leave(gone.reason);
      const timer = setTimeout(() => leave(this.overloaded(turn, waitedMs)), Math.max(0, turn.deadline - Date.now()));
      gone.addEventListener('abort', onGone);
      if (gone.aborted) return onGone();
      turn.wake = () => {
        cleanup();
        resolve();
      };
    });
  }

  /** The granted turn opened a session, or took a kept one: its scopes have room. */
  succeeded(turn: Turn): void {
    this.release(turn);
    for (const scope of turn.scopes) this.unblock(scope);
    this.dispatch();
  }

  /** The granted turn was refused by PostgreSQL for lack of room in `scope` (53300) or
   * because it does not accept sessions now (57P03): the turn waits again, in its place. */
  refused(turn: Turn, scope: RoomScope, sqlstate: string, reason: string): void {
    this.release(turn);
    const was = this.blocked.get(scope);
    if (was?.timer) clearTimeout(was.timer);
    const backoffMs = was ? Math.min(BACKOFF_MAX_MS, was.backoffMs * 2) : BACKOFF_FIRST_MS;
    const b: Blocked = { sqlstate, reason, backoffMs, dueAt: Date.now() + backoffMs, probing: false, timer: undefined };
    this.armBackoff(b, backoffMs);
    this.blocked.set(scope, b);
    this.dispatch();
  }

  private armBackoff(b: Blocked, ms: number): void {
    if (b.timer) clearTimeout(b.timer);
    b.timer = setTimeout(() => this.dispatch(), ms).unref();
  }

  /** The granted turn failed otherwise (the caller gives up), or its client left. */
  abandoned(turn: Turn): void {
    this.release(turn);
    this.dispatch();
  }

  /** A server session ended or became idle: the first waiter of every full scope tries again. */
  roomFreed(): void {
    if (this.blocked.size === 0) return;
    const now = Date.now();
    for (const b of this.blocked.values()) b.dueAt = Math.min(b.dueAt, now);
    this.dispatch();
  }

  /** Why `turn` waited in vain, for its error message. */
  overloaded(turn: Turn, waitedMs: number): OverloadedError {
    const full = turn.scopes.map((s) => this.blocked.get(s)).find((b) => b !== undefined);
    const why = full?.sqlstate === '53300' ? 'full' : full ? 'not-accepting' : 'slow';
    return new OverloadedError(why, waitedMs, full?.reason, this.line.length);
  }

  private release(turn: Turn): void {
    if (turn.granted) {
      turn.granted = false;
      this.opening--;
    }
    if (turn.probe) {
      const b = this.blocked.get(turn.probe);
      if (b) b.probing = false;
      turn.probe = undefined;
    }
    this.remove(turn);
  }

  private unblock(scope: RoomScope): void {
    const b = this.blocked.get(scope);
    if (!b) return;
    if (b.timer) clearTimeout(b.timer);
    this.blocked.delete(scope);
  }

  private insert(turn: Turn): void {
    let i = this.line.length;
    while (i > 0 && this.line[i - 1]!.seq > turn.seq) i--;
    this.line.splice(i, 0, turn);
  }

  private remove(turn: Turn): void {
    const i = this.line.indexOf(turn);
    if (i >= 0) this.line.splice(i, 1);
  }

  /** Grants turns in order while slots are free; a turn of a full scope goes only as that
   * scope's one probe, once the scope is due (later turns of other scopes may pass it). */
  private dispatch(): void {
    const now = Date.now();
    for (let i = 0; i < this.line.length && this.opening < this.concurrency;) {
      const turn = this.line[i]!;
      const full = turn.scopes.filter((s) => this.blocked.has(s));
      if (full.length > 0) {
        const b = this.blocked.get(full[0]!)!;
        // Every full scope of the turn must let it through; it probes the first.
        if (full.some((s) => this.blocked.get(s)!.probing) || b.dueAt > now) {
          // Not due by the wall clock though its timer fired (timers and Date.now() may
          // disagree by a millisecond or two): look again when it is.
          if (!b.probing && b.dueAt > now) this.armBackoff(b, b.dueAt - now);
          i++;
          continue;
        }
        b.probing = true;
        turn.probe = full[0];
      }
      this.line.splice(i, 1);
      turn.granted = true;
      this.opening++;
      const wake = turn.wake;
      turn.wake = undefined;
      wake?.();
    }
  }
}

/** A sign-in waited past its deadline for a server session. */
export class OverloadedError extends PgwardenError {
  constructor(
    readonly why: 'full' | 'not-accepting' | 'slow',
    waitedMs: number,
    postgresSaid: string | undefined,
    waiting: number,
  ) {
    const waited = `${Math.round(waitedMs / 1000)} s`;
    const what =
      why === 'full'
        ? `it had no room for another session for ${waited}`
        : why === 'not-accepting'
          ? `it did not accept a new session for ${waited}`
          : `it did not start a new session within ${waited}`;
    super(why === 'full' ? 'CLUSTER_FULL' : 'CLUSTER_NOT_ACCEPTING', `the database cluster is overloaded: ${what}`, {
      detail:
        (postgresSaid ? `PostgreSQL said: ${postgresSaid}. ` : '') +
        `${waiting} other sign-in${waiting === 1 ? ' was' : 's were'} waiting. Try again later. The operator can raise ` +
        (why === 'full' ? "the coordinator's max_connections (or the role's CONNECTION LIMIT), " : '') +
        'pgwarden up --server-wait-timeout, or move clients to the transaction pool (--pool-port).',
    });
  }
}
