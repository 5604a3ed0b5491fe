// Idle PostgreSQL sessions kept for the next client of the same role, database and
// startup parameters (PgBouncer's session mode): a new client then costs PostgreSQL no
// fork, no backend start-up and no sign-in. A session is kept only after its client
// ended cleanly while it was idle, and only once `DISCARD ALL` has returned it to the
// state of a new session; it is closed after `idleTimeoutMs` unused or `lifetimeMs` in
// all, when the role changes, and when the pool is full (the oldest goes first).
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { terminate } from '../protocol/messages.js';
import { resetSession, type BackendSession } from './backend.js';
import { DEFAULTS } from '../util/defaults.js';

export interface ServerPoolOptions {
  /** Idle sessions kept in all (0: none are kept). */
  maxIdle: number;
  idleTimeoutMs: number;
  lifetimeMs: number;
  /** How long the reset may take. */
  resetTimeoutMs: number;
}

const EMPTY = Buffer.alloc(0);

export const DEFAULT_SERVER_POOL: ServerPoolOptions = {
  maxIdle: DEFAULTS.serverPool,
  idleTimeoutMs: DEFAULTS.serverIdleTimeoutSeconds * 1000,
  lifetimeMs: 3_600_000,
  resetTimeoutMs: 5_000,
};

/** A signed-in session that may serve another client. */
export interface PooledSession extends BackendSession {
  role: string;
  /** The role's password verifier when the session signed in: a session is handed on
   * only while the role's verifier is still this one. */
  verifier: string;
  bornAt: number;
}

/** What ends a parked session's rest: anything it says, and its end. */
const PARKED_EVENTS = ['data', 'end', 'close', 'error'] as const;

interface Parked {
  session: PooledSession;
  key: string;
  timer: NodeJS.Timeout;
  onGone: () => void;
}

/** The startup parameters that make sessions interchangeable, as one string. */
export function poolKey(params: ReadonlyMap<string, string>): string {
  return [...params]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}\0${v}`)
    .join('\0');
}

export class ServerPool {
  private readonly byKey = new Map<string, Parked[]>();
  /** Every parked session, oldest first (a Set keeps insertion order). */
  private readonly all = new Set<Parked>();
  private closed = false;
  reused = 0;
  /** Sessions being reset before they are kept (tests wait for 0). */
  resetting = 0;
  /** Called when a session has been kept (a sign-in waiting for room may take it). */
  onKept: (() => void) | undefined;

  constructor(
    private readonly options: ServerPoolOptions,
    private readonly log: Logger,
  ) {}

  get idleCount(): number {
    return this.all.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Takes an idle session for `key`, the most recently parked first (warm caches). */
  take(key: string): PooledSession | undefined {
    for (;;) {
      const parked = this.byKey.get(key)?.at(-1);
      if (!parked) return undefined;
      this.unpark(parked);
      const { socket } = parked.session;
      // Until the pump takes it over, an error closes it (and is not thrown). One listener
      // per socket however often it is taken: the same function, put on once.
      if (!socket.listeners('error').includes(destroyOnError)) socket.on('error', destroyOnError);
      // Gone since (its close event not yet seen): the next one.
      if (!socket.destroyed && socket.writable) return parked.session;
      closeSession(parked.session.socket);
    }
  }

  /** Resets a session whose client has ended cleanly and keeps it, or closes it. Its
   * startup notices and trailing bytes were its first client's: they are not kept. */
  async release(key: string, session: PooledSession): Promise<void> {
    const { socket } = session;
    if (this.closed || this.options.maxIdle === 0 || Date.now() - session.bornAt > this.options.lifetimeMs) return closeSession(socket);
    this.resetting++;
    try {
      await resetSession(socket, session.parameters, this.options.resetTimeoutMs);
    } catch (e) {
      this.log.debug({ event: 'server-reset-failed', role: session.role, error: (e as Error).message }, 'session not kept');
      return closeSession(socket);
    } finally {
      this.resetting--;
    }
    if (this.closed) return closeSession(socket);
    if (this.all.size >= this.options.maxIdle) this.closeParked(this.all.values().next().value!);
    const parked: Parked = {
      session: { ...session, notices: EMPTY, trailing: EMPTY },
      key,
      timer: setTimeout(() => this.closeParked(parked), this.options.idleTimeoutMs).unref(),
      // An idle session says nothing unasked unless it is going away (a FATAL error
      // before PostgreSQL closes it): whatever arrives, it is not kept.
      onGone: () => this.closeParked(parked),
    };
    for (const event of PARKED_EVENTS) socket.on(event, parked.onGone);
    socket.resume();
    let list = this.byKey.get(key);
    if (!list) this.byKey.set(key, (list = []));
    list.push(parked);
    this.all.add(parked);
    this.onKept?.();
  }

  /** Closes the idle sessions of one role, or all (after a change of roles or secrets). */
  forget(role?: string): void {
    for (const parked of [...this.all]) if (role === undefined || parked.session.role === role) this.closeParked(parked);
  }

  close(): void {
    this.closed = true;
    this.forget();
  }

  private unpark(parked: Parked): void {
    const { socket } = parked.session;
    clearTimeout(parked.timer);
    socket.pause();
    for (const event of PARKED_EVENTS) socket.off(event, parked.onGone);
    this.all.delete(parked);
    const list = this.byKey.get(parked.key);
    if (list) {
      const i = list.indexOf(parked);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(parked.key);
    }
  }

  private closeParked(parked: Parked): void {
    if (!this.all.has(parked)) return;
    this.unpark(parked);
    closeSession(parked.session.socket);
  }
}

function destroyOnError(this: Socket): void {
  this.destroy();
}

/** Ends a session politely (Terminate), then for good. */
export function closeSession(socket: Socket): void {
  socket.on('error', () => undefined);
  if (!socket.destroyed && !socket.writableEnded) socket.end(terminate());
  setTimeout(() => socket.destroy(), 1_000).unref();
}
